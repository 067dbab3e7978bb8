"""Shared set-up for the promotion, check --base and audit tests: a registry with a strict
Production policy, cloned from a bare remote, and a way to backdate commits."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from conftest import git

from gitreg import Registry
from gitreg.registry.template import init_registry

POLICY = """\
# yaml-language-server: $schema=.gitreg/schemas/gitreg.schema.json
stages: [None, Staging, Production, Archived]
default_branch: main
artifacts:
  store: file://../store
  allowed: [file://]
promotion:
  Production:
    via: pull_request
    from: [Staging]
    exclusive: true
    gates:
      - metric: auc
        min: 0.8
      - tags: [data_version]
      - description: required
      - time_in_stage: {stage: Staging, min_hours: 24}
      - not_worse_than_current: {metric: auc, tolerance: 0.01}
      - artifact: verified
"""


@contextmanager
def backdated(hours: float) -> Iterator[None]:
    """Commits made inside are dated ``hours`` ago (author and committer)."""
    when = datetime.now(timezone.utc) - timedelta(hours=hours)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    saved = {k: os.environ.get(k) for k in ("GIT_COMMITTER_DATE", "GIT_AUTHOR_DATE")}
    os.environ.update(GIT_COMMITTER_DATE=stamp, GIT_AUTHOR_DATE=stamp)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_registry(tmp_path: Path, policy: str = POLICY) -> tuple[Registry, Path]:
    """A registry at tmp_path/reg whose ``origin`` is the bare repo tmp_path/remote.git."""
    path = tmp_path / "reg"
    with backdated(24 * 60):  # older than any backdated stay a test makes
        init_registry(path)
        (path / "gitreg.yaml").write_text(policy)
        git(path, "commit", "-qa", "--amend", "--no-edit")  # the policy is the registry's creation
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(path, "remote", "add", "origin", str(bare))
    git(path, "push", "-q", "origin", "main")
    return Registry(path), bare


def artifact(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def staged_version(
    reg: Registry,
    tmp_path: Path,
    auc: float | str = 0.9,
    hours_ago: float = 48,
    description: str = "A good model.",
    name: str = "m",
) -> int:
    """Register a version with ``auc``, move it to Staging ``hours_ago``, push main."""
    data = f"weights {auc} {description} {os.urandom(8).hex()}".encode()
    with backdated(hours_ago):
        metrics = {"auc": auc} if isinstance(auc, float) else {}
        mv = reg.register(
            name,
            artifact(tmp_path, f"model-{os.urandom(4).hex()}.bin", data),
            metrics=metrics,
            tags={"data_version": "2026-10"},
            description=description,
            lineage={"run_id": "run-1", "source_commit": "a" * 40},
        )
        reg.transition(name, mv.version, "Staging")
    git(reg.root, "push", "-q", "origin", "main")
    return mv.version


def merge_branch(reg: Registry, branch: str, message: str | None = None) -> None:
    """Merge ``branch`` into main as GitHub's merge button does (a merge commit), push.
    Dated three days ago, so a test can stage a later version "48 hours ago" on top (trusted
    time clamps a commit older than its parent to its parent's date)."""
    msg = message or f"Merge pull request #7 from acme/{branch}"
    with backdated(72):
        git(reg.root, "merge", "-q", "--no-ff", "-m", msg, branch)
    git(reg.root, "push", "-q", "origin", "main")


class FakeGitHub:
    """A GitHub REST stand-in on 127.0.0.1 that records every request and answers
    ``POST /repos/{o}/{r}/pulls`` with 201 (or ``status`` / ``answer`` when set)."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.requests: list[dict[str, Any]] = []
        self.status = 201
        self.answer: Any = None
        self.existing: list[dict[str, Any]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                owner.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                answer = owner.answer or {
                    "number": 12,
                    "html_url": f"https://github.example/{self.path.split('/')[2]}/pull/12",
                }
                self._reply(owner.status, answer)

            def do_GET(self) -> None:
                owner.requests.append(
                    {"method": "GET", "path": self.path, "headers": dict(self.headers)}
                )
                self._reply(200, owner.existing)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
