"""Webhooks as the seed article uses them: one hook for "moved to Staging" (start
validation), one for "moved to Production" of the fraud models (deploy), each checking an
``Authorization: Bearer`` token read from an environment variable, never from the repository.
Deliveries go to real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import git
from webhook_receiver import Receiver

from gitreg import Registry
from gitreg.cli import cli
from gitreg.config import Config
from gitreg.errors import UsageError
from gitreg.registry.template import init_registry
from gitreg.trail.changes import Change
from gitreg.trail.webhooks import Hook, auth_headers, hooks, matches

POLICY = """\
stages: [None, Staging, Production, Archived]
default_branch: main
artifacts:
  store: file://../store
  allowed: [file://]
promotion:
  Production:
    via: commit
    exclusive: true
"""


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VALIDATE_TOKEN", "validate-t0ken")
    monkeypatch.setenv("DEPLOY_TOKEN", "deploy-t0ken")
    monkeypatch.setenv("HOOK_SECRET", "s3cret")


@pytest.fixture
def validate() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def deploy() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    init_registry(tmp_path / "reg")
    (tmp_path / "reg" / "gitreg.yaml").write_text(POLICY)
    git(tmp_path / "reg", "commit", "-qam", "policy")
    reg = Registry(tmp_path / "reg")
    for name in ("fraud-detector", "churn"):
        art = tmp_path / f"{name}.bin"
        art.write_bytes(name.encode() * 10)
        reg.register(name, art)
    return reg


def configure(reg: Registry, hooks_yaml: str) -> str:
    before = git(reg.root, "rev-parse", "HEAD").strip()
    with open(reg.root / "gitreg.yaml", "a") as f:
        f.write(f"webhooks:\n{hooks_yaml}")
    git(reg.root, "commit", "-qam", "webhooks")
    return before


def seed_hooks(validate: Receiver, deploy: Receiver) -> str:
    return (
        f"  - url: {validate.url}\n"
        "    events: [model_version.stage_transitioned]\n"
        "    stages: [Staging]\n"
        "    token_env: VALIDATE_TOKEN\n"
        f"  - url: {deploy.url}\n"
        "    stages: [Production]\n"
        "    models: ['fraud-*']\n"
        "    token_env: DEPLOY_TOKEN\n"
        "    secret_env: HOOK_SECRET\n"
    )


def gitreg(reg: Registry, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--repo", str(reg.root), *args])


def events_of(receiver: Receiver) -> list[tuple[str, str, str]]:
    out = []
    for headers, body, _ in receiver.requests:
        event: dict[str, Any] = json.loads(body)
        out.append((event["name"], event["to_stage"], headers["Authorization"]))
    return out


def test_each_hook_gets_only_its_stage_and_models_with_its_bearer_token(
    reg: Registry, validate: Receiver, deploy: Receiver
) -> None:
    before = configure(reg, seed_hooks(validate, deploy))
    for name in ("fraud-detector", "churn"):
        reg.transition(name, 1, "Staging")
        reg.transition(name, 1, "Production")
    result = gitreg(reg, "notify", "--from", before)
    assert result.exit_code == 0, result.output
    assert events_of(validate) == [
        ("fraud-detector", "Staging", "Bearer validate-t0ken"),
        ("churn", "Staging", "Bearer validate-t0ken"),
    ]
    assert events_of(deploy) == [("fraud-detector", "Production", "Bearer deploy-t0ken")]
    [(headers, _, _)] = deploy.requests
    assert headers["X-Gitreg-Signature"].startswith("sha256=")
    assert "X-Gitreg-Signature" not in validate.requests[0][0]
    stored = (reg.root / "gitreg.yaml").read_text() + git(reg.root, "log", "-p")
    assert "t0ken" not in stored


def test_a_missing_token_sends_nothing(
    reg: Registry, validate: Receiver, deploy: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = configure(reg, seed_hooks(validate, deploy))
    reg.transition("fraud-detector", 1, "Staging")
    monkeypatch.delenv("DEPLOY_TOKEN")
    result = gitreg(reg, "notify", "--from", before)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr == (
        f"gitreg: error: environment variable DEPLOY_TOKEN (the token for {deploy.url}) "
        "is not set\n"
    )
    assert validate.requests == [] and deploy.requests == []


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (
            {"url": "https://x.example/h", "token": "abc"},
            "gitreg.yaml webhooks[0]: token may not be written in gitreg.yaml; put it in an "
            "environment variable and name that with token_env",
        ),
        (
            {"url": "http://deploy.example.com/h", "token_env": "T"},
            "gitreg.yaml webhooks[0]: a bearer token (token_env) is sent only over https://",
        ),
        (
            {"url": "https://x.example/h", "stages": ["Prod"]},
            "gitreg.yaml webhooks[0]: stage 'Prod' is not one of None, Staging, Production, "
            "Archived",
        ),
        (
            {"url": "https://x.example/h", "models": "fraud-*"},
            "gitreg.yaml webhooks[0]: models must be a list of strings",
        ),
    ],
)
def test_bad_hooks_are_refused(hook: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as info:
        hooks(Config(webhooks=(hook,)))
    assert str(info.value) == message


def test_the_schema_refuses_a_literal_token(reg: Registry, validate: Receiver) -> None:
    before = configure(reg, f"  - url: {validate.url}\n    token: abc\n")
    result = gitreg(reg, "notify", "--from", before)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "token" in result.stderr and validate.requests == []


def change(name: str, to_stage: str | None, kind: str = "stage_transitioned") -> Change:
    data = {} if to_stage is None else {"from_stage": "None", "to_stage": to_stage}
    return Change(
        type=f"model_version.{kind}", name=name, version=1, text="", data=data,
        commit="c" * 40, author="A", timestamp="t", subject="s",
    )  # fmt: skip


def test_matches() -> None:
    hook = Hook("https://h", (), None, stages=("Production",), models=("fraud-*", "risk"))
    assert matches(hook, change("fraud-detector", "Production"))
    assert matches(hook, change("risk", "Production"))
    assert not matches(hook, change("fraud-detector", "Staging"))
    assert not matches(hook, change("churn", "Production"))
    assert not matches(hook, change("fraud-detector", None, "created")), "no target stage"
    everything = Hook("https://h", (), None)
    assert matches(everything, change("churn", None, "created"))
    assert auth_headers(b"{}", None, None) == {}
    assert auth_headers(b"{}", None, "t") == {"Authorization": "Bearer t"}


def test_notify_with_a_token_as_a_real_subprocess(
    reg: Registry, validate: Receiver, deploy: Receiver
) -> None:
    before = configure(reg, seed_hooks(validate, deploy))
    reg.transition("churn", 1, "Staging")
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "--repo", str(reg.root), "notify", "--from", before],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"delivered  model_version.stage_transitioned churn v1 -> {validate.url}\n"
    )
    assert events_of(validate) == [("churn", "Staging", "Bearer validate-t0ken")]
