"""Loading through MLflow never writes into registered bytes, and works with the store gone.

MLflow writes ``registered_model_meta`` into every model folder it loads by ``models:/``; the
plugin hands it a verified copy of its own, filled through gitreg's cache."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import git
from test_mlflow_store import make_registry

from gitreg import Registry
from gitreg.cli import cli

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)


@pytest.fixture(autouse=True)
def mlflow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    reg_path = make_registry(tmp_path / "reg")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"gitreg://{reg_path}")
    return reg_path


def log_doubler(tmp_path: Path, name: str = "doubler") -> Any:
    import mlflow

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
        def predict(self, context: Any, model_input: list[int], params: Any = None) -> list[int]:
            return [2 * x for x in model_input]

    exp = mlflow.create_experiment(
        f"load-{tmp_path.name}", artifact_location=(tmp_path / "mlartifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=exp):
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=Doubler(),
            registered_model_name=name,
            pip_requirements=["mlflow"],
        )


def verify_all(reg_path: Path) -> str:
    result = CliRunner().invoke(cli, ["--repo", str(reg_path), "verify", "--all"])
    assert result.exit_code == 0, result.output
    return result.output


def test_loads_never_write_into_the_registered_folder(
    tmp_path: Path, mlflow_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    log_doubler(tmp_path)
    registered = Path(Registry(mlflow_env).get_version("doubler", 1).artifact.uri[len("file://") :])
    before = sorted(p.name for p in registered.iterdir())
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("doubler", "champion", 1)
    for _ in range(3):
        for uri in ("models:/doubler/1", "models:/doubler@champion", "models:/doubler/latest"):
            assert mlflow.pyfunc.load_model(uri).predict([1, 2]) == [2, 4]
    got = mlflow.artifacts.download_artifacts("models:/doubler/1")
    assert (Path(got) / "registered_model_meta").is_file(), "MLflow still gets its meta file"
    assert not str(got).startswith(str(registered))
    assert sorted(p.name for p in registered.iterdir()) == before
    assert "doubler 1 OK" in " ".join(verify_all(mlflow_env).split())

    # the store (here MLflow's artifact folder, referenced in place) is gone: the cache serves
    shutil.move(tmp_path / "mlartifacts", tmp_path / "elsewhere")
    assert mlflow.pyfunc.load_model("models:/doubler@champion").predict([3]) == [6]


def test_gitregs_own_store_is_read_only_and_loads_offline(tmp_path: Path, mlflow_env: Path) -> None:
    import mlflow

    folder = tmp_path / "exported"
    info = log_doubler(tmp_path, name="staging-copy")
    mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(folder))
    mv = Registry(mlflow_env).register("doubler", folder)  # copied into the file:// store
    stored = Path(mv.artifact.uri[len("file://") :])
    assert stored.is_dir() and not str(stored).startswith(str(folder))
    modes = {p.stat().st_mode & 0o777 for p in [stored, *stored.rglob("*")]}
    assert modes <= {0o555, 0o444}, "no write bit on any stored folder or file"
    for _ in range(3):
        assert mlflow.pyfunc.load_model(f"models:/doubler/{mv.version}").predict([1]) == [2]
    verify_all(mlflow_env)

    shutil.move(mlflow_env.parent / "registry-artifacts", tmp_path / "moved-away")
    assert mlflow.pyfunc.load_model(f"models:/doubler/{mv.version}").predict([5]) == [10]
    assert git(mlflow_env, "status", "--porcelain") == ""
