"""The concurrent-registration race: N clones of one bare remote, each a separate process
registering M versions of the same model with push (reliability note §3.1), or, with
``--force``, the same loop pushing with a raw ``git push --force`` (§3.2: it loses work).

Prints the figures: acknowledged, versions on the remote, lost, duplicated, total time,
lost races (retries), the slowest single registration, and whether ``git fsck --strict``
is clean.

    python bench/race.py [--clones 8] [--versions 5] [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "race",
    "GIT_AUTHOR_EMAIL": "race@example.com",
    "GIT_COMMITTER_NAME": "race",
    "GIT_COMMITTER_EMAIL": "race@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "protocol.file.allow",
    "GIT_CONFIG_VALUE_0": "always",
}


@dataclass
class Result:
    acknowledged: int
    versions_on_remote: list[int]
    acked_versions: list[int]
    lost: int
    duplicated: int
    ops_once: bool
    fsck_clean: bool
    seconds: float
    retries: int
    slowest: float

    def lines(self) -> list[str]:
        return [
            f"acknowledged            {self.acknowledged}",
            f"versions on remote      {len(self.versions_on_remote)}"
            f" (1..{max(self.versions_on_remote, default=0)})",
            f"lost acknowledged ops   {self.lost}",
            f"duplicated numbers      {self.duplicated}",
            f"fsck --strict clean     {self.fsck_clean}",
            f"total time              {self.seconds:.2f} s",
            f"retries (lost races)    {self.retries}",
            f"slowest registration    {self.slowest:.2f} s",
        ]


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def setup(root: Path, clones: int) -> tuple[Path, list[Path], Path]:
    """A bare remote holding a fresh registry, ``clones`` clones of it, and an artifact."""
    from gitreg.registry.template import init_registry

    os.environ.update(GIT_ENV)
    remote = root / "remote.git"
    _git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    seed = root / "seed"
    init_registry(seed)
    _git(seed, "push", "-q", remote.as_uri(), "main")
    paths = []
    for i in range(clones):
        _git(root, "clone", "-q", remote.as_uri(), f"clone{i}")
        paths.append(root / f"clone{i}")
    artifact = root / "model.bin"
    artifact.write_bytes(b"weights" * 100)
    return remote, paths, artifact


def worker(clone: Path, count: int, artifact: str, force: bool, start: float) -> None:
    """One process: ``count`` registrations, one JSON line each on stdout."""
    from gitreg.registry import Registry
    from gitreg.repo import sync

    time.sleep(max(0.0, start - time.time()))
    for _ in range(count):
        t0 = time.perf_counter()
        if force:
            retries = 0
            _git(clone, "fetch", "-q", "origin")
            _git(clone, "reset", "-q", "--hard", "origin/main")
            mv = Registry(clone).register("m", artifact)
            proc = subprocess.run(
                ["git", "push", "-q", "--force", "origin", "main"],
                cwd=clone,
                capture_output=True,
                check=False,
            )
            if proc.returncode != 0:
                continue
        else:
            mv, report = sync.push_op(Registry(clone), lambda r: r.register("m", artifact))
            retries = report.retries
        op = _git(clone, "log", "-1", "--format=%(trailers:key=Gitreg-Op,valueonly)").strip()
        line = {"version": mv.version, "op": op, "retries": retries}
        line["seconds"] = time.perf_counter() - t0
        print(json.dumps(line), flush=True)


def race(root: Path, clones: int = 8, versions: int = 5, force: bool = False) -> Result:
    remote, paths, artifact = setup(root, clones)
    start = time.time() + 1.0
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(p), str(versions), artifact.as_uri()]
            + (["--force"] if force else [])
            + ["--start", str(start)],
            stdout=subprocess.PIPE,
            env={**os.environ, **GIT_ENV},
        )
        for p in paths
    ]
    acks = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        acks += [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    seconds = time.time() - start  # from the moment every worker was released
    listing = _git(remote, "ls-tree", "--name-only", "main", "models/m/versions/")
    on_remote = sorted(int(Path(n).stem) for n in listing.split())
    trailers = _git(remote, "log", "main", "--format=%(trailers:key=Gitreg-Op,valueonly)")
    landed = Counter(trailers.split())
    fsck = subprocess.run(
        ["git", "fsck", "--strict"], cwd=remote, capture_output=True, check=False
    ).returncode
    acked_versions = [a["version"] for a in acks]
    return Result(
        acknowledged=len(acks),
        versions_on_remote=on_remote,
        acked_versions=sorted(acked_versions),
        lost=sum(1 for a in acks if landed[a["op"]] == 0),
        duplicated=sum(n - 1 for n in Counter(acked_versions).values() if n > 1),
        ops_once=all(landed[a["op"]] == 1 for a in acks),
        fsck_clean=fsck == 0,
        seconds=seconds,
        retries=sum(a["retries"] for a in acks),
        slowest=max((a["seconds"] for a in acks), default=0.0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=8)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--worker", nargs=3, metavar=("CLONE", "COUNT", "ARTIFACT"))
    parser.add_argument("--start", type=float, default=0.0)
    args = parser.parse_args()
    if args.worker:
        clone, count, artifact = args.worker
        worker(Path(clone), int(count), artifact, args.force, args.start)
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp
        result = race(Path(tmp), args.clones, args.versions, args.force)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
