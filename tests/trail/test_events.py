"""events: the typed changes between two commits of a real repository."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import git

from gitreg import Registry
from gitreg.cli import cli
from gitreg.files.records import dump_record
from gitreg.layout import version_path
from gitreg.trail.changes import EVENT_TYPES, Change
from gitreg.trail.events import NULL_SHA, events


def head(reg: Registry) -> str:
    return git(reg.root, "rev-parse", "HEAD").strip()


def since(reg: Registry, sha: str) -> list[Change]:
    return reg.events(sha)


def test_each_event_type(reg: Registry, artifact: Path) -> None:
    start = head(reg)
    reg.register("m", artifact)
    ev = since(reg, start)
    assert [(e.type, e.name, e.version) for e in ev] == [
        ("registered_model.created", "m", None),
        ("model_version.created", "m", 1),
    ]
    assert ev[1].data == {"stage": "None", "source": ev[1].data["source"], "run_id": None}
    assert ev[1].data["source"].startswith("file://")

    def step(action: object) -> list[Change]:
        before = head(reg)
        assert callable(action)
        action()
        return since(reg, before)

    reg.register("m", artifact)
    (e,) = step(lambda: reg.transition("m", 1, "Staging"))
    assert (e.type, e.version, e.data) == (
        "model_version.stage_transitioned",
        1,
        {"from_stage": "None", "to_stage": "Staging"},
    )
    (e,) = step(lambda: reg.set_alias("m", "champion", 1))
    assert (e.type, e.version, e.data) == (
        "model_version_alias.created",
        1,
        {"alias": "champion", "previous_version": None},
    )
    (e,) = step(lambda: reg.set_alias("m", "champion", 2))  # a move is one created event
    assert (e.type, e.version, e.data["previous_version"]) == ("model_version_alias.created", 2, 1)
    (e,) = step(lambda: reg.delete_alias("m", "champion"))
    assert (e.type, e.version, e.data) == ("model_version_alias.deleted", 2, {"alias": "champion"})
    (e,) = step(lambda: reg.set_tag("m", "k", "v", version=1))
    assert (e.type, e.data) == ("model_version_tag.set", {"key": "k", "value": "v"})
    (e,) = step(lambda: reg.delete_tag("m", "k", version=1))
    assert (e.type, e.data) == ("model_version_tag.deleted", {"key": "k"})
    (e,) = step(lambda: reg.set_tag("m", "team", "risk"))
    assert (e.type, e.version, e.data) == (
        "registered_model_tag.set",
        None,
        {"key": "team", "value": "risk"},
    )
    (e,) = step(lambda: reg.delete_tag("m", "team"))
    assert e.type == "registered_model_tag.deleted"
    (e,) = step(lambda: reg.describe("m", "text"))
    assert e.type == "registered_model.description_updated"
    (e,) = step(lambda: reg.describe("m", "text", version=2))
    assert (e.type, e.version) == ("model_version.description_updated", 2)
    reg.set_alias("m", "old", 2)
    ev = step(lambda: reg.delete_version("m", 2))  # its alias goes with it
    assert [(e.type, e.version) for e in ev] == [
        ("model_version_alias.deleted", 2),
        ("model_version.deleted", 2),
    ]
    (e,) = step(lambda: reg.rename("m", "n"))
    assert (e.type, e.name, e.data) == ("registered_model.renamed", "n", {"previous_name": "m"})
    (e,) = step(lambda: reg.delete_model("n"))
    assert (e.type, e.name) == ("registered_model.deleted", "n")

    everything = events(reg.git, NULL_SHA)
    seen = {e.type for e in everything}
    assert seen == set(EVENT_TYPES) - {"model_version.updated"}
    assert len({e.id for e in everything}) == len(everything)  # ids are unique ...
    assert [e.id for e in events(reg.git, NULL_SHA)] == [e.id for e in everything]  # ... stable


def test_an_exclusive_promotion_yields_both_transitions(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    before = head(reg)
    reg.transition("m", 2, "Staging", archive_existing=True)
    ev = reg.events(before)
    assert [(e.version, e.data["to_stage"]) for e in ev] == [(1, "Archived"), (2, "Staging")]
    assert {e.commit for e in ev} == {head(reg)}


def test_a_merged_pull_request_yields_its_events_at_the_merge(
    reg: Registry, artifact: Path
) -> None:
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    base = head(reg)
    git(reg.root, "checkout", "-qb", "promote/m-v1-production")
    for stage in ("Production", "Archived", "Production"):  # noisy branch history
        mv = reg.get_version("m", 1).evolve(stage=stage)
        (reg.root / version_path("m", 1)).write_bytes(dump_record(mv.to_dict(), "version"))
        git(reg.root, "commit", "-qam", f"to {stage}")
    git(reg.root, "checkout", "-q", "main")
    reg.set_tag("m", "team", "x")  # main moved on meanwhile
    git(
        reg.root,
        "merge",
        "--no-ff",
        "-q",
        "promote/m-v1-production",
        "-m",
        "Merge pull request #12 from org/promote/m-v1-production",
        "-m",
        "Approved-by: Rita <rita@example.com>",
    )
    ev = reg.events(base)
    assert [e.type for e in ev] == ["registered_model_tag.set", "model_version.stage_transitioned"]
    assert ev[1].data == {"from_stage": "Staging", "to_stage": "Production"}
    assert (ev[1].pull_request, ev[1].approvers) == (12, ("Rita <rita@example.com>",))
    assert ev[1].commit == head(reg)
    assert reg.events(head(reg)) == []


def test_invalid_yaml_is_an_update_not_a_crash(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    before = head(reg)
    (reg.root / version_path("m", 1)).write_text("stage: [unclosed\n")
    git(reg.root, "commit", "-qam", "broken")
    (e,) = reg.events(before)
    assert (e.type, e.data) == ("model_version.updated", {"invalid": True})


def test_events_command(reg: Registry, artifact: Path) -> None:
    start = head(reg)
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    runner = CliRunner()
    result = runner.invoke(cli, ["--repo", str(reg.root), "events", "--from", start, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["type"] for r in rows] == [
        "registered_model.created",
        "model_version.created",
        "model_version.stage_transitioned",
    ]
    assert set(rows[2]) >= {"id", "name", "version", "commit", "author", "timestamp"}
    result = runner.invoke(cli, ["--repo", str(reg.root), "events", "--from", "HEAD~1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split()[1:5] == [
        "model_version.stage_transitioned",
        "m",
        "1",
        "v1:",
    ]
    result = runner.invoke(cli, ["--repo", str(reg.root), "events", "--from", "nope"])
    assert result.exit_code == 1
    assert "unknown git ref 'nope'" in result.stderr
