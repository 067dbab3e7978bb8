"""The MLflow registry workflow a team already has, unchanged, on a gitreg registry with the
template's gates: log_model with registered_model_name inside a run that logged val_auc,
register_model, aliases, search by tag, load by @champion, and Production through a pull
request whose gates pass on the run's own metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import git
from gitops_helpers import backdated

from gitreg import Registry
from gitreg.cli import cli
from gitreg.registry.template import init_registry

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)

GATES = """\
      - metric: val_auc
        min: 0.80
      - not_worse_than_current: {metric: val_auc, tolerance: 0.01}
      - lineage: [data_version, source_commit]
"""


def template_registry(tmp_path: Path) -> Path:
    """The template, with its metric gates turned on, and a bare remote as origin."""
    path = tmp_path / "reg"
    with backdated(72):  # older than the runs below: commit times are clamped
        init_registry(path)
        cfg = path / "gitreg.yaml"
        text = cfg.read_text()
        start = text.index("      # Name the metric")
        end = text.index("  Archived:")
        cfg.write_text(text[:start] + GATES + text[end:])
        git(path, "commit", "-qam", "gate on val_auc")
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(path, "remote", "add", "origin", str(bare))
    git(path, "push", "-q", "origin", "main")
    return path


@pytest.fixture
def seed_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # MLflow's default experiment writes ./mlruns
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    path = template_registry(tmp_path)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"gitreg://{path}?push=true")
    return path


def train_and_log(tmp_path: Path, auc: float) -> tuple[Any, Any]:
    """The seed's training script: a run that logs params, val_auc and the model."""
    import mlflow

    class Scorer(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
        def predict(self, context: Any, model_input: list[int], params: Any = None) -> list[int]:
            return [x + 1 for x in model_input]

    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(
            f"fraud-{auc}", artifact_location=(tmp_path / "mlartifacts").as_uri()
        )
    )
    with mlflow.start_run() as run:
        mlflow.set_tags({"data_version": "2026-10", "mlflow.source.git.commit": "1a2b3c4d"})
        mlflow.log_params({"lr": 0.01, "trees": 300})
        mlflow.log_metric("val_auc", auc - 0.05, step=1)
        mlflow.log_metric("val_auc", auc, step=2)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=Scorer(),
            registered_model_name="fraud-detector",
            pip_requirements=["mlflow"],
        )
    return run, info


def test_the_seed_workflow_reaches_production_on_the_runs_metrics(
    tmp_path: Path, seed_env: Path
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    with backdated(48):  # trained two days ago, and in Staging since
        run, info = train_and_log(tmp_path, auc=0.91)
        assert info.registered_model_version == 1
        again = mlflow.register_model(f"runs:/{run.info.run_id}/model", "fraud-detector")
        assert again.version == 2
        client.transition_model_version_stage("fraud-detector", 1, "Staging")
        client.update_model_version("fraud-detector", 1, "Gradient boosting, Oct data.")
        client.set_model_version_tag("fraud-detector", 1, "team", "risk")

    manifest = Registry(seed_env).get_version("fraud-detector", 1)
    assert manifest.metrics == {"val_auc": 0.91}, "the latest value of the run's metric"
    assert manifest.params == {"lr": "0.01", "trees": "300"}
    assert manifest.lineage["source_commit"] == "1a2b3c4d"
    assert manifest.lineage["data_version"] == "2026-10"
    assert manifest.lineage["run_id"] == run.info.run_id
    assert Registry(seed_env).get_version("fraud-detector", 2).metrics == {"val_auc": 0.91}
    assert client.get_model_version("fraud-detector", 1).tags == {"team": "risk"}, (
        "run facts go to the manifest, not to MLflow's version tags"
    )

    client.set_registered_model_alias("fraud-detector", "champion", 1)
    [hit] = client.search_model_versions("tags.team = 'risk'")
    assert (hit.name, hit.version) == ("fraud-detector", 1)
    for _ in range(3):
        assert mlflow.pyfunc.load_model("models:/fraud-detector@champion").predict([1]) == [2]

    with pytest.raises(MlflowException) as e:
        client.transition_model_version_stage("fraud-detector", 1, "Production")
    message = str(e.value.message)
    assert "prepared branch promote/fraud-detector-v1-production" in message, message
    branch = "promote/fraud-detector-v1-production"
    pushed = git(
        seed_env.parent / "remote.git", "show", f"{branch}:models/fraud-detector/versions/1.yaml"
    )
    assert "stage: Production" in pushed

    result = CliRunner().invoke(cli, ["--repo", str(seed_env), "verify", "--all"])
    assert result.exit_code == 0, result.output
    args = ["--repo", str(seed_env), "check", "--base", "main", "--head", branch]
    check = CliRunner().invoke(cli, args)
    assert check.exit_code == 0, check.output


def test_a_run_below_the_gate_is_refused_naming_the_metric(tmp_path: Path, seed_env: Path) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    with backdated(48):
        train_and_log(tmp_path, auc=0.75)
        client.transition_model_version_stage("fraud-detector", 1, "Staging")
        client.update_model_version("fraud-detector", 1, "Too weak.")
    with pytest.raises(MlflowException) as e:
        client.transition_model_version_stage("fraud-detector", 1, "Production")
    assert "val_auc = 0.75 is below the minimum 0.8" in str(e.value.message)


def test_run_facts_keep_only_what_gitreg_can_store(tmp_path: Path, seed_env: Path) -> None:
    import mlflow
    import pandas as pd

    from gitreg.mlflow.runs import run_facts

    client = mlflow.MlflowClient()
    with mlflow.start_run(experiment_id=mlflow.create_experiment("facts")) as run:
        mlflow.log_metrics({"val_auc": 0.9, "loss": float("nan")})
        mlflow.log_params({"lr": "0.1", "aws_key": "AKIAIOSFODNN7EXAMPLE"})
        data = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="cards")
        mlflow.log_input(data, context="training")
    facts = run_facts(client, run.info.run_id)
    assert facts.metrics == {"val_auc": 0.9}, "NaN is left out: a gate on it fails closed"
    assert facts.params == {"lr": "0.1"}
    assert facts.lineage["withheld_params"] == "aws_key"
    assert facts.lineage["data_version"] == f"cards@{data.digest}"
    assert run_facts(client, "no-such-run") == type(facts)()


def test_webhooks_hear_the_seeds_registrations_and_transitions(
    tmp_path: Path, seed_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import mlflow
    from webhook_receiver import SECRET, Receiver, check_mlflow_signature, lower

    for var in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")  # the receiver: 127.0.0.1
    monkeypatch.setenv("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
    receiver = Receiver()
    try:
        client = mlflow.MlflowClient()
        client.create_webhook(
            name="deploy", url=receiver.url, secret="env:HOOK_SECRET",
            events=["model_version.created", "model_version_alias.created"],
        )  # fmt: skip
        cfg = seed_env / "gitreg.yaml"  # MLflow has no transition event: gitreg.yaml adds it
        cfg.write_text(cfg.read_text().replace(
            "  - model_version_alias.created\n",
            "  - model_version_alias.created\n  - model_version.stage_transitioned\n",
        ))  # fmt: skip
        git(seed_env, "commit", "-qam", "deploy hook: transitions too")
        git(seed_env, "push", "-q", "origin", "main")
        before = git(seed_env, "rev-parse", "HEAD").strip()
        train_and_log(tmp_path, auc=0.91)
        client.transition_model_version_stage("fraud-detector", 1, "Staging")
        client.set_registered_model_alias("fraud-detector", "champion", 1)
        result = CliRunner().invoke(cli, ["--repo", str(seed_env), "notify", "--from", before])
        assert result.exit_code == 0, result.output
        sent = []
        for headers, body, _ in receiver.requests:
            check_mlflow_signature(lower(headers), body)
            sent.append(json.loads(body))
    finally:
        receiver.close()
    assert [(s["entity"], s["action"], s["data"]["version"]) for s in sent] == [
        ("model_version", "created", "1"),
        ("model_version", "stage_transitioned", "1"),
        ("model_version_alias", "created", "1"),
    ]
    assert sent[1]["data"]["to_stage"] == "Staging"
