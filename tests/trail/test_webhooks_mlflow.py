"""``gitreg notify --format mlflow``: what MLflow's webhooks send, checked with MLflow's own
signing code against a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import git
from webhook_receiver import Receiver, check_mlflow_signature, configure, direct, lower

from gitreg import Registry
from gitreg.cli import cli
from gitreg.registry.template import init_registry


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    direct(monkeypatch)


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    init_registry(tmp_path / "reg")
    reg = Registry(tmp_path / "reg")
    art = tmp_path / "model.pkl"
    art.write_bytes(b"w" * 64)
    reg.register("m", art, lineage={"source": "s3://acme/m", "run_id": "r1"})
    return reg


def notify(reg: Registry, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "notify", *args])
    assert result.exit_code == 0, result.output
    return result


def test_notify_format_mlflow_sends_mlflows_payload_and_signature(
    reg: Registry, receiver: Receiver
) -> None:
    before = configure(reg, f"  - url: {receiver.url}\n    secret_env: HOOK_SECRET\n")
    reg.set_alias("m", "champion", 1)
    reg.set_tag("m", "validated", "yes", version=1)
    reg.transition("m", 1, "Staging")
    notify(reg, "--from", before, "--format", "mlflow")
    bodies = []
    for headers, body, _ in receiver.requests:
        check_mlflow_signature(lower(headers), body)
        assert "x-gitreg-signature" not in lower(headers)
        bodies.append(json.loads(body))
    assert [(b["entity"], b["action"]) for b in bodies] == [
        ("model_version_alias", "created"),
        ("model_version_tag", "set"),
        ("model_version", "stage_transitioned"),
    ]
    assert bodies[0]["data"] == {"name": "m", "alias": "champion", "version": "1"}
    assert bodies[1]["data"] == {"name": "m", "version": "1", "key": "validated", "value": "yes"}
    assert bodies[2]["data"] == {
        "name": "m", "version": "1", "from_stage": "None", "to_stage": "Staging"
    }  # fmt: skip
    assert set(bodies[0]) == {"entity", "action", "timestamp", "data"}
    ids = [lower(h)["x-mlflow-delivery-id"] for h, _, _ in receiver.requests]
    assert ids == [str(uuid.UUID(e.id)) for e in reg.events(before)], "stable: retries dedupe"


def test_a_hooks_own_format_and_status_are_honoured(
    tmp_path: Path, reg: Registry, receiver: Receiver
) -> None:
    silent = Receiver()
    try:
        before = configure(
            reg,
            f"  - url: {receiver.url}\n    format: mlflow\n"
            f"  - url: {silent.url}\n    status: disabled\n",
        )
        art = tmp_path / "v2.pkl"
        art.write_bytes(b"v2")
        reg.register("m", art, lineage={"source": str(art), "run_id": "r2"})
        notify(reg, "--from", before)
        [(headers, body, _)] = receiver.requests
        assert "x-mlflow-signature" not in lower(headers)  # no secret_env: unsigned, as MLflow
        assert json.loads(body)["data"] == {
            "name": "m", "version": "2", "source": str(art), "run_id": "r2",
            "tags": {}, "description": None,
        }  # fmt: skip
        assert silent.requests == []
    finally:
        silent.close()
    assert git(reg.root, "status", "--porcelain") == ""
