"""The stderr progress bar: what it draws, when it is shown, and its totals in the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitreg.cli import cli
from gitreg.cli.progress import THRESHOLD, Bar, enabled, tree_size

MB = 1_000_000


def bar(total: int) -> tuple[Bar, io.StringIO]:
    out = io.StringIO()
    return Bar("upload m", total, out), out


def last(out: io.StringIO) -> str:
    """The bar as a terminal shows it last: the text after the final carriage return."""
    return out.getvalue().rstrip("\n").split("\r")[-1]


def test_bar_draws_label_percent_and_size_with_tqdm() -> None:
    b, out = bar(10 * MB)
    b(5 * MB)
    assert last(out).startswith("upload m:  50%|") and "| 5.00M/10.0M [" in last(out)
    b(5 * MB)
    b.finish(ok=True)
    assert last(out).startswith("upload m: 100%|") and "| 10.0M/10.0M [" in last(out)
    assert out.getvalue().endswith("B/s]\n"), "one line, ended once, with the rate"


def test_tqdm_is_imported_only_when_a_transfer_passes_the_threshold() -> None:
    code = (
        "import io, sys\n"
        "from gitreg.cli.progress import Bar\n"
        "b = Bar('x', 10, io.StringIO()); b(10); b.finish(True)\n"
        "assert 'tqdm' not in sys.modules, 'a small transfer loaded tqdm'\n"
        f"b = Bar('x', {THRESHOLD}, io.StringIO()); b(1)\n"
        "assert 'tqdm' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ)


def test_bar_completes_a_short_count_only_on_success() -> None:
    b, out = bar(10 * MB)  # e.g. an upload the store already had: no bytes sent
    b(5 * MB)
    b.finish(ok=True)
    assert last(out).startswith("upload m: 100%|")
    b, out = bar(10 * MB)
    b(5 * MB)
    b.finish(ok=False)
    assert last(out).startswith("upload m:  50%|"), "a failure is left as far as it got"


def test_small_transfers_and_unknown_totals() -> None:
    b, out = bar(THRESHOLD - 1)
    b(THRESHOLD - 1)
    b.finish(ok=True)
    assert out.getvalue() == "", "below the threshold nothing is drawn, not even a newline"
    b, out = bar(0)
    b(2 * MB)
    assert out.getvalue() == "", "an unknown total waits for the count to pass the threshold"
    b(6 * MB)
    b.finish(ok=True)
    assert last(out).startswith("upload m: 8.00MB [") and "%" not in last(out)


def test_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("GITREG_PROGRESS", raising=False)
    assert enabled(False, Tty()) and not enabled(True, Tty()) and not enabled(False, io.StringIO())
    monkeypatch.setenv("GITREG_PROGRESS", "always")
    assert enabled(False, io.StringIO()) and not enabled(True, io.StringIO())
    monkeypatch.setenv("GITREG_PROGRESS", "never")
    assert not enabled(False, Tty())


def test_tree_size_does_not_follow_links(tmp_path: Path) -> None:
    (tmp_path / "d/sub").mkdir(parents=True)
    (tmp_path / "d/a").write_bytes(b"x" * 10)
    (tmp_path / "d/sub/b").write_bytes(b"x" * 5)
    (tmp_path / "big").write_bytes(b"x" * 1000)
    (tmp_path / "d/link").symlink_to(tmp_path / "big")
    assert tree_size(str(tmp_path / "d")) == 15
    assert tree_size(str(tmp_path / "d/a")) == 10
    assert tree_size(str(tmp_path / "nope")) == 0


def test_cli_register_and_download_totals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """file:// store: the bar counts hash + copy (2 x size) on register, size on download."""
    monkeypatch.setenv("GITREG_PROGRESS", "always")
    repo = tmp_path / "reg"
    assert CliRunner().invoke(cli, ["init", str(repo)]).exit_code == 0
    monkeypatch.setenv("GITREG_REPO", str(repo))
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(5 * MB))
    result = CliRunner().invoke(cli, ["register", "m", str(model)])
    assert result.exit_code == 0, result.output
    assert result.stderr.rstrip().split("\r")[-1].startswith("register m: 100%|")
    assert "| 10.0M/10.0M [" in result.stderr
    result = CliRunner().invoke(cli, ["register", "m", str(model), "--quiet"])
    assert result.exit_code == 0 and result.stderr == ""
    result = CliRunner().invoke(cli, ["download", "models:/m/1", str(tmp_path / "out.bin")])
    assert result.exit_code == 0, result.output
    assert result.stderr.rstrip().split("\r")[-1].startswith("download out.bin: 100%|")
    assert "| 5.00M/5.00M [" in result.stderr
    result = CliRunner().invoke(cli, ["verify", "models:/m/2"])
    assert result.exit_code == 0 and "verify m v2: 100%|" in result.stderr
    monkeypatch.setenv("GITREG_PROGRESS", "auto")  # CliRunner's stderr is not a terminal
    result = CliRunner().invoke(cli, ["verify", "--all"])
    assert result.exit_code == 0 and result.stderr == ""
