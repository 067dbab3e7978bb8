"""Resolving at pod start: whole-process time of `models:/NAME@champion` resolved

- through the static API `gitreg site` writes (api/v1/), served over HTTP from 127.0.0.1,
  by `gitreg resolve --api` and by a bare `gitreg.serving.StaticAPI` client process;
- from a clone of the registry: `git clone` + the first resolve (which builds the query
  index), and a warm resolve in an existing clone;
- by MLflow's client against `mlflow server` (SQLite store) on 127.0.0.1, if mlflow is
  installed in this Python (--no-mlflow skips it).

    PYTHONPATH=. python bench/serving.py [--versions 10000] [--models 20] [--runs 5] [--no-mlflow]

Times are ms of wall clock, medians of --runs runs after one warm-up. On the 2-core shared
development machine (10,000 versions, 20 models; api/v1/ 5.5 MB):

    gitreg resolve --api (static API on 127.0.0.1)                          436 ms
    StaticAPI client process (python -c)                                    356 ms
    git clone + first gitreg resolve (builds the index)                    8014 ms
    gitreg resolve in a warm clone                                          200 ms
    MLflow client -> mlflow server (SQLite), get_model_version_by_alias    6796 ms

The three GETs take ~3 ms; the API's time is Python start-up and imports (urllib's HTTP
stack ~100 ms here). What it saves is the clone: 8 s and a copy of the registry per pod.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fastimport import GIT_ENV  # noqa: E402

from gitreg.registry import RegistryView  # noqa: E402
from gitreg.site import build_site  # noqa: E402


def _site_bench() -> object:  # bench/site.py builds the registry; "site" is a stdlib name
    spec = importlib.util.spec_from_file_location("bench_site", HERE / "site.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def timed(cmd: list[str], runs: int, before: Callable[[], None] | None = None) -> float:
    samples = []
    for i in range(runs + 1):
        if before:
            before()
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        ms = (time.perf_counter() - t0) * 1000
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
        if i:
            samples.append(ms)
    return statistics.median(samples)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mlflow_row(tmp: Path, runs: int) -> tuple[str, float | str]:
    label = "MLflow client -> mlflow server (SQLite), get_model_version_by_alias"
    mlflow = Path(sys.executable).with_name("mlflow")
    if not mlflow.exists():
        return label, "skipped: mlflow is not installed"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    proc = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
         "--default-artifact-root", (tmp / "mlartifacts").as_uri(),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                return label, "skipped: mlflow server did not start"
            time.sleep(0.3)
        client = "from mlflow import MlflowClient; c = MlflowClient(tracking_uri={base!r}); "
        setup = client.format(base=base) + (
            "c.create_registered_model('model-000'); "
            "v = c.create_model_version('model-000', 's3://bench/m.bin'); "
            "c.set_registered_model_alias('model-000', 'champion', v.version)"
        )
        subprocess.run([sys.executable, "-c", setup], check=True, env=env, capture_output=True)
        read = client.format(base=base) + (
            "print(c.get_model_version_by_alias('model-000', 'champion').source)"
        )
        return label, timed([sys.executable, "-c", read], runs)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-mlflow", action="store_true")
    args = ap.parse_args()
    os.environ.update(GIT_ENV)
    uri = "models:/model-000@champion"
    gitreg = [sys.executable, "-m", "gitreg"]
    rows: list[tuple[str, float | str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        reg, out, clone = tmp / "reg", tmp / "site", tmp / "clone"
        _site_bench().build(reg, args.versions, args.models)  # type: ignore[attr-defined]
        build_site(RegistryView(reg).at("HEAD"), out)
        api_bytes = sum(p.stat().st_size for p in (out / "api").rglob("*.json"))
        handler = functools.partial(_Quiet, directory=str(out))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            rows.append(("gitreg resolve --api (static API on 127.0.0.1)",
                         timed([*gitreg, "resolve", "--api", url, uri], args.runs)))  # fmt: skip
            client = (
                "from gitreg.serving.client import StaticAPI; "
                f"print(StaticAPI({url!r}).resolve({uri!r}).artifact.uri)"
            )
            rows.append(("StaticAPI client process (python -c)",
                         timed([sys.executable, "-c", client], args.runs)))  # fmt: skip
        finally:
            server.shutdown()
            server.server_close()

        def fresh() -> None:
            shutil.rmtree(clone, ignore_errors=True)

        clone_and_resolve = (
            f"git clone -q {reg} {clone} && {sys.executable} -m gitreg --repo {clone} resolve {uri}"
        )
        rows.append(("git clone + first gitreg resolve (builds the index)",
                     timed(["sh", "-c", clone_and_resolve], args.runs, fresh)))  # fmt: skip
        warm = [*gitreg, "--repo", str(clone), "resolve", uri]
        rows.append(("gitreg resolve in a warm clone", timed(warm, args.runs)))
        if not args.no_mlflow:
            rows.append(mlflow_row(tmp, args.runs))
    print(f"{args.versions} versions in {args.models} models; api/v1/ is {api_bytes:,} bytes;"
          f" medians of {args.runs} runs\n")  # fmt: skip
    width = max(len(label) for label, _ in rows)
    for label, ms in rows:
        shown = f"{ms:8.0f} ms" if isinstance(ms, float) else f"  {ms}"
        print(f"{label.ljust(width)}  {shown}")


if __name__ == "__main__":
    main()
