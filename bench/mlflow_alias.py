"""``MlflowClient().get_model_version_by_alias`` through the gitreg plugin against MLflow's
own SQLite store, on the same registry: 1,000 versions of one model built with MLflow on
SQLite, then moved into gitreg with ``import_mlflow``. Prints one line per figure.

    python bench/mlflow_alias.py [--versions 1000] [--calls 300]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
for role in ("AUTHOR", "COMMITTER"):
    os.environ.setdefault(f"GIT_{role}_NAME", "bench")
    os.environ.setdefault(f"GIT_{role}_EMAIL", "bench@example.com")


def timed(client: Any, calls: int) -> tuple[float, float]:
    """Median and 95th percentile, in ms, of ``calls`` lookups (after a warm-up)."""
    client.get_model_version_by_alias("m", "champion")
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        mv = client.get_model_version_by_alias("m", "champion")
        samples.append((time.perf_counter() - t0) * 1000)
    assert int(mv.version) == 7
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=300)
    args = ap.parse_args()
    logging.disable(logging.INFO)

    from mlflow import MlflowClient

    from gitreg import Registry
    from gitreg.mlflow.importer import import_mlflow
    from gitreg.registry.template import init_registry

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        model = Path(tmp) / "model"
        model.mkdir()
        (model / "MLmodel").write_bytes(os.urandom(4096))
        sql = MlflowClient(tracking_uri=sqlite, registry_uri=sqlite)
        t0 = time.perf_counter()
        sql.create_registered_model("m")
        for _ in range(args.versions):
            sql.create_model_version("m", str(model), await_creation_for=0)
        sql.set_registered_model_alias("m", "champion", 7)
        built = time.perf_counter() - t0
        print(f"build: {args.versions} versions in MLflow/SQLite   {built:7.1f} s")

        root = Path(tmp) / "reg"
        init_registry(root)
        t0 = time.perf_counter()
        import_mlflow(Registry(root), sqlite)
        print(f"gitreg import-mlflow of them              {time.perf_counter() - t0:7.1f} s")

        plugin = MlflowClient(tracking_uri=sqlite, registry_uri=f"gitreg://{root}")
        for label, client in (("MLflow SQLite store", sql), ("gitreg plugin", plugin)):
            median, p95 = timed(client, args.calls)
            print(f"get_model_version_by_alias, {label:<20} median {median:6.2f} ms"
                  f"  p95 {p95:6.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
