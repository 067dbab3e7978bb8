"""The forges' HTTP client (urllib3) against a 127.0.0.1 server that rate-limits: it
retries 429 and 5xx, waits as Retry-After says (capped), and gives up after a bound."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gitreg.promotion.forges import http as forge_http
from gitreg.promotion.forges.github import GitHub


class Flaky:
    def __init__(self, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.answers = answers
        self.times: list[float] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.times.append(time.monotonic())
                status, headers = owner.answers.pop(0) if owner.answers else (201, {})
                body = json.dumps({"number": 3, "html_url": "https://x/pull/3"}).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    server = Flaky([])
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_retry_after_is_honoured(flaky: Flaky) -> None:
    flaky.answers = [(429, {"Retry-After": "1"}), (502, {})]
    pr = GitHub(flaky.url, "t", backoff=0.01).create_pull("a/b", "h", "main", "t", "b")
    assert pr.number == 3 and len(flaky.times) == 3
    assert flaky.times[1] - flaky.times[0] >= 0.95  # Retry-After: 1
    assert flaky.times[2] - flaky.times[1] < 0.9  # 502: the short back-off, not Retry-After's 1 s


def test_a_long_retry_after_is_capped(flaky: Flaky, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forge_http, "MAX_RETRY_AFTER", 0.2)
    flaky.answers = [(429, {"Retry-After": "3600"})]
    GitHub(flaky.url, "t").create_pull("a/b", "h", "main", "t", "b")
    assert flaky.times[1] - flaky.times[0] < 2


def test_retries_are_bounded(flaky: Flaky) -> None:
    flaky.answers = [(503, {})] * 10
    with pytest.raises(forge_http.ForgeError, match=r"refused the pull request \(503\)"):
        GitHub(flaky.url, "t", retries=2, backoff=0.01).create_pull("a/b", "h", "main", "t", "b")
    assert len(flaky.times) == 3
