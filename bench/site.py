"""`gitreg site` on a registry of 10,000 versions, as whole processes (bytecode cached): the
first render into an empty folder of a fresh clone (no query index, no site state), a
re-render with nothing changed, and a re-render after one change (a tag set on one
version, a stage transition, a new version registered). Run on the versions spread over
``--models`` models and, with them all in one model, the case the targets are set for:
the first render under 10 s, a re-render after one change under 1 s. Medians of ``--runs``.

    python bench/site.py [--versions 10000] [--models 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastimport import GIT_ENV

from gitreg.files.records import dump_record
from gitreg.layout import model_path, version_path
from gitreg.manifest import ArtifactRef, ModelVersion, RegisteredModel
from gitreg.registry import Registry
from gitreg.registry.template import init_registry


def build(root: Path, versions: int, models: int) -> None:
    """``versions`` versions spread over ``models`` models, written with gitreg's own
    canonical dump in one commit; each model has a Production and a Staging version."""
    init_registry(root)
    digest = "sha256:" + "ab" * 32
    per = versions // models
    for i in range(models):
        name = f"model-{i:03d}"
        for n in range(1, per + 1):
            stage = {per // 2: "Production", per: "Staging"}.get(n, "Archived")
            mv = ModelVersion(
                name=name,
                version=n,
                stage=stage,
                artifact=ArtifactRef(uri=f"s3://bench/{name}/{n}", digest=digest, size=123),
                created_at="2026-11-01T00:00:00Z",
                created_by="bench <bench@example.com>",
                description=f"Version {n}: *trained* on [data](https://example.com/{n}).",
                metrics={"val_auc": 0.8 + n / 10**5, "loss": 1 / (n + 1)},
                params={"lr": "0.01"},
                tags={"n": str(n)},
                lineage={"run_id": f"run-{n}"},
            )
            path = root / version_path(name, n)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(dump_record(mv.to_dict(), "version"))
        model = RegisteredModel(
            name=name,
            created_at="2026-11-01T00:00:00Z",
            created_by="bench <bench@example.com>",
            description=f"# {name}\n\nA benchmark model.",
            tags={"team": f"team-{i % 4}"},
            aliases={"champion": per // 2},
            last_version=per,
        )
        (root / model_path(name)).write_bytes(dump_record(model.to_dict(), "model"))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench data"], cwd=root, check=True)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, env=env, text=True).stdout
    return time.perf_counter() - t0, out.strip()


def bench(tmp: Path, versions: int, models: int, runs: int) -> None:
    root, out = tmp / f"reg-{models}", tmp / f"site-{models}"
    build(root, versions, models)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "gitreg", "--repo", str(root), "site", "-o", str(out)]
    reg = Registry(root)
    blob = tmp / "model.bin"
    blob.write_bytes(b"weights")
    per = versions // models
    changes: list[tuple[str, Callable[[int], object]]] = [
        ("re-render, nothing changed", lambda i: None),
        ("re-render after one tag set", lambda i: reg.set_tag("model-000", "k", f"v{i}", 3)),
        ("re-render after a transition", lambda i: reg.transition("model-000", 4 + i, "Staging")),
        ("re-render after a new version", lambda i: reg.register("model-000", blob)),
    ]
    figures: dict[str, list[float]] = {"first render": []}
    for i in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(root / ".git" / "gitreg", ignore_errors=True)  # as a fresh clone has it
        seconds, _ = timed(cmd, env)
        figures["first render"].append(seconds)
        for label, change in changes:
            change(i)
            seconds, said = timed(cmd, env)
            figures.setdefault(label, []).append(seconds)
    print(f"{versions:,} versions in {models} model(s), {per:,} each; medians of {runs} runs")
    for label, times in figures.items():
        print(f"  {label:<32} {statistics.median(times):6.2f} s  (min {min(times):.2f})")
    print(f"  last: {said}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.environ.update(GIT_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        for models in dict.fromkeys([args.models, 1]):  # the one-model case, always
            bench(Path(tmp), args.versions, models, args.runs)


if __name__ == "__main__":
    main()
