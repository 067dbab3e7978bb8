"""MLflow's webhook API on a gitreg registry: CRUD as commits to gitreg.yaml's webhooks:,
no secret in git, and gitreg notify delivering MLflow's payload to a real receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import git
from test_mlflow_store import make_registry
from webhook_receiver import SECRET, Receiver, check_mlflow_signature, lower

from gitreg.cli import cli

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")  # receivers on 127.0.0.1
    monkeypatch.setenv("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def reg_path(tmp_path: Path) -> Path:
    return make_registry(tmp_path / "reg")


@pytest.fixture
def client(reg_path: Path, tmp_path: Path) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}", f"gitreg://{reg_path}")


def commits(path: Path) -> int:
    return int(git(path, "rev-list", "--count", "HEAD"))


def test_webhook_crud_is_gitreg_yaml(client: Any, reg_path: Path) -> None:
    from mlflow.entities.webhook import WebhookStatus

    before = (reg_path / "gitreg.yaml").read_text()
    start = commits(reg_path)
    hook = client.create_webhook(
        name="ci",
        url="https://127.0.0.1:9/mlflow",
        events=["model_version.created", "model_version_alias.created"],
        description="tell CI",
        secret="env:HOOK_SECRET",
    )
    assert (hook.name, hook.status, hook.description) == ("ci", WebhookStatus.ACTIVE, "tell CI")
    assert sorted(str(e) for e in hook.events) == [
        "model_version.created",
        "model_version_alias.created",
    ]
    assert hook.secret == SECRET, "read from the environment, for MLflow's own deliveries"
    text = (reg_path / "gitreg.yaml").read_text()
    assert text.startswith(before), "the rest of gitreg.yaml keeps its bytes and comments"
    assert f"id: {hook.webhook_id}" in text and "secret_env: HOOK_SECRET" in text
    assert "format: mlflow" in text and SECRET not in text
    assert commits(reg_path) == start + 1
    assert "create webhook ci" in git(reg_path, "log", "-1", "--format=%s")

    assert client.get_webhook(hook.webhook_id).url == "https://127.0.0.1:9/mlflow"
    assert [h.webhook_id for h in client.list_webhooks()] == [hook.webhook_id]
    from mlflow.entities.webhook import WebhookEvent

    by_event = client._get_registry_client().store.list_webhooks_by_event
    assert len(by_event(WebhookEvent("model_version", "created"))) == 1
    assert len(by_event(WebhookEvent("model_version_tag", "set"))) == 0

    updated = client.update_webhook(hook.webhook_id, status="DISABLED", name="ci-2")
    assert (updated.name, updated.status) == ("ci-2", WebhookStatus.DISABLED)
    assert updated.last_updated_timestamp >= hook.last_updated_timestamp
    assert "status: disabled" in (reg_path / "gitreg.yaml").read_text()
    client.delete_webhook(hook.webhook_id)
    assert list(client.list_webhooks()) == []
    assert commits(reg_path) == start + 3
    assert git(reg_path, "status", "--porcelain") == ""


def test_a_secret_is_refused_naming_secret_env(client: Any, reg_path: Path) -> None:
    from mlflow.exceptions import MlflowException

    start = commits(reg_path)
    with pytest.raises(MlflowException) as e:
        client.create_webhook(
            name="ci", url="https://127.0.0.1:9/h", events=["model_version.created"],
            secret="hunter2",
        )  # fmt: skip
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "secret_env" in e.value.message and "hunter2" not in e.value.message
    with pytest.raises(MlflowException) as missing:
        client.get_webhook("nope")
    assert missing.value.message == "Webhook with ID nope not found."
    assert commits(reg_path) == start


def test_mlflow_and_gitreg_answer_alike(client: Any, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seen = []
    for c in (MlflowClient(db, db), client):
        h = c.create_webhook(
            name="n", url="https://127.0.0.1:9/h", events=["registered_model.created"]
        )
        c.update_webhook(h.webhook_id, description="d", events=["model_version_tag.set"])
        got = c.get_webhook(h.webhook_id)
        seen.append((got.name, got.url, [str(e) for e in got.events], got.description,
                     got.status, got.secret))  # fmt: skip
    assert seen[0] == seen[1]


def test_a_hook_made_through_mlflow_gets_mlflows_payload(
    client: Any, reg_path: Path, receiver: Receiver, tmp_path: Path
) -> None:
    before = git(reg_path, "rev-parse", "HEAD").strip()
    client.create_webhook(
        name="ci", url=receiver.url, events=["model_version_alias.created"],
        secret="env:HOOK_SECRET",
    )  # fmt: skip
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    client.create_registered_model("m")
    client.create_model_version("m", str(model))
    client.set_registered_model_alias("m", "champion", 1)
    result = CliRunner().invoke(cli, ["--repo", str(reg_path), "notify", "--from", before])
    assert result.exit_code == 0, result.output
    [(headers, body, _)] = receiver.requests
    check_mlflow_signature(lower(headers), body)
    sent = json.loads(body)
    assert (sent["entity"], sent["action"]) == ("model_version_alias", "created")
    assert sent["data"] == {"name": "m", "alias": "champion", "version": "1"}
