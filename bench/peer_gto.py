"""The GTO side of the benchmark: fills a git repository with the workload as GTO's own
annotated tags (``NAME@vX.Y.Z`` to register, ``NAME#STAGE#N`` to assign), one commit per
operation, through `git fast-import`. Registering through GTO itself re-reads every tag
on each call (minutes at 1,000 versions), so the tags are written directly, in the exact
form and message `gto register` / `gto assign` write; `gto show` then reads them back.
Standard library only: run by any Python.

    python peer_gto.py populate REPO MODELS PER_MODEL
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastimport import FastImport
from workload import operations

STAGES = {"Production": "prod", "Staging": "staging"}


def populate(repo: Path, models: int, per_model: int) -> None:
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "init"], cwd=repo, check=True)
    stream = FastImport(repo)
    marks: dict[tuple[str, int], int] = {}
    assigned: dict[tuple[str, str], int] = {}
    for op in operations(models, per_model):
        kind, name = op[0], op[1]
        if kind == "register":
            v = op[2]
            mark = stream.commit(f"train {name} v{v}", {f"models/{name}.txt": b"%d\n" % v})
            marks[name, v] = mark
            stream.tag(f"{name}@v0.0.{v}", mark, f"Registering artifact {name} version v0.0.{v}")
        elif kind in {"stage", "alias"}:
            # GTO has no aliases: the champion is what its "prod" stage points at.
            if kind == "alias":
                continue
            v, stage = op[2], STAGES[op[3]]
            assigned[name, stage] = assigned.get((name, stage), 0) + 1
            stream.tag(
                f"{name}#{stage}#{assigned[name, stage]}",
                marks[name, v],
                f"Assigning stage {stage} to artifact {name} version v0.0.{v}",
            )
    stream.run(checkout=False)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)


if __name__ == "__main__":
    if sys.argv[1] != "populate":
        raise SystemExit(f"unknown command {sys.argv[1]}")
    populate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
