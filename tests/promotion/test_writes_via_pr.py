"""Writes under a protected main (``writes: {via: pull_request}``): a bare remote whose
pre-receive hook refuses every push to main (as GitHub's GH006), and a fake forge on
127.0.0.1 that opens pull requests and merges them into the bare repo's main."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from fake_forge import FakeGitHubForge, FakeGitLab
from gitops_helpers import POLICY, artifact, make_registry

from gitreg import Registry
from gitreg.cli import cli
from gitreg.errors import PushRejected
from gitreg.promotion import writes

HOOK = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = "refs/heads/main" ]; then
    echo "GH006: Protected branch update failed for refs/heads/main." >&2
    exit 1
  fi
done
"""


def protect(bare: Path) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK)
    hook.chmod(0o755)


def policy(kind: str, url: str) -> str:
    where = "acme/models" if kind == "github" else "acme/ml/models"
    return POLICY + (
        f"writes: {{via: pull_request, auto_merge: true}}\n"
        f"remote: {{forge: {kind}, repository: {where}, api_url: '{url}'}}\n"
    )


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHubForge]:
    monkeypatch.setenv("GITHUB_TOKEN", "t0k")
    forge = FakeGitHubForge(tmp_path / "remote.git")
    yield forge
    forge.close()


def registry(tmp_path: Path, forge: FakeGitHubForge | FakeGitLab, kind: str = "github") -> Registry:
    reg, bare = make_registry(tmp_path, policy(kind, forge.url))
    protect(bare)
    return reg


def remote_main(reg: Registry) -> str:
    return git(reg.root, "ls-remote", "origin", "refs/heads/main").split()[0]


def test_a_direct_push_to_protected_main_is_refused(
    tmp_path: Path, github: FakeGitHubForge
) -> None:
    reg = registry(tmp_path, github)
    reg.register("m", artifact(tmp_path, "a.bin", b"a"))
    from gitreg.repo import sync

    with pytest.raises(PushRejected, match="GH006"):
        sync.push(reg)


def test_registration_goes_through_a_pull_request_that_auto_merges(
    tmp_path: Path, github: FakeGitHubForge
) -> None:
    reg = registry(tmp_path, github)
    before = remote_main(reg)
    art = artifact(tmp_path, "a.bin", b"weights")
    result = CliRunner().invoke(
        cli, ["--repo", str(reg.root), "register", "m", str(art), "--push", "--wait", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["version"] == 1 and out["merged"] is True
    assert out["branch"].startswith("gitreg/register-m-")
    assert out["pull_request"] == "https://github.example/acme/models/pull/1"
    assert out["auto_merge"] == "auto-merge"
    pr = github.prs[1]
    assert pr["merged"] and pr["head"] == out["branch"] and pr["title"] == "register m v1"
    after = remote_main(reg)
    assert after != before and git(reg.root, "rev-parse", "main").strip() == after
    assert "Merge pull request #1" in git(reg.root, "log", "-1", "--format=%s", after)
    assert git(reg.root, "show", f"{after}:models/m/versions/1.yaml")
    assert ("POST", "/graphql") in [(m, p) for m, p, _ in github.requests]


def test_without_wait_local_main_stays_equal_to_the_remote(
    tmp_path: Path, github: FakeGitHubForge
) -> None:
    github.required = lambda pr: False  # checks pending: nothing merges
    reg = registry(tmp_path, github)
    tip = remote_main(reg)
    art = artifact(tmp_path, "a.bin", b"weights")
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "register", "m", str(art), "--push"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Registered m version 1 (branch gitreg/register-m-")
    assert "pull request https://github.example/acme/models/pull/1; auto-merge requested)" in first
    assert git(reg.root, "rev-parse", "main").strip() == tip == remote_main(reg)
    assert not (reg.root / "models" / "m").exists()


def test_a_collision_is_renumbered_on_replay(tmp_path: Path, github: FakeGitHubForge) -> None:
    release = threading.Event()
    github.required = lambda pr: release.is_set()
    a = registry(tmp_path, github)
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), "b")
    b = Registry(tmp_path / "b")
    mine, shared_a = writes.share(a, lambda r: r.register("m", artifact(tmp_path, "a.bin", b"a")))
    theirs, shared_b = writes.share(b, lambda r: r.register("m", artifact(tmp_path, "b.bin", b"b")))
    assert shared_a is not None and shared_b is not None
    assert mine.version == theirs.version == 1  # both branches were made from the same tip
    release.set()
    github.wait_merged(1)
    done = writes.wait(b, shared_b, timeout=20, interval=0.1)
    assert done.renumbered == (1, 2) and done.version == 2
    assert any("v1 was taken, renumbered to v2" in n for n in done.notes)
    main = remote_main(b)
    v1 = git(b.root, "show", f"{main}:models/m/versions/1.yaml")
    v2 = git(b.root, "show", f"{main}:models/m/versions/2.yaml")
    assert "a.bin" in v1 and "b.bin" in v2  # never a silent reuse of number 1
    assert git(b.root, "rev-parse", "main").strip() == main
    subject = git(b.root, "log", "-1", "--format=%s", f"{main}^2").strip()
    assert subject == "register m v2"


def test_gitlab_merge_request_with_auto_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    forge = FakeGitLab(tmp_path / "remote.git")
    try:
        reg = registry(tmp_path, forge, "gitlab")
        art = artifact(tmp_path, "a.bin", b"weights")
        result = CliRunner().invoke(
            cli, ["--repo", str(reg.root), "register", "m", str(art), "--push", "--wait"]
        )
        assert result.exit_code == 0, result.output
        assert "merge_requests/1; merged into origin/main" in result.output
        put = [b for m, p, b in forge.requests if m == "PUT"]
        assert (
            put
            and put[0]["auto_merge"] is True
            and put[0]["sha"] == git(reg.root, "rev-parse", f"{remote_main(reg)}^2").strip()
        )
        assert "See merge request acme/ml/models!1" in git(
            reg.root, "log", "-1", "--format=%B", "main"
        )
    finally:
        forge.close()
