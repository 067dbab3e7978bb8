"""history: one model's changes read from real git repositories, including hand edits,
renames, and transitions merged through a pull-request branch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git

from gitreg import Registry
from gitreg.cli import cli
from gitreg.errors import NotFound, UsageError
from gitreg.files.records import dump_record
from gitreg.layout import version_path
from gitreg.trail.history import history
from gitreg.trail.pull_requests import recognise


def texts(reg: Registry, name: str, **kw: str) -> list[str]:
    return [c.text for c in reg.history(name, **kw)]


def promote_by_hand(reg: Registry, name: str, version: int, stage: str, message: str) -> None:
    """What a promotion branch or a person does: edit the YAML, commit with git."""
    mv = reg.get_version(name, version).evolve(stage=stage)
    (reg.root / version_path(name, version)).write_bytes(dump_record(mv.to_dict(), "version"))
    git(reg.root, "commit", "-qam", message)


def test_every_kind_of_change_is_one_row(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    reg.set_alias("m", "champion", 1)
    reg.set_alias("m", "champion", 2)
    reg.set_tag("m", "k", "v", version=1)
    reg.set_tag("m", "team", "risk")
    reg.delete_tag("m", "k", version=1)
    reg.describe("m", "Flags fraud.")
    reg.describe("m", "v2 notes", version=2)
    reg.delete_alias("m", "champion")
    reg.delete_version("m", 2)
    assert texts(reg, "m") == [
        "model created",
        "registered v1 (None)",
        "registered v2 (None)",
        "v1: None -> Staging",
        "alias champion v1",
        "alias champion v1 -> v2",
        "v1: tag set k=v",
        "tag set team=risk",
        "v1: tag deleted k",
        "description edited",
        "v2: description edited",
        "alias champion deleted (was v2)",
        "deleted v2",
    ]
    rows = reg.history("m")
    assert {c.author for c in rows} == {"Test User <test@example.com>"}
    assert all(c.timestamp.endswith("Z") and len(c.commit) == 40 for c in rows)
    assert rows[3].data == {"from_stage": "None", "to_stage": "Staging"}
    assert rows[3].commit == git(reg.root, "rev-parse", "HEAD~9").strip()
    assert rows[-1].subject == "delete m v2"


def test_filters_by_version_stage_and_date(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    reg.transition("m", 2, "Staging")
    reg.transition("m", 1, "Archived")
    reg.set_alias("m", "champion", 1)
    reg.set_alias("m", "champion", 2)
    assert texts(reg, "m", version="1") == [
        "registered v1 (None)",
        "v1: None -> Staging",
        "v1: Staging -> Archived",
        "alias champion v1",
        "alias champion v1 -> v2",  # the alias moved away from v1
    ]
    assert texts(reg, "m", stage="staging") == [
        "v1: None -> Staging",
        "v2: None -> Staging",
        "v1: Staging -> Archived",
    ]
    assert texts(reg, "m", since="2999-01-01") == []
    assert len(texts(reg, "m", since="2000-01-01T00:00:00Z")) == 8
    with pytest.raises(UsageError, match="invalid date"):
        reg.history("m", since="last tuesday")
    with pytest.raises(NotFound, match="no model named 'nope' was ever registered"):
        reg.history("nope")


def test_hand_edits_are_described_from_the_files(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    promote_by_hand(reg, "m", 1, "Staging", "oops, fixed a thing")
    path = reg.root / version_path("m", 1)
    path.write_text(path.read_text().replace("metrics: {}", "metrics:\n  auc: 0.9"))
    git(reg.root, "commit", "-qam", "add a metric")
    rows = reg.history("m")
    assert [c.text for c in rows[-2:]] == ["v1: None -> Staging", "v1: edited metrics"]
    assert rows[-2].subject == "oops, fixed a thing"


def test_a_renamed_model_is_followed_to_its_old_name(reg: Registry, artifact: Path) -> None:
    reg.register("a", artifact)
    reg.rename("a", "b")
    reg.transition("b", 1, "Staging")
    reg.rename("b", "c")
    rows = reg.history("c")
    assert [(c.name, c.text) for c in rows] == [
        ("a", "model created"),
        ("a", "registered v1 (None)"),
        ("b", "renamed a -> b"),
        ("b", "v1: None -> Staging"),
        ("c", "renamed b -> c"),
    ]
    assert rows[-1].data == {"previous_name": "b"}


def test_a_deleted_and_recreated_model(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.delete_model("m")
    reg.register("m", artifact)
    assert texts(reg, "m") == [
        "model created",
        "registered v1 (None)",
        "model deleted",
        "model created",
        "registered v2 (None)",
    ]


def test_history_through_a_merged_pull_request(
    reg: Registry, artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    branch = "promote/m-v1-production"
    git(reg.root, "checkout", "-qb", branch)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Pat Proposer")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "pat@example.com")
    promote_by_hand(reg, "m", 1, "Production", "m v1: Staging -> Production")
    git(reg.root, "checkout", "-q", "main")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Merge Bot")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "bot@example.com")
    git(
        reg.root,
        "merge",
        "--no-ff",
        "-q",
        branch,
        "-m",
        f"Merge pull request #12 from org/{branch}",
        "-m",
        "m v1: Staging -> Production\n\n"
        "Approved-by: Rita Reviewer <rita@example.com>\nReviewed-by: Sam <sam@example.com>",
    )
    row = reg.history("m")[-1]
    assert row.text == "v1: Staging -> Production"
    assert row.pull_request == 12
    assert row.approvers == ("Rita Reviewer <rita@example.com>", "Sam <sam@example.com>")
    assert row.author == "Pat Proposer <pat@example.com>"
    assert row.merged_by == "Merge Bot <bot@example.com>"
    assert row.commit == git(reg.root, "rev-parse", "HEAD").strip()  # the merge, on main
    assert [c.text for c in reg.history("m", stage="Production")] == [row.text]
    # as of before the merge, the promotion is not part of main's story
    assert reg.at(ref="HEAD~1").history("m")[-1].text == "v1: None -> Staging"

    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "history", "m"])
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["WHEN", "WHO", "WHAT", "COMMIT", "PR", "APPROVED", "BY"]
    assert lines[-1].endswith("#12  Rita Reviewer, Sam")
    assert "Pat Proposer" in lines[-1]


def test_squash_merge_subject_gives_the_number() -> None:
    one, two = ["p"], ["p", "q"]
    assert recognise("Promote m v3 to Production (#13)\n\n* edits", one).number == 13
    merge = recognise("Merge pull request #7 from org/x\n\nApproved-by: A <a@x>", two)
    assert (merge.number, merge.approvers, merge.reviewed) == (7, ("A <a@x>",), True)
    plain = recognise("register m v1\n\nGitreg-Op: abc", one)
    assert (plain.number, plain.reviewed) == (None, False)
    assert recognise("one line Approved-by: X", one).approvers == ()


def test_history_json_and_as_a_real_subprocess(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    out = subprocess.run(
        [sys.executable, "-m", "gitreg", "--repo", str(reg.root), "history", "m", "--json"],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=60,
        check=True,
    ).stdout
    rows = json.loads(out)
    assert [r["type"] for r in rows] == [
        "registered_model.created",
        "model_version.created",
        "model_version.stage_transitioned",
    ]
    assert rows[2]["from_stage"] == "None" and rows[2]["to_stage"] == "Staging"
    assert rows[2]["id"] == reg.history("m")[2].id
    assert history(reg.git, "HEAD", "m", version=1)[0].type == "model_version.created"
