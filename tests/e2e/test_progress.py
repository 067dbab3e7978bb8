"""The stderr progress bar: what it draws, when it is shown, and its totals in the CLI."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitreg.cli import cli
from gitreg.cli.progress import THRESHOLD, Bar, enabled, tree_size

MB = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def bar(total: int) -> tuple[Bar, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return Bar("upload m", total, out, clock=clock), out, clock


def test_bar_draws_percent_size_and_rate() -> None:
    b, out, clock = bar(10 * MB)
    clock.now = 1.0
    b(5 * MB)
    assert out.getvalue() == "\rupload m   50%  5.0 MB / 10.0 MB  5.0 MB/s"
    clock.now = 1.05  # redraws are throttled
    b(MB)
    assert out.getvalue().count("\r") == 1
    clock.now = 2.0
    b(4 * MB)
    b.finish(ok=True)
    assert out.getvalue().endswith("\rupload m  100%  10.0 MB / 10.0 MB  5.0 MB/s\n")


def test_bar_completes_a_short_count_only_on_success() -> None:
    b, out, clock = bar(10 * MB)  # e.g. an upload the store already had: no bytes sent
    clock.now = 1.0
    b(5 * MB)
    b.finish(ok=True)
    assert "100%" in out.getvalue().split("\r")[-1]
    b, out, clock = bar(10 * MB)
    clock.now = 1.0
    b(5 * MB)
    b.finish(ok=False)
    assert out.getvalue().split("\r")[-1].startswith("upload m   50%")


def test_small_transfers_and_unknown_totals() -> None:
    b, out, clock = bar(THRESHOLD - 1)
    clock.now = 1.0
    b(THRESHOLD - 1)
    b.finish(ok=True)
    assert out.getvalue() == "", "below the threshold nothing is drawn, not even a newline"
    b, out, clock = bar(0)
    clock.now = 2.0
    b(8 * MB)
    assert out.getvalue() == "\rupload m  8.0 MB  4.0 MB/s"


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
    assert result.stderr.split("\r")[-1].startswith("register m  100%  10.0 MB / 10.0 MB")
    result = CliRunner().invoke(cli, ["register", "m", str(model), "--quiet"])
    assert result.exit_code == 0 and result.stderr == ""
    result = CliRunner().invoke(cli, ["download", "models:/m/1", str(tmp_path / "out.bin")])
    assert result.exit_code == 0, result.output
    assert result.stderr.split("\r")[-1].startswith("download out.bin  100%  5.0 MB / 5.0 MB")
    result = CliRunner().invoke(cli, ["verify", "models:/m/2"])
    assert result.exit_code == 0 and "verify m v2  100%  5.0 MB / 5.0 MB" in result.stderr
    monkeypatch.setenv("GITREG_PROGRESS", "auto")  # CliRunner's stderr is not a terminal
    result = CliRunner().invoke(cli, ["verify", "--all"])
    assert result.exit_code == 0 and result.stderr == ""
