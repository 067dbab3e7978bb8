"""Names MLflow accepts ("Fraud Detector") kept under a safe, reversible folder name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git

from gitreg import Registry
from gitreg.cli import cli
from gitreg.errors import AlreadyExists, UsageError
from gitreg.files.check import check_changed
from gitreg.files.tree import WorkTree
from gitreg.layout import folder, folder_name, model_path, parse_path, version_path
from gitreg.repo.tree import CommitTree
from gitreg.trail.changes import MODEL_RENAMED

NAMES = [
    "Fraud Detector",
    "original name",
    ".git",
    "-rf",
    "café v2",
    "a~b",
    "x.",
    "CON x",
    "a@b",
    "x y.",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fraud-detector", "fraud-detector"),  # today's rule: the folder is the name
        ("Fraud Detector", "~Fraud~20Detector"),
        (".git", "~.git"),
        ("-rf", "~-rf"),
        ("café", "~caf~C3~A9"),
        ("a~b", "~a~7Eb"),
        ("x y.", "~x~20y~2E"),  # Windows drops a trailing dot
        ("CON", "CON"),  # an old-rule name keeps its folder (new ones are refused, see below)
    ],
)
def test_folder_encoding(name: str, expected: str) -> None:
    assert folder(name) == expected
    assert folder_name(expected) == name


@pytest.mark.parametrize("name", NAMES)
def test_every_encoded_folder_reads_back(name: str) -> None:
    assert parse_path(version_path(name, 3)) == (name, 3)
    assert parse_path(model_path(name)) == (name, None)
    assert not folder(name).startswith((".", "-")) and "/" not in folder(name)


@pytest.mark.parametrize(
    "entry", ["~a~2eb", "~a~2Eb", "~~2F", "~a~2Fb", "~a~00", "~", "~a b", "~~FF"]
)
def test_folders_no_name_encodes_to_are_not_models(entry: str) -> None:
    assert folder_name(entry) is None
    assert parse_path(f"models/{entry}/model.yaml") is None


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("../x", "cannot contain '/'"),
        ("a/b", "cannot contain '/'"),
        ("a:b", "cannot contain '/' or ':'"),
        ("a\x00b", "control characters"),
        ("a\tb", "control characters"),
        ("..x", "would be read as a path"),
        ("   ", "empty or only spaces"),
        ("x" * 257, "at most 256 characters"),
        ("\u00e9" * 100, "folder name would exceed 255 bytes"),
    ],
)
def test_unsafe_names_are_refused_with_a_sentence(
    reg: Registry, artifact: Path, bad: str, why: str
) -> None:
    with pytest.raises(UsageError, match=f"invalid model name .*{why}"):
        reg.register(bad, artifact)
    with pytest.raises(UsageError, match="invalid model name"):
        reg.create_model(bad)
    assert not [p for p in (reg.root / "models").iterdir() if p.name != ".gitkeep"]


def test_windows_device_names_are_still_refused_for_plain_names(
    reg: Registry, artifact: Path
) -> None:
    with pytest.raises(UsageError, match="device name Windows reserves"):
        reg.register("CON", artifact)
    reg.register("CON x", artifact)  # encoded: ~CON~20x is no device name
    assert (reg.root / "models/~CON~20x/model.yaml").is_file()


def test_a_wide_name_end_to_end(reg: Registry, artifact: Path) -> None:
    mv = reg.register("Fraud Detector", artifact, metrics={"auc": 0.9})
    assert (reg.root / "models/~Fraud~20Detector/versions/1.yaml").is_file()
    assert "/~Fraud~20Detector/sha256/" in mv.artifact.uri
    assert reg.get_model("Fraud Detector").name == "Fraud Detector"
    assert reg.model_names() == ["Fraud Detector"]
    reg.set_alias("Fraud Detector", "champion", 1)
    assert reg.resolve("models:/Fraud Detector/1") == mv
    assert reg.resolve("models:/Fraud Detector@champion").version == 1
    assert [v.version for v in reg.search_versions("name = 'Fraud Detector'")] == [1]
    assert [m.name for m in reg.search_models("name LIKE 'Fraud%'")] == ["Fraud Detector"]
    assert [m.name for m, _ in reg.catalog(["Fraud Detector"])] == ["Fraud Detector"]
    assert [m.name for m, _ in reg.at("HEAD").catalog()] == ["Fraud Detector"]
    assert len(reg.history("Fraud Detector")) >= 2
    assert reg.check() == []


def test_rename_to_and_from_a_wide_name(reg: Registry, artifact: Path) -> None:
    reg.register("fraud", artifact)
    reg.rename("fraud", "Fraud Detector")
    assert not (reg.root / "models/fraud").exists()
    assert reg.get_version("Fraud Detector", 1).name == "Fraud Detector"
    assert [c.type for c in reg.history("Fraud Detector")][-1] == MODEL_RENAMED
    reg.rename("Fraud Detector", "fraud-v2")
    assert [p.name for p in (reg.root / "models").iterdir() if p.name != ".gitkeep"] == ["fraud-v2"]
    assert reg.history("fraud-v2") and reg.check() == []


def test_a_name_differing_only_in_case_is_refused(reg: Registry, artifact: Path) -> None:
    reg.register("Fraud Detector", artifact)
    with pytest.raises(AlreadyExists, match="differs from it only in case"):
        reg.register("fraud detector", artifact)
    with pytest.raises(AlreadyExists, match="differs from it only in case"):
        reg.create_model("FRAUD DETECTOR")


def test_a_folder_that_disagrees_with_its_name_is_an_error(reg: Registry, artifact: Path) -> None:
    reg.register("Fraud Detector", artifact)
    os.rename(reg.root / "models/~Fraud~20Detector", reg.root / "models/~Fraud~20Detector2")
    found = [str(e) for e in reg.check()]
    assert any("name must be 'Fraud Detector2'" in e for e in found), found
    os.rename(reg.root / "models/~Fraud~20Detector2", reg.root / "models/Fraud Detector")
    found = [str(e) for e in reg.check()]
    assert any("belongs in models/~Fraud~20Detector" in e for e in found), found


def test_check_base_of_a_change_adding_a_wide_name(reg: Registry, artifact: Path) -> None:
    reg.register("Fraud Detector", artifact)
    head = CommitTree(reg.git, git(reg.root, "rev-parse", "HEAD").strip())
    changed = git(reg.root, "show", "--name-only", "--format=", "HEAD").split()
    assert "models/~Fraud~20Detector/versions/1.yaml" in changed
    assert check_changed(head, changed) == []
    assert check_changed(WorkTree(reg.root), changed) == []


def test_an_existing_registry_keeps_its_bytes(reg: Registry, artifact: Path) -> None:
    reg.register("fraud-detector", artifact)
    reg.set_alias("fraud-detector", "champion", 1)
    files = git(reg.root, "ls-files", "models").split()
    assert files == [
        "models/.gitkeep",
        "models/fraud-detector/model.yaml",
        "models/fraud-detector/versions/1.yaml",
    ]


def test_the_cli_registers_and_resolves_a_wide_name(
    reg: Registry, artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(reg.root)
    out = CliRunner().invoke(cli, ["register", "Fraud Detector", str(artifact)])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["resolve", "models:/Fraud Detector/1"])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["check"])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["register", "a/b", str(artifact)])
    assert out.exit_code != 0 and "cannot contain '/'" in out.output
