"""``gitreg import-mlflow``: an MLflow registry on SQLite, imported and compared field by field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import git

from gitreg import Registry
from gitreg.cli import cli
from gitreg.registry.template import init_registry

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")


def artifact(root: Path, name: str) -> str:
    d = root / name
    d.mkdir(parents=True)
    (d / "MLmodel").write_text(f"name: {name}\n")
    (d / "model.bin").write_bytes(os.urandom(256))
    return str(d)


def build_mlflow_registry(tmp_path: Path) -> tuple[Any, str]:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = MlflowClient(tracking_uri=uri, registry_uri=uri)
    arts = tmp_path / "mlruns"
    c.create_registered_model("fraud", tags={"team": "risk"}, description="Flags **fraud**")
    for n in range(1, 5):
        c.create_model_version(
            "fraud", artifact(arts, f"fraud-{n}"), run_id=f"run-{n}", tags={"n": str(n)},
            description=f"version {n}",
        )  # fmt: skip
    c.delete_model_version("fraud", 2)  # a gap: numbers are kept, 2 is never reissued
    c.transition_model_version_stage("fraud", 1, "Archived")
    c.transition_model_version_stage("fraud", 3, "Staging")
    c.transition_model_version_stage("fraud", 4, "Production")
    c.set_registered_model_alias("fraud", "champion", 4)
    c.set_registered_model_alias("fraud", "challenger", 3)
    c.create_registered_model("churn")
    c.create_model_version("churn", artifact(arts, "churn-1"))
    c.create_registered_model("bad name")  # a name MLflow accepts: kept under models/~bad~20name
    return c, uri


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_import_compares_field_by_field_and_reruns_import_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    src, uri = build_mlflow_registry(tmp_path)
    reg_path = tmp_path / "reg"
    init_registry(reg_path)
    monkeypatch.setenv("GITREG_REPO", str(reg_path))
    before = int(git(reg_path, "rev-list", "--count", "HEAD"))

    out = json.loads(run("import-mlflow", "--from", uri, "--json").stdout)
    assert out["imported"] == {"churn": [1], "fraud": [1, 3, 4]}
    assert out["updated"] == ["bad name"] and out["skipped"] == {}
    assert (reg_path / "models/~bad~20name/model.yaml").is_file()
    assert int(git(reg_path, "rev-list", "--count", "HEAD")) == before + 3  # one per model
    assert "import fraud from MLflow (3 versions)" in git(reg_path, "log", "--format=%s")

    dst = MlflowClient(tracking_uri=uri, registry_uri=f"gitreg://{reg_path}")
    for name in ("fraud", "churn"):
        a, b = src.get_registered_model(name), dst.get_registered_model(name)
        assert (b.name, b.description, b.tags, b.aliases) == (a.name, a.description, a.tags,
                                                                a.aliases)  # fmt: skip
        assert b.creation_timestamp == a.creation_timestamp // 1000 * 1000
        src_versions = src.search_model_versions(f"name = '{name}'")
        for found in src_versions:  # MLflow's search leaves aliases out: get each one
            va, vb = (c.get_model_version(name, found.version) for c in (src, dst))
            fields = ("name", "version", "current_stage", "description", "tags", "run_id",
                      "source", "aliases", "status")  # fmt: skip
            assert {f: getattr(vb, f) for f in fields} == {f: getattr(va, f) for f in fields}
            assert vb.creation_timestamp == va.creation_timestamp // 1000 * 1000
            stored = Registry(reg_path).get_version(name, int(va.version)).artifact.uri
            assert stored == Path(va.source).as_uri()
        assert len(dst.search_model_versions(f"name = '{name}'")) == len(src_versions)
    mv = Registry(reg_path).get_version("fraud", 4)
    assert mv.artifact.digest.startswith("sha256:") and mv.artifact.size > 256
    assert Registry(reg_path).get_model("fraud").last_version == 4
    assert Registry(reg_path).check() == []

    assert "Nothing new to import" in run("import-mlflow", "--from", uri).stdout
    assert int(git(reg_path, "rev-list", "--count", "HEAD")) == before + 3

    src.create_model_version("fraud", artifact(tmp_path / "mlruns", "fraud-5"))
    src.create_registered_model("fraud-v2")
    src.create_model_version("fraud-v2", artifact(tmp_path / "mlruns", "v2-1"))
    out = json.loads(run("import-mlflow", "--from", uri, "--models", "fraud", "--json").stdout)
    assert out["imported"] == {"fraud": [5]}  # the glob matches "fraud" only
    assert dst.get_model_version("fraud", 5).current_stage == "None"
    assert git(reg_path, "status", "--porcelain") == ""


def test_import_without_mlflow_answers_with_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    init_registry(tmp_path / "reg")
    monkeypatch.setenv("GITREG_REPO", str(tmp_path / "reg"))
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an install without the extra sees
    result = CliRunner().invoke(cli, ["import-mlflow", "--from", "sqlite:///x.db"])
    assert result.exit_code == 2
    assert "pip install 'gitreg-ml[mlflow]'" in result.stderr and "Traceback" not in result.output
