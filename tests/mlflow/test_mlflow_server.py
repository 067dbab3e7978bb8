"""``mlflow server --registry-store-uri gitreg:///…``: MLflow's REST API served from a git
registry on 127.0.0.1, driven with urllib; the gitreg CLI then reads what it wrote."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import git

from gitreg.registry.template import init_registry

MLFLOW = Path(sys.executable).with_name("mlflow")
pytestmark = pytest.mark.skipif(not MLFLOW.exists(), reason="the mlflow extra is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    reg = tmp_path / "reg"
    init_registry(reg)  # the template: Production goes through a pull request
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(MLFLOW), "server", "--registry-store-uri", f"gitreg://{reg}",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--default-artifact-root", (tmp_path / "mlartifacts").as_uri(),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "mlflow server did not start:\n" + (tmp_path / "server.log").read_text()
                )
            time.sleep(0.2)
        yield base, reg
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def call(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{base}/api/2.0/mlflow/{path}"
    data = None
    if method == "GET" and body:
        url += "?" + urllib.parse.urlencode(body)
    elif body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def refused(base: str, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    with pytest.raises(urllib.error.HTTPError) as e:
        call(base, method, path, body)
    return e.value.code, json.loads(e.value.read())


@pytest.mark.slow
def test_mlflow_server_serves_the_git_registry(server: tuple[str, Path], tmp_path: Path) -> None:
    base, reg = server
    # the server takes a local source only inside the artifact folder of the run named
    run = call(base, "POST", "runs/create", {"experiment_id": "0"})["run"]["info"]
    source = run["artifact_uri"] + "/model"
    model = Path(urllib.parse.urlparse(source).path)
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")

    tags = [{"key": "team", "value": "risk"}]
    created = call(base, "POST", "registered-models/create", {"name": "fraud", "tags": tags})
    assert created["registered_model"]["name"] == "fraud"
    body = {"name": "fraud", "source": source, "run_id": run["run_id"]}
    mv = call(base, "POST", "model-versions/create", body)["model_version"]
    assert (mv["version"], mv["current_stage"], mv["status"]) == ("1", "None", "READY")
    staged = call(base, "POST", "model-versions/transition-stage",
                  {"name": "fraud", "version": "1", "stage": "Staging",
                   "archive_existing_versions": False})["model_version"]  # fmt: skip
    assert staged["current_stage"] == "Staging"
    call(base, "POST", "registered-models/alias",
         {"name": "fraud", "alias": "champion", "version": "1"})  # fmt: skip

    status, err = refused(base, "POST", "model-versions/transition-stage",
                          {"name": "fraud", "version": "1", "stage": "Production",
                           "archive_existing_versions": False})  # fmt: skip
    assert (status, err["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "pull request" in err["message"] and "gitreg" in err["message"]
    status, err = refused(base, "GET", "registered-models/get", {"name": "nope"})
    assert (status, err["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")

    found = call(base, "GET", "registered-models/search", {"filter": "name LIKE 'fr%'"})
    assert [m["name"] for m in found["registered_models"]] == ["fraud"]
    versions = call(base, "GET", "model-versions/search", {"filter": "name = 'fraud'"})
    assert [v["current_stage"] for v in versions["model_versions"]] == ["Staging"]
    by_alias = call(base, "GET", "registered-models/alias", {"name": "fraud", "alias": "champion"})
    assert by_alias["model_version"]["version"] == "1"

    # the same registry, read by the gitreg CLI as a real process
    env = {**os.environ, "GITREG_REPO": str(reg)}
    out = subprocess.run(
        [sys.executable, "-m", "gitreg", "show", "fraud", "1", "--json"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    shown = json.loads(out)
    assert (shown["stage"], shown["lineage"]["run_id"], shown["aliases"]) == (
        "Staging", run["run_id"], ["champion"])  # fmt: skip
    assert shown["artifact"]["uri"] == model.as_uri()
    log = git(reg, "log", "--format=%s")
    assert "fraud v1: None -> Staging" in log and "create model fraud" in log
    assert git(reg, "status", "--porcelain") == ""
    assert "webhook" not in (tmp_path / "server.log").read_text().lower()  # none, and no errors
