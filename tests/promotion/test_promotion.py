"""Promotion through a pull request, on real repositories with a bare remote: the branch
is made and pushed, main and the user's checkout are untouched, gates are judged first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from gitops_helpers import POLICY, FakeGitHub, make_registry, merge_branch, staged_version

from gitreg import Registry
from gitreg.cli import cli
from gitreg.errors import Conflict, NotFound, PolicyError
from gitreg.promotion.gates import GatesFailed


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub()
    yield server
    server.close()


def rev(path: Path, ref: str) -> str:
    return git(path, "rev-parse", ref).strip()


def test_production_goes_to_a_pushed_branch_and_main_is_untouched(tmp_path: Path) -> None:
    reg, bare = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    git(reg.root, "checkout", "-q", "-b", "my-work")
    (reg.root / "notes.txt").write_text("uncommitted work\n")
    main_before, remote_before = rev(reg.root, "main"), rev(bare, "main")

    p = reg.propose_transition("m", v, "Production")

    assert p.branch == "promote/m-v1-production" and p.pushed_to == "origin"
    assert rev(reg.root, "main") == main_before and rev(bare, "main") == remote_before
    assert rev(bare, p.branch) == p.commit == rev(reg.root, p.branch)
    assert git(reg.root, "symbolic-ref", "--short", "HEAD").strip() == "my-work"
    assert git(reg.root, "status", "--porcelain").strip() == "?? notes.txt"
    assert git(reg.root, "rev-parse", f"{p.branch}^").strip() == main_before
    changed = git(reg.root, "diff", "--name-only", main_before, p.branch).split()
    assert changed == ["models/m/versions/1.yaml"]
    assert "stage: Production" in git(reg.root, "show", f"{p.branch}:models/m/versions/1.yaml")
    subject, _, body = git(reg.root, "log", "-1", "--format=%s%n%b", p.branch).partition("\n")
    assert subject == "m v1: Staging -> Production" and "Gitreg-Op: " in body
    assert all(r.ok for r in p.results) and len(p.results) == 6
    assert p.notes == ("open a pull request from promote/m-v1-production into main",)
    assert reg.get_version("m", v).stage == "Staging", "the work tree's registry is unchanged"


def test_exclusive_archives_the_previous_holder_on_the_branch(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v1 = staged_version(reg, tmp_path, auc=0.9)
    merge_branch(reg, reg.propose_transition("m", v1, "Production").branch)
    v2 = staged_version(reg, tmp_path, auc=0.91)
    p = reg.propose_transition("m", v2, "Production")
    assert p.archived == (1,)
    view = reg.at(ref=p.branch)
    assert [v.stage for v in view.versions("m")] == ["Archived", "Production"]
    assert "m v1: Production -> Archived" in git(reg.root, "log", "-1", "--format=%b", p.branch)
    nwc = next(r for r in p.results if r.gate == "not_worse_than_current")
    assert nwc.ok and "against v1's 0.9" in nwc.detail


def test_failing_gates_are_named_and_nothing_is_made(tmp_path: Path) -> None:
    reg, bare = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, auc=0.7, hours_ago=1)
    with pytest.raises(GatesFailed) as err:
        reg.propose_transition("m", v, "Production")
    message = str(err.value)
    assert "gate metric auc: auc = 0.7 is below the minimum 0.8" in message
    assert "gate time_in_stage Staging: in Staging for 1.0 h; needs 24 h" in message
    assert [f.gate for f in err.value.failures] == ["metric", "time_in_stage"]
    assert git(reg.root, "branch", "--list", "promote/*").strip() == ""
    assert git(bare, "branch", "--list", "promote/*").strip() == ""
    p = reg.propose_transition("m", v, "Production", ignore_gates=True, push=False)
    assert [r.gate for r in p.results if not r.ok] == ["metric", "time_in_stage"]
    assert p.pushed_to is None and git(bare, "branch", "--list", "promote/*").strip() == ""


def test_policy_refusals(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    mv = reg.register("m", tmp_path / "reg" / "gitreg.yaml")
    git(reg.root, "push", "-q", "origin", "main")
    with pytest.raises(PolicyError, match=r"allows Production through a pull request, and only"):
        reg.propose_transition("m", mv.version, "Production")
    with pytest.raises(PolicyError, match="through a pull request"):
        reg.transition("m", v, "Production")
    reg.propose_transition("m", v, "Production", push=False)
    assert reg.propose_transition("m", v, "Production", push=False).branch, "same change: reused"
    git(reg.root, "branch", "-f", "promote/m-v1-production", "main")
    with pytest.raises(Conflict, match="already exists with other changes"):
        reg.propose_transition("m", v, "Production", push=False)


def test_the_branch_starts_from_the_remote_tip_when_it_is_newer(tmp_path: Path) -> None:
    reg, bare = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    Registry(other).set_tag("m", "owner", "risk")
    git(other, "push", "-q", "origin", "main")
    p = reg.propose_transition("m", v, "Production")
    assert p.base == rev(bare, "main") != rev(reg.root, "main")


def test_rollback_restores_the_previous_production_version(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v1 = staged_version(reg, tmp_path, auc=0.9)
    merge_branch(reg, reg.propose_transition("m", v1, "Production").branch)
    v2 = staged_version(reg, tmp_path, auc=0.95)
    merge_branch(reg, reg.propose_transition("m", v2, "Production").branch)
    with pytest.raises(NotFound, match="no earlier Production"):
        reg.propose_rollback("nope")
    p = reg.propose_rollback("m")
    assert (p.branch, p.version, p.from_stage, p.archived) == (
        "rollback/m-v1-production",
        1,
        "Archived",
        (2,),
    )
    waived = {r.gate: r.detail for r in p.results if r.detail.startswith("waived")}
    assert set(waived) == {"time_in_stage", "not_worse_than_current"}
    assert "(rollback)" in git(reg.root, "log", "-1", "--format=%s", p.branch)


def test_pull_request_is_opened_through_the_forge(
    tmp_path: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge = "remote:\n  name: origin\n  forge: github\n  repository: acme/models\n"
    reg, _ = make_registry(tmp_path, POLICY + forge + f"  api_url: {github.url}\n")
    v = staged_version(reg, tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token")
    p = reg.propose_transition("m", v, "Production")
    assert p.url == "https://github.example/acme/pull/12"
    [req] = github.requests
    assert req["path"] == "/repos/acme/models/pulls"
    assert req["headers"]["Authorization"] == "Bearer ghp_test_token"
    body = req["body"]
    assert (body["head"], body["base"]) == ("promote/m-v1-production", "main")
    assert body["title"] == "m v1: Staging -> Production"
    assert "| metric auc | ✅ | auc = 0.9 (>= 0.8) |" in body["body"]
    assert "- run_id: `run-1`" in body["body"]


def test_cli_transition_prints_gates_branch_and_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, _bare = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, auc=0.85)
    monkeypatch.setenv("GITREG_REPO", str(reg.root))
    result = CliRunner().invoke(cli, ["transition", "m", str(v), "production"])
    assert result.exit_code == 0, result.output
    assert "  ok   gate metric auc: auc = 0.85 (>= 0.8)" in result.stdout
    assert "branch: promote/m-v1-production (" in result.stdout
    assert ", pushed to origin)" in result.stdout
    low = staged_version(reg, tmp_path, auc=0.5)
    result = CliRunner().invoke(cli, ["transition", "m", str(low), "Production", "--json"])
    assert result.exit_code == 1
    assert "gate metric auc: auc = 0.5 is below the minimum 0.8" in result.stderr
    assert "Traceback" not in result.output
    result = CliRunner().invoke(
        cli, ["transition", "m", str(low), "Production", "--ignore-gates", "--local", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["branch"] == "promote/m-v2-production" and data["pushed_to"] is None
    assert [g["gate"] for g in data["gates"] if not g["ok"]] == ["metric"]


def test_cli_as_a_real_subprocess(tmp_path: Path) -> None:
    reg, bare = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    env = {**os.environ, "GITREG_REPO": str(reg.root)}
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "transition", "m", str(v), "Production"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "branch: promote/m-v1-production" in proc.stdout
    assert git(bare, "branch", "--list", "promote/*").strip() == "promote/m-v1-production"
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "rollback", "m"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr == "gitreg: error: m has no earlier Production version to roll back to\n"
