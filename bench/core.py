"""Whole-process times of `gitreg resolve` and `gitreg register` (no upload) on a registry
of 1,000 versions, next to `python -c pass` for scale. Prints one line per figure.

    python bench/core.py [--versions 1000] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastimport import GIT_ENV

from gitreg.files.records import dump_record
from gitreg.layout import model_path, version_path
from gitreg.manifest import ArtifactRef, ModelVersion, RegisteredModel
from gitreg.registry.template import init_registry


def build(root: Path, versions: int, artifact: Path) -> None:
    """1,000 versions of one model, written with gitreg's own canonical dump in one commit.
    Production sits in the middle, so `/Production` scans half the versions."""
    init_registry(root)
    digest = "sha256:" + "ab" * 32
    for n in range(1, versions + 1):
        stage = (
            "Production" if n == versions // 2 else ("Archived" if n < versions // 2 else "None")
        )
        mv = ModelVersion(
            name="m",
            version=n,
            stage=stage,
            artifact=ArtifactRef(uri=artifact.as_uri(), digest=digest, size=123),
            created_at="2026-11-01T00:00:00Z",
            created_by="bench <bench@example.com>",
            metrics={"val_auc": 0.8 + n / 10**5},
            params={"lr": "0.01"},
            tags={"n": str(n)},
            lineage={"run_id": f"run-{n}"},
        )
        path = root / version_path("m", n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dump_record(mv.to_dict(), "version"))
    model = RegisteredModel(
        name="m",
        created_at="2026-11-01T00:00:00Z",
        created_by="bench <bench@example.com>",
        aliases={"champion": 7},
        last_version=versions,
    )
    (root / model_path("m")).write_bytes(dump_record(model.to_dict(), "model"))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench data"], cwd=root, check=True)


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall time in ms of ``runs`` runs (after one warm-up)."""
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    env = {**os.environ, **GIT_ENV}
    os.environ.update(GIT_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "reg"
        artifact = Path(tmp) / "model.bin"
        artifact.write_bytes(os.urandom(1 << 16))
        build(root, args.versions, artifact)
        gitreg = [sys.executable, "-m", "gitreg", "--repo", str(root)]
        base = timed([sys.executable, "-c", "pass"], args.runs, env)
        print(f"python -c pass                           {base:7.1f} ms")
        for uri in [
            f"models:/m/{args.versions // 2}",
            "models:/m@champion",
            "models:/m/latest",
            "models:/m/Production",
        ]:
            ms = timed([*gitreg, "resolve", uri], args.runs, env)
            print(f"gitreg resolve {uri:<26}{ms:7.1f} ms  ({ms / base:.1f}x python)")
        ms = timed([*gitreg, "resolve", "models:/m/Production", "--ref", "HEAD"], args.runs, env)
        print(f"gitreg resolve .../Production --ref HEAD {ms:7.1f} ms  ({ms / base:.1f}x python)")
        samples = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(
                [*gitreg, "register", "m", artifact.as_uri()],
                check=True,
                capture_output=True,
                env=env,
            )
            samples.append((time.perf_counter() - t0) * 1000)
        ms = statistics.median(samples)
        print(f"gitreg register m file://... (no upload) {ms:7.1f} ms  ({ms / base:.1f}x python)")


if __name__ == "__main__":
    main()
