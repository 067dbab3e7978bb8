"""webhooks: signed deliveries to a real HTTP receiver on 127.0.0.1, retries, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from webhook_receiver import SECRET, Receiver, configure, direct

from gitreg import Registry
from gitreg.cli import cli
from gitreg.config import Config
from gitreg.errors import UsageError
from gitreg.registry.template import init_registry
from gitreg.trail.webhooks import WebhookError, notify, sign


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    direct(monkeypatch)


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    init_registry(tmp_path / "reg")
    reg = Registry(tmp_path / "reg")
    art = tmp_path / "model.pkl"
    art.write_bytes(b"w" * 64)
    reg.register("m", art)
    return reg


def config(*hooks: dict[str, Any]) -> Config:
    return Config(webhooks=tuple(hooks))


def gitreg(reg: Registry, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--repo", str(reg.root), *args])


def test_a_signed_delivery_verifies(reg: Registry, receiver: Receiver) -> None:
    before = configure(reg, f"  - url: {receiver.url}\n    secret_env: HOOK_SECRET\n")
    reg.transition("m", 1, "Staging")
    result = gitreg(reg, "notify", "--from", before)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("delivered  model_version.stage_transitioned m v1 -> http")
    ((headers, body, _),) = receiver.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Gitreg-Signature"], expected)
    event = json.loads(body)
    assert headers["X-Gitreg-Event"] == event["type"] == "model_version.stage_transitioned"
    assert headers["X-Gitreg-Delivery"] == event["id"] == reg.events(before)[0].id
    assert headers["Content-Type"] == "application/json"
    assert (event["name"], event["version"], event["to_stage"]) == ("m", 1, "Staging")
    assert SECRET not in (reg.root / "gitreg.yaml").read_text()


def test_a_receiver_failing_twice_gets_the_event_once(reg: Registry) -> None:
    flaky = Receiver([500, 503])
    try:
        ev = reg.events("HEAD~1")[:1]
        (d,) = notify(config({"url": flaky.url}), ev, backoff=0.01)
        assert (d.status, d.attempts) == ("delivered", 3)
        assert len(flaky.requests) == 3 and len(flaky.accepted()) == 1
        assert {r[0]["X-Gitreg-Delivery"] for r in flaky.requests} == {ev[0].id}
        assert "X-Gitreg-Signature" not in flaky.requests[0][0]  # no secret configured
    finally:
        flaky.close()


def test_429_is_retried_but_other_4xx_is_final(reg: Registry) -> None:
    r = Receiver([429, 404])
    try:
        ev = reg.events("HEAD~1")[:1]
        (d,) = notify(config({"url": r.url}), ev, backoff=0.01)
        assert (d.status, d.attempts, d.detail) == ("failed", 2, "HTTP 404")
    finally:
        r.close()


def test_a_dead_receiver_fails_after_bounded_retries(reg: Registry) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    first, *rest = notify(config({"url": url}), reg.events("HEAD~1"), backoff=0.01, timeout=2)
    assert (first.status, first.attempts) == ("failed", 3)
    assert [d.status for d in rest] == ["skipped"]  # no later event overtakes a failed one

    before = configure(reg, f"  - url: {url}\n")
    reg.transition("m", 1, "Staging")
    result = gitreg(reg, "notify", "--from", before, "--backoff", "0.01", "--attempts", "2")
    assert result.exit_code == 1
    assert "failed     model_version.stage_transitioned m v1" in result.stdout
    assert "after 2 attempt(s)" in result.stdout
    assert result.stderr == "gitreg: error: 1 of 1 deliveries failed\n"


def test_a_missing_secret_is_named_and_nothing_is_sent(
    reg: Registry, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_SECRET")
    before = configure(reg, f"  - url: {receiver.url}\n    secret_env: HOOK_SECRET\n")
    reg.transition("m", 1, "Staging")
    result = gitreg(reg, "notify", "--from", before)
    assert result.exit_code == 1
    assert "environment variable HOOK_SECRET" in result.stderr
    assert receiver.requests == []
    result = gitreg(reg, "notify", "--from", before, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("dry-run    model_version.stage_transitioned m v1")
    assert receiver.requests == []


def test_hooks_pick_events_by_pattern(reg: Registry, receiver: Receiver) -> None:
    ev = reg.events("HEAD~1")  # registered_model.created, model_version.created
    hooks = config(
        {"url": receiver.url, "events": ["model_version.*"]},
        {"url": receiver.url, "events": ["registered_model.deleted"]},
    )
    done = notify(hooks, ev, env={})
    assert [(d.event.type, d.status) for d in done] == [("model_version.created", "delivered")]


def test_only_http_urls(reg: Registry) -> None:
    for url in ["file:///etc/passwd", "ftp://x/y", "http://"]:
        with pytest.raises(UsageError, match="webhooks"):
            notify(config({"url": url}), reg.events("HEAD~1"))
    with pytest.raises(WebhookError, match="NOPE_SECRET"):
        notify(config({"url": "http://127.0.0.1:9/", "secret_env": "NOPE_SECRET"}), [], env={})


def test_no_webhooks_configured(reg: Registry) -> None:
    result = gitreg(reg, "notify", "--from", "HEAD~1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "No webhooks in gitreg.yaml; 2 event(s) not sent.\n"


def test_sign_matches_the_documented_receiver_check() -> None:
    body = b'{"type": "model_version.created"}'
    digest = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign(body, "k") == f"sha256={digest}"


def test_the_readme_receiver_snippet_verifies_our_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readme = (Path(__file__).parents[2] / "registry-template" / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(snippet, scope)
    monkeypatch.setenv("GITREG_WEBHOOK_SECRET", SECRET)
    body = b'{"type": "model_version.created"}'
    assert scope["verify"](body, sign(body, SECRET)) == {"type": "model_version.created"}
    with pytest.raises(PermissionError):
        scope["verify"](body, sign(body, "wrong"))
