"""A webhook receiver on 127.0.0.1 for the tests of ``gitreg notify`` (gitreg's format and
MLflow's), and the helpers that configure hooks and check MLflow's signature."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import git

from gitreg import Registry

SECRET = "s3cret-for-tests"


class Receiver:
    """A local HTTP endpoint that answers with scripted statuses (then 200) and records
    every request it gets."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append((dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def accepted(self) -> list[tuple[dict[str, str], bytes, int]]:
        return [r for r in self.requests if r[2] == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def configure(reg: Registry, hooks: str) -> str:
    """Add ``webhooks:`` to gitreg.yaml and commit; returns the commit before."""
    before = git(reg.root, "rev-parse", "HEAD").strip()
    with open(reg.root / "gitreg.yaml", "a") as f:
        f.write(f"webhooks:\n{hooks}")
    git(reg.root, "commit", "-qam", "webhooks")
    return before


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}  # HTTP header names ignore case


def check_mlflow_signature(headers: dict[str, str], body: bytes) -> None:
    from mlflow.webhooks.delivery import _generate_hmac_signature  # MLflow's own scheme

    delivery, stamp = headers["x-mlflow-delivery-id"], headers["x-mlflow-timestamp"]
    assert str(uuid.UUID(delivery)) == delivery
    assert abs(int(stamp) - time.time()) < 60
    expected = _generate_hmac_signature(SECRET, delivery, stamp, body.decode())
    assert headers["x-mlflow-signature"] == expected and expected.startswith("v1,")


def direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy between a test and its receiver on 127.0.0.1, and the hooks' secret set."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOOK_SECRET", SECRET)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver for one test, closed after it."""
    r = Receiver()
    yield r
    r.close()
