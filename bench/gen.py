"""A synthetic gitreg registry of N models x M versions (the workload in workload.py),
with one commit per operation, written through `git fast-import` in one call. Every file
is gitreg's own canonical dump (``dump_record``); the YAML is rendered on all cores.

    python bench/gen.py DEST [--models 100] [--versions-per-model 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastimport import GIT_ENV, IDENT, FastImport
from workload import model_operations

from gitreg.files.records import dump_record
from gitreg.layout import model_path, version_path
from gitreg.manifest import ArtifactRef, ModelVersion, RegisteredModel
from gitreg.registry.template import init_registry

ARTIFACT = ArtifactRef(uri="s3://bench/model.bin", digest="sha256:" + "ab" * 32, size=123)
STAMP = "2023-11-14T22:13:20Z"
_SENTINEL = 987_654_321  # a last_version no real model has; swapped for the real number

Commit = tuple[str, dict[str, bytes | None]]


def model_commits(i: int, per_model: int) -> list[Commit]:
    """The commits of model ``i``: (message, files) per operation."""
    ops = model_operations(i, per_model)
    name = ops[0][1]
    model = RegisteredModel(name=name, created_at=STAMP, created_by=IDENT)
    # model.yaml changes only in last_version while versions are registered: dump it once
    # and put each number in (an int dumps as its digits, so the bytes stay canonical).
    template = dump_record(model.evolve(last_version=_SENTINEL).to_dict(), "model")
    assert template.count(b"%d" % _SENTINEL) == 1
    versions: dict[int, ModelVersion] = {}
    out: list[Commit] = []
    for op in ops:
        files: dict[str, bytes | None] = {}
        if op[0] == "register":
            _, _, v, metrics, params, tags, run_id = op
            mv = ModelVersion(
                name=name,
                version=v,
                stage="None",
                artifact=ARTIFACT,
                created_at=STAMP,
                created_by=IDENT,
                metrics=metrics,
                params=params,
                tags=tags,
                lineage={"run_id": run_id},
            )
            versions[v] = mv
            model = model.evolve(last_version=v)
            files[version_path(name, v)] = dump_record(mv.to_dict(), "version")
            files[model_path(name)] = template.replace(b"%d" % _SENTINEL, b"%d" % v)
            message = f"register {name} v{v}"
        elif op[0] == "stage":
            _, _, v, stage = op
            old = versions[v]
            versions[v] = old.evolve(stage=stage)
            files[version_path(name, v)] = dump_record(versions[v].to_dict(), "version")
            message = f"{name} v{v}: {old.stage} -> {stage}"
        elif op[0] == "alias":
            _, _, alias, v = op
            model = model.evolve(aliases={**model.aliases, alias: v})
            files[model_path(name)] = dump_record(model.to_dict(), "model")
            message = f"{name}: alias {alias} -> v{v}"
        else:
            _, _, key, value = op
            model = model.evolve(tags={**model.tags, key: value})
            files[model_path(name)] = dump_record(model.to_dict(), "model")
            message = f"{name}: tag {key}={value}"
        out.append((message, files))
    return out


def _chunk(args: tuple[range, int]) -> list[list[Commit]]:
    indices, per_model = args
    return [model_commits(i, per_model) for i in indices]


def build(root: Path, models: int, per_model: int, jobs: int | None = None) -> int:
    """A new registry at ``root`` holding the workload; returns the number of commits."""
    os.environ.update(GIT_ENV)
    init_registry(root)
    stream = FastImport(root)
    jobs = jobs or os.cpu_count() or 1
    step = max(1, models // (jobs * 8))
    chunks = [(range(a, min(a + step, models)), per_model) for a in range(0, models, step)]
    if jobs == 1 or models < 50:
        results = map(_chunk, chunks)
        for chunk in results:
            _feed(stream, chunk)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            for chunk in pool.map(_chunk, chunks):
                _feed(stream, chunk)
    stream.run()
    return stream.count


def _feed(stream: FastImport, chunk: list[list[Commit]]) -> None:
    for commits in chunk:
        for message, files in commits:
            stream.commit(message, files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--versions-per-model", type=int, default=10)
    args = ap.parse_args()
    t0 = time.perf_counter()
    n = build(args.dest, args.models, args.versions_per_model)
    total = args.models * args.versions_per_model
    print(f"{args.dest}: {total} versions, {n} commits in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
