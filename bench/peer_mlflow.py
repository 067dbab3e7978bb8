"""The MLflow side of the benchmark, run by the Python of MLflow's own virtual environment
(bench/.peers/mlflow), one operation per process, on a SQLite registry store.

    python peer_mlflow.py populate DB MODELS PER_MODEL
    python peer_mlflow.py resolve|register|search-all|search-name|list DB NAME
    python peer_mlflow.py inproc DB NAME OP RUNS   # OP timed in-process: prints median ms
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)

from workload import operations  # noqa: E402

SOURCE = "s3://bench/model.bin"


def client(db: str):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    uri = f"sqlite:///{db}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def populate(db: str, models: int, per_model: int) -> None:
    c = client(db)
    for op in operations(models, per_model):
        kind, name = op[0], op[1]
        if kind == "register":
            _, _, v, _metrics, _params, tags, run_id = op
            if v == 1:
                c.create_registered_model(name)
            # MLflow keeps metrics and params on runs, not versions: tags carry the rest.
            c.create_model_version(name, SOURCE, tags={**tags, "run": run_id})
        elif kind == "stage":
            c.transition_model_version_stage(name, str(op[2]), op[3])
        elif kind == "alias":
            c.set_registered_model_alias(name, op[2], op[3])
        else:
            c.set_registered_model_tag(name, op[2], op[3])


def all_pages(fetch):  # type: ignore[no-untyped-def]
    out, token = [], None
    while True:
        page = fetch(token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def main() -> None:
    cmd, db = sys.argv[1], sys.argv[2]
    if cmd == "populate":
        populate(db, int(sys.argv[3]), int(sys.argv[4]))
        return
    name = sys.argv[3]
    c = client(db)
    ops = {
        "resolve": lambda: c.get_model_version_by_alias(name, "champion").source,
        "register": lambda: c.create_model_version(name, SOURCE).version,
        "search-all": lambda: len(
            all_pages(lambda t: c.search_model_versions(max_results=10_000, page_token=t))
        ),
        "search-name": lambda: len(c.search_model_versions(f"name = '{name}'")),
        "list": lambda: len(
            all_pages(lambda t: c.search_registered_models(max_results=1000, page_token=t))
        ),
    }
    if cmd == "inproc":  # inproc NAME OP RUNS: median ms of OP in this process, warmed up
        op = ops[sys.argv[4]]
        op()
        samples = []
        for _ in range(int(sys.argv[5])):
            t0 = time.perf_counter()
            op()
            samples.append((time.perf_counter() - t0) * 1000)
        print(statistics.median(samples))
    elif cmd in ops:
        print(ops[cmd]())
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
