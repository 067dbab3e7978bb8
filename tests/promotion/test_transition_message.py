"""``transition -m/--message``: a reviewer's note goes into the commit body on a direct
transition, and into the commit body and the pull request's body on the pull-request path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from gitops_helpers import FakeGitHub, backdated, make_registry, staged_version

from gitreg import Registry
from gitreg.cli import cli
from gitreg.errors import UsageError

NOTE = "Validated on the November holdout.\nSee the notebook in run-1."


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub()
    yield server
    server.close()


def test_a_direct_transition_carries_the_note_in_its_commit_body(
    reg: Registry, artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.register("m", artifact)
    monkeypatch.setenv("GITREG_REPO", str(reg.root))
    result = CliRunner().invoke(cli, ["transition", "m", "1", "Staging", "-m", NOTE])
    assert result.exit_code == 0, result.output
    assert result.stdout == "m v1: None -> Staging\n"
    body = git(reg.root, "log", "-1", "--format=%B")
    assert body.startswith(f"m v1: None -> Staging\n\n{NOTE}\n\nGitreg-Op: ")
    assert git(reg.root, "log", "-1", "--format=%(trailers:key=Gitreg-Op,valueonly)").strip()
    result = CliRunner().invoke(cli, ["transition", "m", "1", "Archived", "--message", "retired"])
    assert result.exit_code == 0, result.output
    assert git(reg.root, "log", "-1", "--format=%b").startswith("retired\n")


def test_no_message_keeps_the_commit_as_it_was(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    assert git(reg.root, "log", "-1", "--format=%B").startswith(
        "m v1: None -> Staging\n\nGitreg-Op: "
    )


@pytest.mark.parametrize(
    ("note", "why"),
    [
        ("fine\nGitreg-Op: 0123abcd", "may not contain a NUL character or a 'Gitreg-Op:' line"),
        ("nul\0byte", "may not contain a NUL character or a 'Gitreg-Op:' line"),
        ("x" * 10_001, "the message has 10001 characters; the limit is 10000"),
        ("token ghp_" + "a" * 36, "message"),
    ],
)
def test_bad_notes_are_refused_before_any_commit(
    reg: Registry, artifact: Path, note: str, why: str
) -> None:
    reg.register("m", artifact)
    head = git(reg.root, "rev-parse", "HEAD")
    with pytest.raises(UsageError, match=why.replace("(", r"\(").replace(")", r"\)")):
        reg.transition("m", 1, "Staging", message=note)
    assert git(reg.root, "rev-parse", "HEAD") == head


def test_the_pull_request_path_puts_the_note_in_the_commit_and_the_pr_body(
    tmp_path: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, _ = make_registry(tmp_path)
    cfg = reg.root / "gitreg.yaml"
    cfg.write_text(
        cfg.read_text()
        + "remote:\n  name: origin\n  forge: github\n  repository: acme/models\n"
        + f"  api_url: {github.url}\n"
    )
    with backdated(50):  # older than the stay in Staging below (times are clamped)
        git(reg.root, "commit", "-qam", "forge")
    git(reg.root, "push", "-q", "origin", "main")
    v = staged_version(Registry(reg.root), tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token")
    monkeypatch.setenv("GITREG_REPO", str(reg.root))
    result = CliRunner().invoke(cli, ["transition", "m", str(v), "Production", "-m", NOTE])
    assert result.exit_code == 0, result.output
    commit = git(reg.root, "log", "-1", "--format=%B", "promote/m-v1-production")
    assert commit.startswith(f"m v1: Staging -> Production\n\n{NOTE}\n\n")
    [req] = github.requests
    body = req["body"]["body"]
    assert req["body"]["title"] == "m v1: Staging -> Production"
    assert (
        "**Note from the proposer:**\n\n> Validated on the November holdout.\n"
        "> See the notebook in run-1.\n" in body
    )
