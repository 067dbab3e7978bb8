"""Approvals counted by ``gitreg check --base`` from the forge (fake GitHub and GitLab on
127.0.0.1 over a real bare remote): a promotion's check fails until an allowed approver
approves the current head, never counts the author or an older head, and fails again
after a new push. Also: the check command transition prints really inspects the branch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from fake_forge import FakeGitHubForge, FakeGitLab
from gitops_helpers import make_registry, staged_version

from gitreg import Registry
from gitreg.cli import cli
from gitreg.promotion import approvals
from gitreg.promotion.review import check_diff

POLICY = """\
stages: [None, Staging, Production, Archived]
artifacts: {{store: file://../store, allowed: [file://]}}
promotion:
  Production:
    via: pull_request
    from: [Staging]
    approvals: {{min: 1, from: [alice, "@acme/ml-leads"]}}
    gates: [{{metric: auc, min: 0.8}}]
remote: {{forge: {kind}, repository: {repo}, api_url: '{url}'}}
"""


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHubForge]:
    monkeypatch.setenv("GITHUB_TOKEN", "t0k")
    for k in ("GITHUB_EVENT_PATH", "GITHUB_REF", "CI_MERGE_REQUEST_IID"):
        monkeypatch.delenv(k, raising=False)
    forge = FakeGitHubForge(tmp_path / "remote.git")
    yield forge
    forge.close()


def promote(tmp_path: Path, url: str, kind: str = "github") -> tuple[Registry, str]:
    repo = "acme/models" if kind == "github" else "acme/ml/models"
    reg, _ = make_registry(tmp_path, POLICY.format(kind=kind, repo=repo, url=url))
    v = staged_version(reg, tmp_path)
    p = reg.propose_transition("m", v, "Production")
    assert p.url is not None, p.notes
    return reg, p.branch


def findings(reg: Registry, branch: str, **kw: object) -> list[str]:
    report = check_diff(reg.git, "origin/main", f"origin/{branch}", verify=False, **kw)  # type: ignore[arg-type]
    return [f.message for f in report.findings if f.rule == "approvals"]


def push_again(reg: Registry, branch: str) -> None:
    """A new commit on the pull request's branch (a description edit), pushed."""
    git(reg.root, "switch", "-q", branch)
    path = reg.root / "models/m/versions/1.yaml"
    path.write_text(path.read_text().replace("A good model.", "A good model, retrained."))
    git(reg.root, "commit", "-qam", "edit description")
    git(reg.root, "push", "-q", "origin", branch)
    git(reg.root, "switch", "-q", "main")


def test_check_fails_until_an_allowed_approver_approves_the_head(
    tmp_path: Path, github: FakeGitHubForge
) -> None:
    reg, branch = promote(tmp_path, github.url)
    [missing] = findings(reg, branch, pull_request=1)
    assert missing.startswith("m v1 -> Production needs 1 approval from alice, @acme/ml-leads")
    assert "approvals of the head" in missing and ": none" in missing
    github.review(1, "trainer")  # the author, approving their own pull request
    github.review(1, "mallory")  # not allowed
    [still] = findings(reg, branch, pull_request=1)
    assert "trainer is the author" in still and "mallory is not among the allowed" in still
    github.teams["acme/ml-leads"] = {"bob"}
    github.review(1, "bob")
    assert findings(reg, branch, pull_request=1) == []
    push_again(reg, branch)
    [stale] = findings(reg, branch, pull_request=1)
    assert "bob's approval is of an older head" in stale
    github.review(1, "alice")
    assert findings(reg, branch, pull_request=1) == []
    github.review(1, "alice", state="CHANGES_REQUESTED")  # the latest review is what counts
    assert findings(reg, branch, pull_request=1) != []


def test_a_stale_checkout_cannot_vouch_for_a_newer_head(
    tmp_path: Path, github: FakeGitHubForge
) -> None:
    reg, branch = promote(tmp_path, github.url)
    old = git(reg.root, "rev-parse", f"origin/{branch}").strip()
    push_again(reg, branch)
    github.review(1, "alice")
    report = check_diff(reg.git, "origin/main", old, verify=False, pull_request=1)
    [problem] = [f.message for f in report.findings if f.rule == "approvals"]
    assert f"the checked commit {old[:12]} is not pull request 1's head" in problem


def test_the_pull_request_comes_from_ci(tmp_path: Path, github: FakeGitHubForge) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    assert approvals.pull_request_number({"GITHUB_EVENT_PATH": str(event)}) == 7
    assert approvals.pull_request_number({"GITHUB_REF": "refs/pull/12/merge"}) == 12
    assert approvals.pull_request_number({"CI_MERGE_REQUEST_IID": "3"}) == 3
    assert approvals.pull_request_number({"GITHUB_REF": "refs/heads/main"}) is None
    reg, branch = promote(tmp_path, github.url)
    [why] = findings(reg, branch)
    assert why.endswith("no pull request to count them on (pass --pull-request N, or run in CI)")
    github.review(1, "alice")
    assert (
        findings(reg, branch, env={"GITHUB_REF": "refs/pull/1/merge", "GITHUB_TOKEN": "t0k"}) == []
    )
    result = CliRunner().invoke(
        cli, ["--repo", str(reg.root), "check", "--base", "origin/main",
              "--head", f"origin/{branch}", "--pull-request", "1", "--no-verify-artifacts"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_gitlab_approvals_of_the_head_by_a_group_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    forge = FakeGitLab(tmp_path / "remote.git")
    try:
        reg, branch = promote(tmp_path, forge.url, "gitlab")
        assert findings(reg, branch, pull_request=1)
        forge.approve(1, "trainer")
        assert "trainer is the author" in findings(reg, branch, pull_request=1)[0]
        forge.groups["acme/ml-leads"] = {"carol"}
        forge.approve(1, "carol")
        assert findings(reg, branch, pull_request=1) == []
        push_again(reg, branch)  # GitLab resets approvals on push
        assert findings(reg, branch, pull_request=1)
        forge.reset_on_push = False
        [keeps] = findings(reg, branch, pull_request=1)
        assert "keeps approvals when commits are pushed" in keeps
    finally:
        forge.close()


def test_transition_prints_the_check_that_inspects_the_branch(
    tmp_path: Path, github: FakeGitHubForge
) -> None:
    reg, _ = make_registry(
        tmp_path, POLICY.format(kind="github", repo="acme/models", url=github.url)
    )
    v = staged_version(reg, tmp_path)
    body = tmp_path / "pr.md"
    result = CliRunner().invoke(
        cli, ["--repo", str(reg.root), "transition", "m", str(v), "Production",
              "--body-file", str(body)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = [ln for ln in result.output.splitlines() if ln.startswith("CI runs: ")]
    command = line.removeprefix("CI runs: ")
    assert command == "gitreg check --base origin/main --head origin/promote/m-v1-production"
    assert "| auc |" in body.read_text() and "Lineage" in body.read_text()
    args = [*command.split()[1:], "--no-verify-artifacts", "--pull-request", "1"]
    checked = CliRunner().invoke(cli, ["--repo", str(reg.root), *args])
    assert "m v1: Staging -> Production (1/1 gates pass)" in checked.output
    assert "needs 1 approval" in checked.output and checked.exit_code == 1
    github.review(1, "alice")
    checked = CliRunner().invoke(cli, ["--repo", str(reg.root), *args])
    assert checked.exit_code == 0 and "ok: 1 changed files" in checked.output
    # the tour's old command judged the untouched checkout: now it says so
    bare = CliRunner().invoke(cli, ["--repo", str(reg.root), "check", "--base", "origin/main"])
    assert "nothing to judge" in bare.output and "--head" in bare.output
