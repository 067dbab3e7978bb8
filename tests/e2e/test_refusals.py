"""Refusals that tell the next step: an unknown alias lists the model's aliases, an unknown
model suggests near names, a time_in_stage refusal says when the version becomes eligible,
a transition without gates prints no gate count, and a model search that finds nothing
says when versions carry what it looked for."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import git
from gitops_helpers import backdated

from gitreg.cli import cli


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry made a day ago (time in a stage is measured on clamped commit times, so
    a backdated stage change needs history older than itself)."""
    path = tmp_path / "reg"
    monkeypatch.setenv("GITREG_REPO", str(path))
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 100)
    with backdated(24):
        assert CliRunner().invoke(cli, ["init", str(path)]).exit_code == 0
        run_ok("register", "fraud-detector", str(model), "--tag", "team=risk", "-d", "Good.")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def run_ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(code: int, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.stderr


def test_an_unknown_alias_lists_the_aliases_the_model_has(repo: Path) -> None:
    assert refused(1, "resolve", "models:/fraud-detector@champ") == (
        "gitreg: error: fraud-detector has no alias 'champ'; it has no aliases\n"
    )
    run_ok("alias", "set", "fraud-detector", "champion", "1")
    run_ok("alias", "set", "fraud-detector", "challenger", "1")
    assert refused(1, "resolve", "models:/fraud-detector@champ") == (
        "gitreg: error: fraud-detector has no alias 'champ'; its aliases are challenger, champion\n"
    )
    assert "its aliases are challenger, champion" in refused(
        1, "alias", "delete", "fraud-detector", "champ"
    )


def test_an_unknown_model_suggests_near_names(repo: Path) -> None:
    assert refused(1, "show", "fraud-detectr") == (
        "gitreg: error: no registered model named 'fraud-detectr'; did you mean 'fraud-detector'?\n"
    )
    assert "did you mean 'fraud-detector'?" in refused(1, "resolve", "models:/frauddetector/1")
    assert refused(1, "show", "churn") == "gitreg: error: no registered model named 'churn'\n"


def test_time_in_stage_refusal_says_when_eligible_in_utc(repo: Path) -> None:
    """The template's Production gate needs 24 h in Staging; entered 3 h ago, the version
    becomes eligible 21 h from now."""
    with backdated(3):
        run_ok("transition", "fraud-detector", "1", "Staging")
    start = datetime.now(timezone.utc)
    stderr = refused(1, "transition", "fraud-detector", "1", "Production", "--local")
    m = re.search(r"needs 24 h; eligible at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", stderr)
    assert m, stderr
    when = datetime.strptime(m[1], "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    expected = start + timedelta(hours=21)
    assert timedelta(seconds=-5) <= when - expected <= timedelta(minutes=1, seconds=5)


def test_check_base_prints_no_gate_count_without_gates(repo: Path) -> None:
    run_ok("transition", "fraud-detector", "1", "Staging")
    run_ok("transition", "fraud-detector", "1", "Archived")
    out = run_ok("check", "--base", "HEAD~1")
    assert "fraud-detector v1: Staging -> Archived\n" in out
    assert "gates pass" not in out


def test_search_models_hints_at_versions_that_carry_the_tag(repo: Path) -> None:
    result = run("search", "--models", "tags.team = 'risk'")
    assert result.exit_code == 0 and result.stdout.splitlines() == ["NAME  VERSIONS  DESCRIPTION"]
    assert result.stderr == (
        "gitreg: no model matches, but 1 version matches (model tags and version tags are "
        "separate): drop --models to search versions\n"
    )
    assert run("search", "--models", "tags.team = 'none'").stderr == ""
    run_ok("tag", "set", "fraud-detector", "team=risk")
    result = run("search", "--models", "tags.team = 'risk'", "--json")
    assert "fraud-detector" in result.stdout and result.stderr == ""


def test_refusals_as_a_real_subprocess(repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "--repo", str(repo), "show", "fraud_detector"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        "gitreg: error: no registered model named 'fraud_detector'; "
        "did you mean 'fraud-detector'?\n"
    )
    assert git(repo, "status", "--porcelain") == ""
