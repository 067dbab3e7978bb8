"""`gitreg site` on a registry of 10,000 versions: the first render into an empty folder,
a re-render with nothing changed, and a re-render after one tag was set (target: the
first render under 10 s).

    python bench/site.py [--versions 10000] [--models 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from fastimport import GIT_ENV

from gitreg.files.records import dump_record
from gitreg.layout import model_path, version_path
from gitreg.manifest import ArtifactRef, ModelVersion, RegisteredModel
from gitreg.registry import Registry
from gitreg.registry.template import init_registry
from gitreg.site import build_site


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--models", type=int, default=20)
    args = ap.parse_args()
    os.environ.update(GIT_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "reg", Path(tmp) / "site"
        build(root, args.versions, args.models)
        reg = Registry(root)
        for label, action in [
            ("first render", None),
            ("re-render, nothing changed", None),
            ("re-render after one tag set", lambda: reg.set_tag("model-000", "k", "v", 3)),
        ]:
            if action:
                action()
            t0 = time.perf_counter()
            report = build_site(Registry(root), out)
            seconds = time.perf_counter() - t0
            print(
                f"{label:<30} {seconds:6.2f} s  {report.pages} pages, "
                f"{len(report.written)} written, {report.unchanged} unchanged"
            )


if __name__ == "__main__":
    main()
