"""Registry over real git repositories: every write is one commit, every read can go back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import git

from gitreg import Registry
from gitreg.errors import (
    AlreadyExists,
    ArtifactError,
    Conflict,
    ManifestError,
    NotFound,
    PolicyError,
    UsageError,
)
from gitreg.files.records import dump_record
from gitreg.layout import model_path, version_path
from gitreg.registry.template import init_registry


def commits(reg: Registry) -> list[str]:
    return git(reg.root, "log", "--format=%s").splitlines()


def clean(reg: Registry) -> bool:
    return git(reg.root, "status", "--porcelain") == ""


def test_register_copies_into_the_store_and_commits_once(reg: Registry, artifact: Path) -> None:
    mv = reg.register("fraud-detector", artifact, metrics={"val_auc": 0.91}, tags={"team": "x"})
    assert (mv.name, mv.version, mv.stage) == ("fraud-detector", 1, "None")
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert mv.artifact.digest == f"sha256:{digest}"
    assert mv.artifact.size == artifact.stat().st_size
    stored = Path(mv.artifact.uri.removeprefix("file://"))
    assert stored.read_bytes() == artifact.read_bytes()
    assert f"/fraud-detector/sha256/{digest}/" in mv.artifact.uri
    assert commits(reg)[0] == "register fraud-detector v1"
    assert clean(reg)
    assert reg.get_version("fraud-detector", 1) == mv
    text = (reg.root / "models/fraud-detector/versions/1.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../../.gitreg/schemas/")


def test_register_a_uri_in_place(reg: Registry, artifact: Path) -> None:
    mv = reg.register("m", artifact.as_uri())
    assert mv.artifact.uri == artifact.as_uri()


def test_register_refuses_missing_artifact_and_bad_names(reg: Registry, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no such file or folder"):
        reg.register("m", tmp_path / "nope.pkl")
    for bad in ["..", "..x", "a/b", "a:b", "", "  ", "a\x00b", "a\nb", "x" * 257]:
        with pytest.raises(UsageError, match="invalid model name"):
            reg.register(bad, tmp_path)
    assert commits(reg) == ["init gitreg registry"]


def test_register_refuses_non_finite_metrics(reg: Registry, artifact: Path) -> None:
    with pytest.raises(UsageError, match="metric auc must be a finite number"):
        reg.register("m", artifact, metrics={"auc": float("nan")})


def test_versions_are_never_reused(reg: Registry, artifact: Path) -> None:
    for _ in range(3):
        reg.register("m", artifact)
    reg.delete_version("m", 3)
    assert reg.register("m", artifact).version == 4
    reg.delete_model("m")
    assert reg.register("m", artifact).version == 5, "re-created model continues numbering"


def test_a_retired_name_keeps_its_numbers_without_history(reg: Registry, artifact: Path) -> None:
    """A deleted or renamed-away name's highest number lives in .gitreg/retired.yaml,
    written in the same commit: re-creating the name reads one file, not the history."""
    for _ in range(3):
        reg.register("m", artifact)
    reg.register("a", artifact)
    reg.delete_model("m")
    reg.rename("a", "b")
    assert git(reg.root, "show", "--name-only", "--format=", "HEAD~1").split() == [
        ".gitreg/retired.yaml",
        "models/m/model.yaml",
        "models/m/versions/1.yaml",
        "models/m/versions/2.yaml",
        "models/m/versions/3.yaml",
    ]
    assert (reg.root / ".gitreg/retired.yaml").read_text().endswith("a: 1\nm: 3\n")
    assert reg.check() == []
    # Replace the whole history by one commit of the current tree: no log shows v1..v3.
    git(reg.root, "checkout", "-q", "--orphan", "squashed")
    git(reg.root, "commit", "-qm", "squashed")
    git(reg.root, "branch", "-D", "main")
    git(reg.root, "branch", "-m", "main")
    assert git(reg.root, "log", "--all", "--format=%s") == "squashed\n"
    assert reg.register("m", artifact).version == 4, "re-created model continues numbering"
    assert reg.create_model("a").last_version == 1
    assert reg.register("a", artifact).version == 2
    reg.rename("b", "m2")
    reg.delete_model("m")
    reg.rename("m2", "m")  # onto a retired name: its numbering continues above 4
    assert reg.get_model("m").last_version == 4
    assert reg.register("m", artifact).version == 5
    assert reg.check() == []


def test_a_bad_retired_file_is_reported(reg: Registry) -> None:
    (reg.root / ".gitreg/retired.yaml").write_text("m: 0\n")
    assert [str(e) for e in reg.check()] == [
        ".gitreg/retired.yaml:1: m: 0 is not a version number (1 or more)"
    ]
    (reg.root / ".gitreg/retired.yaml").write_text("../x: 2\n")
    assert [str(e) for e in reg.check()] == [".gitreg/retired.yaml:1: '../x' is not a model name"]


def test_transition_and_exclusive_archive(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.register("m", artifact)
    reg.transition("m", 1, "staging")
    assert reg.get_version("m", 1).stage == "Staging"
    assert commits(reg)[0] == "m v1: None -> Staging"
    reg.transition("m", 2, "Staging", archive_existing=True)
    assert [v.stage for v in reg.versions("m")] == ["Archived", "Staging"]
    assert commits(reg)[0] == "m v2: None -> Staging"
    assert "m v1: Staging -> Archived" in git(reg.root, "log", "-1", "--format=%b")
    assert clean(reg)


def test_transition_refusals(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    with pytest.raises(UsageError, match="unknown stage 'Prod'"):
        reg.transition("m", 1, "Prod")
    with pytest.raises(NotFound, match="m has no version 9"):
        reg.transition("m", 9, "Staging")
    with pytest.raises(PolicyError, match="through a pull request"):
        reg.transition("m", 1, "Production")
    with pytest.raises(Conflict, match="already in None"):
        reg.transition("m", 1, "None")


def test_aliases_tags_descriptions(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    reg.register("m", artifact)
    reg.set_alias("m", "champion", 1)
    reg.set_alias("m", "champion", 2)
    assert commits(reg)[:2] == ["m: alias champion v1 -> v2", "m: alias champion v1"]
    assert reg.resolve("models:/m@champion").version == 2
    with pytest.raises(UsageError, match="reserved"):
        reg.set_alias("m", "latest", 1)
    reg.set_tag("m", "owner", "alice")
    reg.set_tag("m", "validated", "yes", version=2)
    assert reg.get_model("m").tags == {"owner": "alice"}
    assert reg.get_version("m", 2).tags == {"validated": "yes"}
    reg.delete_tag("m", "validated", version=2)
    with pytest.raises(NotFound, match="m v2 has no tag 'validated'"):
        reg.delete_tag("m", "validated", version=2)
    reg.describe("m", "# Fraud\n\nDetects *fraud*.\n")
    assert reg.get_model("m").description == "# Fraud\n\nDetects *fraud*.\n"
    reg.delete_version("m", 2)
    assert reg.get_model("m").aliases == {}, "deleting a version drops its aliases"
    with pytest.raises(NotFound, match="m has no alias 'nope'"):
        reg.delete_alias("m", "nope")
    assert clean(reg)


def test_rename_moves_every_version(reg: Registry, artifact: Path) -> None:
    reg.register("old", artifact)
    reg.register("old", artifact)
    reg.register("other", artifact)
    with pytest.raises(AlreadyExists):
        reg.rename("old", "other")
    reg.rename("old", "new")
    assert [v.name for v in reg.versions("new")] == ["new", "new"]
    assert not (reg.root / "models/old").exists()
    with pytest.raises(NotFound):
        reg.get_model("old")
    assert commits(reg)[0] == "rename old -> new"
    assert clean(reg)


def test_resolve_forms_and_as_of(reg: Registry, artifact: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pkl"
    other.write_bytes(b"v2")
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    then = git(reg.root, "rev-parse", "HEAD").strip()
    reg.register("m", other)
    reg.transition("m", 2, "Staging")
    assert reg.resolve("models:/m/1").version == 1
    assert reg.resolve("models:/m/latest").version == 2
    assert reg.resolve("models:/m/Staging").version == 2
    assert reg.resolve("models:/m/staging").version == 2
    past = reg.at(ref=then)
    assert past.resolve("models:/m/Staging").version == 1
    assert past.resolve("models:/m/latest").version == 1
    assert reg.at(date="2999-01-01").resolve("models:/m/latest").version == 2
    with pytest.raises(NotFound, match="no commit at or before that date"):
        reg.at(date="1990-01-01")
    with pytest.raises(NotFound, match="unknown git ref"):
        reg.at(ref="no-such-branch")
    assert not hasattr(past, "register"), "a view of the past is read-only"
    with pytest.raises(NotFound, match="no version in stage Production"):
        reg.resolve("models:/m/Production")
    with pytest.raises(UsageError, match="not a model URI"):
        reg.resolve("runs:/abc/model")


def test_search(reg: Registry, artifact: Path) -> None:
    reg.register("fraud-a", artifact, metrics={"auc": 0.95}, params={"lr": "0.1"})
    reg.register("fraud-b", artifact, metrics={"auc": 0.85})
    reg.register("churn", artifact, metrics={"auc": 0.99})
    reg.set_alias("fraud-a", "champion", 1)
    found = reg.search_versions("name LIKE 'fraud%' AND metrics.auc > 0.9")
    assert [(v.name, v.version) for v in found] == [("fraud-a", 1)]
    found = reg.search_versions("aliases = 'champion' OR name = 'churn'", ["name DESC"])
    assert [v.name for v in found] == ["fraud-a", "churn"]
    assert [m.name for m in reg.search_models("name ILIKE 'FRAUD%'")] == ["fraud-a", "fraud-b"]
    assert len(reg.search_versions("", max_results=2)) == 2


def test_broken_manifest_names_file_and_line(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    path = reg.root / "models/m/versions/1.yaml"
    text = path.read_text().replace("stage: None", "stage: None\nstage: Production")
    path.write_text(text)
    with pytest.raises(ManifestError, match=r"models/m/versions/1.yaml:\d+: duplicate key 'stage'"):
        reg.get_version("m", 1)
    problems = reg.check()
    assert len(problems) == 1 and "duplicate key" in str(problems[0])


def test_write_refuses_uncommitted_edits(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    path = reg.root / "models/m/versions/1.yaml"
    path.write_text(path.read_text().replace("description: ''", "description: hand edit"))
    with pytest.raises(Conflict, match="uncommitted changes"):
        reg.set_tag("m", "k", "v", version=1)
    assert "hand edit" in path.read_text(), "the user's edit is kept"


def test_failed_commit_leaves_tree_as_before(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    # an empty identity makes `git commit` fail after the files were written
    git(reg.root, "config", "user.email", "")
    git(reg.root, "config", "user.name", "")
    before = (reg.root / "models/m/model.yaml").read_bytes()
    with pytest.raises(Exception, match="git"):
        reg.set_tag("m", "k", "v")
    assert (reg.root / "models/m/model.yaml").read_bytes() == before
    assert clean(reg)


def test_production_cannot_be_deleted(tmp_path: Path, artifact: Path) -> None:
    init_registry(tmp_path / "r")
    cfg = tmp_path / "r/gitreg.yaml"
    text = cfg.read_text().replace("via: pull_request", "via: commit")
    gates = text.split("    gates:\n")[1].split("  Archived:")[0]
    cfg.write_text(text.replace("    gates:\n" + gates, ""))
    git(tmp_path / "r", "commit", "-qam", "production by commit, no gates")
    reg = Registry(tmp_path / "r")
    reg.register("m", artifact)
    reg.transition("m", 1, "Staging")
    reg.transition("m", 1, "Production")
    with pytest.raises(PolicyError, match="cannot be deleted"):
        reg.delete_version("m", 1)
    with pytest.raises(PolicyError, match="cannot be deleted"):
        reg.delete_model("m")
    reg.register("m", artifact)
    reg.transition("m", 2, "Staging")
    reg.transition("m", 2, "Production")
    assert [v.stage for v in reg.versions("m")] == ["Archived", "Production"], "exclusive"


def test_not_a_registry(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not inside a gitreg registry"):
        Registry(tmp_path)


def test_rewriting_an_unchanged_record_changes_no_byte(reg: Registry, artifact: Path) -> None:
    reg.register(
        "m",
        artifact,
        metrics={"auc": 0.9, "loss": 1e-05},
        tags={"v": "1.10", "n": "NO"},
        description="# Title\n\nline two\n",
        params={"when": "2024-01-01"},
    )
    reg.set_alias("m", "champion", 1)
    for rel, record in [
        (version_path("m", 1), reg.get_version("m", 1).to_dict()),
        (model_path("m"), reg.get_model("m").to_dict()),
    ]:
        kind = "version" if "versions/" in rel else "model"
        assert dump_record(record, kind) == (reg.root / rel).read_bytes()
    mv = reg.get_version("m", 1)
    assert mv.tags == {"v": "1.10", "n": "NO"} and mv.params == {"when": "2024-01-01"}
    before = git(reg.root, "rev-parse", "HEAD")
    reg.set_alias("m", "champion", 1)
    assert git(reg.root, "rev-parse", "HEAD") == before, "a no-op write makes no commit"


def test_gates_bind_direct_commit_transitions(tmp_path: Path, artifact: Path) -> None:
    init_registry(tmp_path / "r")
    cfg = tmp_path / "r/gitreg.yaml"
    cfg.write_text(
        cfg.read_text().replace(
            "  Staging:\n    via: commit\n",
            "  Staging:\n    via: commit\n    gates:\n      - metric: auc\n        min: 0.8\n",
        )
    )
    git(tmp_path / "r", "commit", "-qam", "a gate on Staging")
    reg = Registry(tmp_path / "r")
    reg.register("m", artifact, metrics={"auc": 0.7})
    reg.register("m", artifact)  # no metric at all: fails closed
    for version in (1, 2):
        with pytest.raises(PolicyError, match=f"m v{version} fails the gates for Staging"):
            reg.transition("m", version, "Staging")
    reg.register("m", artifact, metrics={"auc": 0.85})
    assert reg.transition("m", 3, "Staging").stage == "Staging"
    assert [v.stage for v in reg.versions("m")] == ["None", "None", "Staging"]
