"""The CLI: click's runner for every command and refusal, a real subprocess end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import git

from gitreg.cli import cli


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "reg"
    result = CliRunner().invoke(cli, ["init", str(path)])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("GITREG_REPO", str(path))
    return path


@pytest.fixture
def model(tmp_path: Path) -> Path:
    p = tmp_path / "model.bin"
    p.write_bytes(os.urandom(4096))
    return p


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def error(code: int, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.stderr


def test_register_show_list_resolve(repo: Path, model: Path) -> None:
    assert (
        ok(
            "register",
            "fraud",
            str(model),
            "-m",
            "auc=0.91",
            "-p",
            "lr=0.1",
            "-t",
            "team=risk",
            "--run-id",
            "r1",
        )
        == "Registered fraud version 1\n"
    )
    data = json.loads(ok("register", "fraud", str(model), "--json"))
    assert data["version"] == 2 and data["artifact"]["size"] == 4096
    assert ok("transition", "fraud", "1", "Staging") == "fraud v1: None -> Staging\n"
    assert ok("alias", "set", "fraud", "champion", "1") == "fraud@champion -> v1\n"
    out = ok("list")
    assert out.splitlines()[0].split() == ["NAME", "VERSIONS", "STAGES", "ALIASES", "DESCRIPTION"]
    assert "Staging: v1" in out and "champion=v1" in out
    assert json.loads(ok("list", "--json"))[0]["name"] == "fraud"
    shown = ok("show", "fraud", "1")
    assert "metric auc" in shown and "lineage run_id  r1" in shown
    assert json.loads(ok("show", "fraud", "--json"))["versions"][0]["aliases"] == ["champion"]
    resolved = json.loads(ok("resolve", "models:/fraud@champion", "--json"))
    assert resolved["aliases"] == ["champion"]
    uri = ok("resolve", "models:/fraud@champion").strip()
    assert (
        uri.startswith("file://")
        and uri == json.loads(ok("resolve", "models:/fraud/Staging", "--json"))["artifact"]["uri"]
    )
    found = json.loads(ok("search", "metrics.auc > 0.9 OR version_number = 2", "--json"))
    assert [v["version"] for v in found] == [2, 1]
    assert "fraud" in ok("search", "--models", "name = 'fraud'")


def test_edits_and_delete(repo: Path, model: Path) -> None:
    ok("register", "m", str(model))
    ok("register", "m", str(model))
    ok("tag", "set", "m", "owner=alice")
    ok("tag", "set", "m", "--version", "2", "ok=yes")
    ok("tag", "delete", "m", "owner")
    ok("describe", "m", "--version", "1", "First *try*.")
    assert json.loads(ok("show", "m", "1", "--json"))["description"] == "First *try*."
    ok("alias", "set", "m", "challenger", "2")
    ok("alias", "delete", "m", "challenger")
    ok("rename", "m", "n")
    assert "needs --yes" in error(2, "delete", "n", "--version", "1")
    ok("delete", "n", "--version", "1", "--yes")
    assert [v["version"] for v in json.loads(ok("show", "n", "--json"))["versions"]] == [2]
    ok("delete", "n", "--yes")
    assert json.loads(ok("list", "--json")) == []
    log = git(repo, "log", "--format=%s").splitlines()
    assert log[:4] == [
        "delete n",
        "delete n v1",
        "rename m -> n",
        "m: delete alias challenger (was v2)",
    ]
    assert git(repo, "status", "--porcelain") == ""


def test_download_verifies(repo: Path, model: Path, tmp_path: Path) -> None:
    ok("register", "m", str(model))
    dest = tmp_path / "out.bin"
    assert "Downloaded m v1" in ok("download", "models:/m/1", str(dest))
    assert dest.read_bytes() == model.read_bytes()
    stored = Path(ok("resolve", "models:/m/1").strip().removeprefix("file://"))
    data = bytearray(stored.read_bytes())
    data[0] ^= 1
    stored.chmod(0o644)
    stored.write_bytes(bytes(data))
    dest2 = tmp_path / "out2.bin"
    # the cache still holds the verified bytes (file:// stores are cached too): ask the store
    err = error(1, "download", "models:/m/1", str(dest2), "--no-cache")
    assert "expected sha256:" in err and not dest2.exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["register", "a/b", "x"], 2, "invalid model name 'a/b'"),
        (["register", "m", "/no/such/file"], 1, "no such file or folder: /no/such/file"),
        (["register", "m", "MODEL", "-m", "auc=high"], 2, "'high' is not a number"),
        (["register", "m", "MODEL", "-t", "novalue"], 2, "must look like KEY=VALUE"),
        (["show", "nope"], 1, "no registered model named 'nope'"),
        (["show", "m", "7"], 1, "m has no version 7"),
        (["show", "m", "x"], 2, "invalid version 'x'"),
        (["transition", "m", "1", "Prod"], 2, "unknown stage 'Prod'"),
        (["transition", "m", "1", "Production"], 1, "through a pull request"),
        (["search", "name = "], 2, "column"),
        (["search", "nme = 'x'"], 2, "nme"),
        (["resolve", "models:/m"], 2, "is not a model URI"),
        (["resolve", "models:/m/latest", "--ref", "nope"], 1, "unknown git ref 'nope'"),
        (["alias", "set", "m", "latest", "1"], 2, "reserved"),
    ],
)
def test_refusals(repo: Path, model: Path, args: list[str], code: int, message: str) -> None:
    ok("register", "m", str(model))
    args = [str(model) if a == "MODEL" else a for a in args]
    err = error(code, *args)
    assert message in err
    assert err.startswith("gitreg: error: ") and err.count("\n") == 1


def test_check_reports_line_numbers(repo: Path, model: Path) -> None:
    ok("register", "m", str(model))
    assert ok("check") == "ok: every registry file is valid\n"
    path = repo / "models/m/versions/1.yaml"
    path.write_text(
        path.read_text().replace("stage: None", "stage: None\nfoo: !!python/object:os.system x")
    )
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout.startswith("models/m/versions/1.yaml:")
    assert "not allowed" in result.stdout


def test_unsafe_yaml_is_refused_by_reads(repo: Path, model: Path, tmp_path: Path) -> None:
    ok("register", "m", str(model))
    sentinel = tmp_path / "SENTINEL"
    path = repo / "models/m/model.yaml"
    path.write_text(f"name: !!python/object/apply:os.system ['touch {sentinel}']\n")
    err = error(1, "show", "m")
    assert err.startswith("gitreg: error: models/m/model.yaml:1:")
    assert not sentinel.exists()


def test_not_a_registry(tmp_path: Path) -> None:
    err = error(1, "--repo", str(tmp_path), "list")
    assert "not inside a gitreg registry" in err


def test_every_command_has_help_with_an_example() -> None:
    def walk(group: object, prefix: list[str]) -> list[list[str]]:
        out = []
        for name, cmd in getattr(group, "commands", {}).items():
            out.append([*prefix, name])
            out += walk(cmd, [*prefix, name])
        return out

    for path in walk(cli, []):
        text = ok(*path, "--help")
        cmd = cli
        for part in path:
            cmd = cmd.commands[part]  # type: ignore[attr-defined]
        if not getattr(cmd, "commands", None):
            assert "Example:" in text, f"gitreg {' '.join(path)} --help has no example"
        assert cmd.get_short_help_str(), path


def test_real_subprocess_end_to_end(tmp_path: Path, model: Path) -> None:
    env = {**os.environ}
    repo = tmp_path / "sub"

    def gitreg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitreg", "--repo", str(repo), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    assert gitreg("init", str(repo)).returncode == 0
    assert gitreg("register", "m", str(model)).stdout == "Registered m version 1\n"
    assert gitreg("transition", "m", "1", "Staging").returncode == 0
    out = gitreg("resolve", "models:/m/Staging", "--json")
    assert json.loads(out.stdout)["version"] == 1
    bad = gitreg("resolve", "models:/m/Production")
    assert (
        bad.returncode == 1
        and bad.stderr == "gitreg: error: m has no version in stage Production\n"
    )
    usage = gitreg("frobnicate")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
