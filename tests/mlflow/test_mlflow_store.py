"""The MLflow registry store plugin, driven by MLflow's own client (the real ``mlflow``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import git

from gitreg import Registry
from gitreg.registry.template import init_registry

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow decides at import time; every test module imports mlflow inside a test.
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite tracking store per module: creating its tables costs about a second."""
    return f"sqlite:///{tmp_path_factory.mktemp('tracking') / 'mlflow.db'}"


def make_registry(path: Path, production_via: str = "commit") -> Path:
    init_registry(path)
    cfg = path / "gitreg.yaml"
    text = cfg.read_text().replace("via: pull_request", f"via: {production_via}")
    text = text.replace("    from: [Staging]\n    exclusive: true\n", "")  # as MLflow: any move
    if production_via == "commit":  # ... and no gates
        gates = text.split("    gates:\n")[1].split("  Archived:")[0]
        text = text.replace("    gates:\n" + gates, "")
    cfg.write_text(text)
    git(path, "commit", "-qam", "Production via commit")
    return path


@pytest.fixture
def reg_path(tmp_path: Path) -> Path:
    return make_registry(tmp_path / "reg")


@pytest.fixture
def client(reg_path: Path, tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=f"gitreg://{reg_path}")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "artifacts" / "model"
    d.mkdir(parents=True)
    (d / "MLmodel").write_text("flavors: {}\n")
    (d / "weights.bin").write_bytes(os.urandom(1024))
    return d


def commits(path: Path) -> int:
    return int(git(path, "rev-list", "--count", "HEAD"))


def code(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(exc.value.error_code)


def test_the_plugin_is_found_by_uri(reg_path: Path) -> None:
    import mlflow
    from mlflow.tracking._model_registry.utils import _get_store

    from gitreg.mlflow import GitregStore

    store = _get_store(f"gitreg://{reg_path}")
    assert isinstance(store, GitregStore)
    assert store.root == reg_path
    methods = [
        name
        for name, fn in vars(mlflow.store.model_registry.abstract_store.AbstractStore).items()
        if getattr(fn, "__isabstractmethod__", False)
    ]
    assert len(methods) == 21
    assert not getattr(GitregStore, "__abstractmethods__", None)
    assert all(getattr(GitregStore, name).__module__.startswith("gitreg.") for name in methods)


def test_every_method_through_mlflows_client(client: Any, reg_path: Path, model_dir: Path) -> None:
    start = commits(reg_path)
    rm = client.create_registered_model("fraud", tags={"team": "risk"}, description="Flags")
    assert (rm.name, rm.tags, rm.description) == ("fraud", {"team": "risk"}, "Flags")
    assert isinstance(rm.creation_timestamp, int) and rm.creation_timestamp > 1_600_000_000_000
    assert commits(reg_path) == start + 1
    assert "create model fraud" in git(reg_path, "log", "-1", "--format=%s")

    mv = client.create_model_version(
        "fraud", str(model_dir), run_id="run-1", tags={"k": "v"}, description="first"
    )
    assert (mv.version, mv.current_stage, mv.run_id, mv.status) == (1, "None", "run-1", "READY")
    assert mv.source == str(model_dir) and mv.description == "first" and mv.tags == {"k": "v"}
    assert mv.user_id == "Test User <test@example.com>"
    copy = Path(client.get_model_version_download_uri("fraud", "1").removeprefix("file://"))
    assert (
        copy != model_dir
        and (copy / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()
    ), "a verified copy: MLflow writes into what it loads"
    assert Registry(reg_path).get_version("fraud", 1).artifact.uri == model_dir.as_uri()
    on_disk = Registry(reg_path).get_version("fraud", 1)
    assert on_disk.artifact.digest.startswith("sha256:") and len(on_disk.artifact.files) == 2
    client.create_model_version("fraud", model_dir.as_uri(), run_id="run-2")

    assert client.get_model_version("fraud", 2).run_id == "run-2"
    assert client.update_model_version("fraud", 2, "second").description == "second"
    assert client.update_registered_model("fraud", "Flags card fraud").description == (
        "Flags card fraud"
    )
    client.set_registered_model_tag("fraud", "owner", "ana")
    client.delete_registered_model_tag("fraud", "team")
    client.delete_registered_model_tag("fraud", "never-set")  # MLflow: not an error
    assert client.get_registered_model("fraud").tags == {"owner": "ana"}
    client.set_model_version_tag("fraud", 1, "validated", "yes")
    client.delete_model_version_tag("fraud", 1, "k")
    assert client.get_model_version("fraud", 1).tags == {"validated": "yes"}

    staged = client.transition_model_version_stage("fraud", 1, "staging")
    assert staged.current_stage == "Staging"
    client.transition_model_version_stage("fraud", 1, "Production")
    moved = client.transition_model_version_stage(
        "fraud", 2, "Production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    assert client.get_model_version("fraud", 1).current_stage == "Archived"
    latest = client.get_latest_versions("fraud", ["Production"])
    assert [v.version for v in latest] == [2]
    assert sorted(v.current_stage for v in client.get_latest_versions("fraud")) == [
        "Archived",
        "Production",
    ]

    client.set_registered_model_alias("fraud", "champion", "2")
    assert client.get_model_version_by_alias("fraud", "champion").version == 2
    assert client.get_model_version_by_alias("fraud", "champion").aliases == ["champion"]
    assert client.get_registered_model("fraud").aliases == {"champion": 2}
    client.delete_registered_model_alias("fraud", "champion")
    assert client.get_registered_model("fraud").aliases == {}

    client.create_registered_model("churn")
    found = client.search_registered_models("name LIKE 'fr%'")
    assert [m.name for m in found] == ["fraud"] and found.token is None
    assert [v.version for v in found[0].latest_versions] == [1, 2]
    page = client.search_registered_models(max_results=1)
    assert [m.name for m in page] == ["churn"] and page.token
    rest = client.search_registered_models(max_results=1, page_token=page.token)
    assert [m.name for m in rest] == ["fraud"] and rest.token is None
    versions = client.search_model_versions("name = 'fraud' AND run_id = 'run-2'")
    assert [(v.name, v.version) for v in versions] == [("fraud", 2)]
    assert len(client.search_model_versions("tags.validated = 'yes'")) == 1

    client.rename_registered_model("fraud", "card-fraud")  # MLflow's client returns None
    assert client.get_registered_model("card-fraud").name == "card-fraud"
    assert client.get_model_version("card-fraud", 2).current_stage == "Production"
    client.transition_model_version_stage("card-fraud", 2, "Archived")
    client.delete_model_version("card-fraud", 1)
    assert [v.version for v in client.search_model_versions("name = 'card-fraud'")] == [2]
    client.delete_registered_model("card-fraud")
    assert [m.name for m in client.search_registered_models()] == ["churn"]
    log = git(reg_path, "log", "--format=%s", f"HEAD~{commits(reg_path) - start}..HEAD")
    assert "rename fraud -> card-fraud" in log and "delete card-fraud" in log
    assert git(reg_path, "status", "--porcelain") == ""


def test_errors_carry_mlflows_codes(client: Any, model_dir: Path, reg_path: Path) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="Registered Model with name=nope not found") as e:
        client.get_registered_model("nope")
    assert code(e) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.create_model_version("nope", str(model_dir))
    assert code(e) == "RESOURCE_DOES_NOT_EXIST"
    client.create_registered_model("m")
    with pytest.raises(MlflowException, match=r"Registered Model \(name=m\) already exists") as e:
        client.create_registered_model("m")
    assert code(e) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match=r"Model Version \(name=m, version=3\)") as e:
        client.get_model_version("m", "3")
    assert code(e) == "RESOURCE_DOES_NOT_EXIST"
    client.create_model_version("m", str(model_dir))
    client.create_registered_model("other")
    with pytest.raises(MlflowException) as e:
        client.rename_registered_model("m", "other")
    assert code(e) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match="alias champion not found") as e:
        client.get_model_version_by_alias("m", "champion")
    assert code(e) == "INVALID_PARAMETER_VALUE"
    assert client.get_model_version_by_alias("m", "latest").version == 1
    for bad in (
        lambda: client.set_registered_model_alias("m", "latest", "1"),
        lambda: client.set_registered_model_alias("m", "v2", "1"),
        lambda: client.create_registered_model("a/b"),
        lambda: client.transition_model_version_stage("m", 1, "Shipped"),
        lambda: client.transition_model_version_stage("m", 1, "Archived", True),
        lambda: client.search_model_versions("name = "),
        lambda: client.search_registered_models(max_results=1001),
        lambda: client.create_model_version("m", "ftp://example.com/x"),
    ):
        with pytest.raises(MlflowException) as e:
            bad()
        assert code(e) == "INVALID_PARAMETER_VALUE", e.value
    assert commits(reg_path) == 5  # init, config, create m, v1, create other: nothing else


def test_production_via_pull_request_opens_a_branch_and_says_where(
    tmp_path: Path, tracking_uri: str, model_dir: Path
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    reg_path = make_registry(tmp_path / "reg", production_via="pull_request")
    cfg = reg_path / "gitreg.yaml"
    gates = cfg.read_text().split("    gates:\n")[1].split("  Archived:")[0]
    cfg.write_text(cfg.read_text().replace("    gates:\n" + gates, ""))  # no gates here
    git(reg_path, "commit", "-qam", "Production via pull request, no gates")
    git(reg_path, "remote", "add", "origin", str(remote))
    git(reg_path, "push", "-q", "origin", "main")
    uri = f"gitreg://{reg_path}?push=true"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=uri)
    client.create_registered_model("m")
    client.create_model_version("m", str(model_dir))
    client.transition_model_version_stage("m", 1, "Staging")
    assert git(remote, "log", "-1", "--format=%s", "main").strip() == "m v1: None -> Staging"
    before = git(reg_path, "rev-parse", "HEAD")
    with pytest.raises(MlflowException) as e:
        client.transition_model_version_stage("m", 1, "Production")
    assert code(e) == "INVALID_PARAMETER_VALUE"
    message = str(e.value.message)
    assert "through a pull request: prepared branch promote/m-v1-production" in message
    assert "m v1 stays in Staging until it is merged" in message
    assert git(reg_path, "rev-parse", "HEAD") == before, "main is untouched"
    assert client.get_model_version("m", 1).current_stage == "Staging"
    pushed = git(remote, "show", "promote/m-v1-production:models/m/versions/1.yaml")
    assert "stage: Production" in pushed


def test_failing_gates_are_refused_through_mlflow(
    tmp_path: Path, tracking_uri: str, model_dir: Path
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    reg_path = tmp_path / "reg"
    init_registry(reg_path)  # the template: Production via pull request, with gates
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=f"gitreg://{reg_path}")
    client.create_registered_model("m")
    client.create_model_version("m", str(model_dir))
    client.transition_model_version_stage("m", 1, "Staging")
    before = git(reg_path, "rev-parse", "HEAD")
    with pytest.raises(MlflowException) as e:
        client.transition_model_version_stage("m", 1, "Production")
    assert code(e) == "INVALID_PARAMETER_VALUE"
    assert "time_in_stage" in str(e.value.message)
    assert git(reg_path, "rev-parse", "HEAD") == before
    assert git(reg_path, "branch", "--list", "promote/*") == ""


def test_webhook_methods_answer_none(reg_path: Path) -> None:
    from mlflow.entities.webhook import WebhookEvent
    from mlflow.exceptions import MlflowException
    from mlflow.tracking._model_registry.utils import _get_store

    store = _get_store(f"gitreg://{reg_path}")
    assert store.list_webhooks() == [] and store.list_webhooks().token is None
    assert store.list_webhooks_by_event(WebhookEvent("model_version", "created")) == []
    with pytest.raises(MlflowException):
        store.get_webhook("w1")


def test_flows_of_mlflows_registry_docs(
    tmp_path: Path, reg_path: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Log a pyfunc model and register it during a run, register it again after the run,
    then fetch and load it by version, stage, alias and latest."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"gitreg://{reg_path}")
    import mlflow

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
        def predict(self, context: Any, model_input: list[int], params: Any = None) -> list[int]:
            return [2 * x for x in model_input]

    exp = mlflow.create_experiment(
        f"docs-{tmp_path.name}", artifact_location=(tmp_path / "mlartifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=exp) as run:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=Doubler(),
            registered_model_name="doubler",
            pip_requirements=["mlflow"],
        )
    assert info.registered_model_version == 1
    client = mlflow.MlflowClient()
    mv = client.get_model_version("doubler", 1)
    assert mv.source == info.model_uri and mv.source.startswith("models:/m-")
    assert (mv.run_id, mv.model_id) == (run.info.run_id, info.model_id)
    manifest = Registry(reg_path).get_version("doubler", 1)
    where = manifest.artifact.uri  # the logged model, referenced in place
    assert where.startswith((tmp_path / "mlartifacts").as_uri()) and where.endswith("/artifacts")
    assert "MLmodel" in [f.path for f in manifest.artifact.files]

    again = mlflow.register_model(f"runs:/{run.info.run_id}/model", "doubler")
    assert again.version == 2 and again.run_id == run.info.run_id
    client.transition_model_version_stage("doubler", 2, "Staging")
    client.set_registered_model_alias("doubler", "champion", 1)
    client.update_registered_model("doubler", "Doubles numbers.")

    for uri in ("models:/doubler/1", "models:/doubler/Staging", "models:/doubler@champion",
                "models:/doubler/latest"):  # fmt: skip
        assert mlflow.pyfunc.load_model(uri).predict([1, 2]) == [2, 4], uri
    local = mlflow.artifacts.download_artifacts("models:/doubler@champion", dst_path=str(tmp_path))
    assert (Path(local) / "MLmodel").is_file()
    assert client.get_registered_model("doubler").description == "Doubles numbers."
    assert git(reg_path, "status", "--porcelain") == ""
