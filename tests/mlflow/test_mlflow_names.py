"""Names MLflow's own store accepts work through the plugin, kept under a safe folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_mlflow_store import make_registry

from gitreg import Registry

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def clients(tmp_path: Path) -> tuple[Any, Any, Path]:
    """(MLflow's SQL store, gitreg, the registry), sharing one tracking store."""
    from mlflow import MlflowClient

    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = make_registry(tmp_path / "reg")
    return MlflowClient(db, db), MlflowClient(db, f"gitreg://{reg}"), reg


def test_fraud_detector_through_mlflows_client(
    clients: tuple[Any, Any, Path], tmp_path: Path
) -> None:
    sql, client, reg = clients
    art = tmp_path / "model"
    art.mkdir()
    (art / "MLmodel").write_text("flavors: {}\n")
    for c in (sql, client):
        c.create_registered_model("Fraud Detector")
        c.create_model_version("Fraud Detector", str(art))
        c.set_registered_model_alias("Fraud Detector", "champion", "1")
    assert (reg / "models/~Fraud~20Detector/versions/1.yaml").is_file()
    for c in (sql, client):
        assert [str(v.version) for v in c.search_model_versions("name = 'Fraud Detector'")] == ["1"]
        assert [m.name for m in c.search_registered_models("name = 'Fraud Detector'")] == [
            "Fraud Detector"
        ]
        assert str(c.get_model_version_by_alias("Fraud Detector", "champion").version) == "1"
    client.rename_registered_model("Fraud Detector", "original name")
    assert client.get_registered_model("original name").name == "original name"
    assert (reg / "models/~original~20name/model.yaml").is_file()
    assert Registry(reg).resolve("models:/original name/1").name == "original name"
    assert Registry(reg).check() == []


@pytest.mark.parametrize("bad", ["a/b", "a:b", "../x", "  "])
def test_names_mlflow_refuses_are_refused_alike(clients: tuple[Any, Any, Path], bad: str) -> None:
    from mlflow.exceptions import MlflowException

    sql, client, _ = clients
    for c in (sql, client):
        with pytest.raises(MlflowException) as e:
            c.create_registered_model(bad)
        assert e.value.error_code == "INVALID_PARAMETER_VALUE"
