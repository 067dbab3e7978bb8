"""The static read API (`gitreg site` writes api/v1/), served from 127.0.0.1: the client
and `gitreg resolve --api` give the answers and errors `gitreg resolve` gives at the same
commit, `pin --api` writes the same lock, and a document altered on the host is refused."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gitreg import Registry
from gitreg.cli import cli
from gitreg.registry.template import init_registry
from gitreg.serving import StaticAPI
from gitreg.site import build_site


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def reg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    init_registry(tmp_path / "reg")
    monkeypatch.setenv("GITREG_REPO", str(tmp_path / "reg"))
    r = Registry(tmp_path / "reg")
    for i in range(4):
        (tmp_path / f"m{i}.bin").write_bytes(os.urandom(100 + i))
        r.register("fraud", tmp_path / f"m{i}.bin", metrics={"auc": i / 10})
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "w").write_bytes(b"w")
    r.register("ranker.v2", tmp_path / "d")
    r.create_model("empty")
    r.transition("fraud", 2, "Staging")
    r.transition("fraud", 3, "Staging")
    r.transition("fraud", 1, "Archived")
    r.set_alias("fraud", "champion", 2)
    r.set_alias("fraud", "shadow", 2)
    r.delete_version("fraud", 4)
    return r


@pytest.fixture
def site(reg: Registry, tmp_path: Path) -> Iterator[str]:
    """The site rendered from HEAD, served over HTTP on 127.0.0.1; its URL."""
    out = tmp_path / "site"
    build_site(reg.at("HEAD"), out)
    handler = functools.partial(QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


URIS = [
    "models:/fraud/1",
    "models:/fraud/3",
    "models:/fraud/4",  # deleted
    "models:/fraud/9",
    "models:/fraud/Staging",
    "models:/fraud/staging",
    "models:/fraud/Archived",
    "models:/fraud/Production",  # no version there
    "models:/fraud/Bogus",  # no such stage
    "models:/fraud/latest",
    "models:/fraud@champion",
    "models:/fraud@nope",
    "models:/ranker.v2/1",
    "models:/ranker.v2/latest",
    "models:/empty/latest",
    "models:/nobody/1",
    "not-a-uri",
]


def test_the_api_resolves_exactly_as_the_cli(reg: Registry, site: str) -> None:
    for uri in URIS:
        local = run("resolve", uri, "--json", "--ref", "HEAD")
        remote = run("resolve", "--api", site, uri, "--json")
        assert (remote.exit_code, remote.output) == (local.exit_code, local.output), uri
        plain = run("resolve", "--api", site, uri)
        assert plain.output == run("resolve", uri).output, uri
    assert json.loads(run("resolve", "--api", site, "models:/fraud/2", "--json").output)[
        "aliases"
    ] == ["champion", "shadow"]
    assert StaticAPI(site).commit() == reg.git.rev_parse("HEAD")


def test_pin_through_the_api_writes_the_same_lock(reg: Registry, site: str, tmp_path: Path) -> None:
    wanted = ["models:/fraud@champion", "models:/fraud/latest", "models:/ranker.v2/1"]
    assert run("pin", *wanted, "-o", str(tmp_path / "git.lock")).exit_code == 0
    out = run("pin", "--api", site, *wanted, "-o", str(tmp_path / "api.lock"))
    assert out.exit_code == 0, out.output
    assert (tmp_path / "api.lock").read_bytes() == (tmp_path / "git.lock").read_bytes()
    lock = StaticAPI(site).pin(wanted)
    assert [(e.name, e.version) for e in lock.entries] == [
        ("fraud", 2),
        ("fraud", 3),
        ("ranker.v2", 1),
    ]


def test_an_altered_document_is_refused(reg: Registry, site: str, tmp_path: Path) -> None:
    doc = tmp_path / "site/api/v1/models/fraud/versions/2.json"
    data = json.loads(doc.read_text())
    data["artifact"]["uri"] = "s3://evil/model.bin"
    doc.write_text(json.dumps(data))
    out = run("resolve", "--api", site, "models:/fraud@champion")
    assert out.exit_code == 1 and "is not the one the index names" in out.output
    assert out.output.count("\n") == 1
    assert run("resolve", "--api", site, "models:/fraud/3").exit_code == 0  # the rest still reads
    down = run("resolve", "--api", "http://127.0.0.1:9/", "models:/fraud/3")
    assert down.exit_code == 1 and "cannot read http://127.0.0.1:9/api/v1/index.json" in down.output
    bad = run("resolve", "--api", site, "models:/fraud/3", "--ref", "HEAD")
    assert bad.exit_code == 2 and "--ref and --at do not apply" in bad.output


def test_resolve_api_in_a_real_process_without_a_repository(site: str, tmp_path: Path) -> None:
    env = {**os.environ, "GITREG_REPO": str(tmp_path / "nowhere")}
    got = subprocess.run(
        [sys.executable, "-m", "gitreg", "resolve", "--api", site, "models:/fraud@champion"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("file://") and got.stdout.rstrip().endswith("/m1.bin")
