"""Whole-process time of `gitreg history NAME` on a registry of 10,000 commits touching
1,000 models, and how it grows with history (as of commit 1,000, 5,000 and 10,000).

The registry is built with `git fast-import` (gitreg itself would take minutes), every
file written with gitreg's own canonical dump. One model ("hot") is touched by a tenth of
all commits; the others by about nine each.

    python bench/history.py [--commits 10000] [--models 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fastimport
from fastimport import GIT_ENV, IDENT, FastImport

from gitreg.files.records import dump_record
from gitreg.layout import model_path, version_path
from gitreg.manifest import ArtifactRef, ModelVersion, RegisteredModel
from gitreg.registry.template import init_registry

STAGES = ["None", "Staging", "Production", "Archived"]
HOT = "model-hot"


def build(root: Path, commits: int, models: int, marks: list[int]) -> None:
    """``commits`` commits on main after the init commit; tags ``at-N`` at each mark."""
    init_registry(root)
    stream = FastImport(root)
    rng = random.Random(7)
    names = [HOT] + [f"model-{i:04d}" for i in range(1, models)]
    state: dict[str, tuple[RegisteredModel, dict[int, ModelVersion]]] = {}
    art = ArtifactRef(uri="s3://bench/model.bin", digest="sha256:" + "ab" * 32, size=123)
    for n in range(1, commits + 1):
        name = names[n - 1] if n <= models else (HOT if rng.random() < 0.1 else rng.choice(names))
        stamp = f"2023-11-14T22:13:{n % 60:02d}Z"
        if name not in state:
            model = RegisteredModel(name=name, created_at=stamp, created_by=IDENT)
            state[name] = (model, {})
        message, files = step(rng, n, name, state, art, stamp)
        stream.commit(message, dict(files))
        if n in marks:
            stream.tag(f"at-{n}", n)
    stream.run()


def step(
    rng: random.Random,
    n: int,
    name: str,
    state: dict[str, tuple[RegisteredModel, dict[int, ModelVersion]]],
    art: ArtifactRef,
    stamp: str,
) -> tuple[str, dict[str, bytes]]:
    """One random change to model ``name``: a new version, a stage, a tag or an alias."""
    model, versions = state[name]
    op = "register" if not versions else rng.choice(["register", "stage", "tag", "alias"])
    files: dict[str, bytes] = {}
    if op == "register":
        v = model.last_version + 1
        versions[v] = ModelVersion(
            name=name,
            version=v,
            stage="None",
            artifact=art,
            created_at=stamp,
            created_by=IDENT,
            metrics={"auc": 0.8},
            lineage={"run_id": f"run-{n}"},
        )
        model = model.evolve(last_version=v)
        files[model_path(name)] = dump_record(model.to_dict(), "model")
        files[version_path(name, v)] = dump_record(versions[v].to_dict(), "version")
        message = f"register {name} v{v}"
    else:
        v = rng.choice(list(versions))
        mv = versions[v]
        if op == "stage":
            to = rng.choice([s for s in STAGES if s != mv.stage])
            versions[v] = mv.evolve(stage=to)
            message = f"{name} v{v}: {mv.stage} -> {to}"
        elif op == "tag":
            versions[v] = mv.evolve(tags={**mv.tags, "k": str(n)})
            message = f"{name} v{v}: tag k={n}"
        else:
            model = model.evolve(aliases={"champion": v})
            files[model_path(name)] = dump_record(model.to_dict(), "model")
            message = f"{name}: alias champion v{v}"
        if op != "alias":
            files[version_path(name, v)] = dump_record(versions[v].to_dict(), "version")
    state[name] = (model, versions)
    return message, files


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, int]:
    """Median wall and CPU ms of ``runs`` runs, and the rows printed (less the header)."""
    wall, cpu, lines = fastimport.timed(cmd, runs, env)
    return wall, cpu, lines - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--commits", type=int, default=10_000)
    ap.add_argument("--models", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    env = {**os.environ, **GIT_ENV}
    os.environ.update(GIT_ENV)
    marks = sorted({min(m, args.commits) for m in (1_000, 5_000, args.commits)})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "reg"
        t0 = time.perf_counter()
        build(root, args.commits, args.models, marks)
        print(
            f"built {args.commits} commits over {args.models} models in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        gitreg = [sys.executable, "-m", "gitreg", "--repo", str(root)]
        t0 = time.perf_counter()
        subprocess.run([*gitreg, "history", "model-0500"], check=True, capture_output=True)
        print(
            f"first history (writes the commit-graph once)      "
            f"{(time.perf_counter() - t0) * 1000:7.1f} ms"
        )
        base, cpu, _ = timed([sys.executable, "-c", "pass"], args.runs, env)
        print(f"{'python -c pass':<46}{base:7.1f} ms wall {cpu:7.1f} ms cpu")
        no_graph = {
            **env,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "core.commitGraph",
            "GIT_CONFIG_VALUE_0": "false",
        }
        for graph, run_env in (("", env), (" (no graph)", no_graph)):
            for name in ("model-0500", HOT):
                for mark in marks:
                    ref = [] if mark == marks[-1] else ["--ref", f"at-{mark}"]
                    ms, cpu, rows = timed([*gitreg, "history", name, *ref], args.runs, run_env)
                    label = f"history {name} @{mark:>6}{graph}"
                    print(f"{label:<46}{ms:7.1f} ms wall {cpu:7.1f} ms cpu  ({rows} rows)")
        ms, cpu, rows = timed([*gitreg, "events", "--from", "HEAD~100"], args.runs, env)
        label = "gitreg events --from HEAD~100"
        print(f"{label:<46}{ms:7.1f} ms wall {cpu:7.1f} ms cpu  ({rows} events)")


if __name__ == "__main__":
    main()
