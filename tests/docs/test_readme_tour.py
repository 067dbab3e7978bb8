"""The README's tour, run as written against a fresh registry, so it cannot rot.

The commands are read from the README's ``## A tour`` block, each run through ``sh`` as a
real subprocess in the folder the tour has ``cd``'d into. The only stand-ins: the GitHub
remote is a bare repository on disk, ``s3://acme-ml`` is moto's S3 server on 127.0.0.1
(reached through ``AWS_ENDPOINT_URL``), ``~/train/model.pkl`` is a file the test
writes, and every commit is dated three days ago: the day in Staging that the template's
Production gate asks for, which the tour spends between two lines. A command whose
comment starts with "refused" must exit 1; a comment line right
after a command is text its output must contain; every other command must exit 0.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import git

if TYPE_CHECKING:
    from s3_server import S3

pytest_plugins = ["s3_server"]
README = Path(__file__).resolve().parents[2] / "README.md"
REMOTE = "git@github.com:acme/ml-registry.git"


@dataclass
class Step:
    command: str
    refused: bool = False
    expect: str = ""


def tour() -> list[Step]:
    text = README.read_text()
    block = text.split("## A tour\n\n```sh\n", 1)[1].split("\n```", 1)[0]
    block = block.replace("\\\n", " ")
    steps: list[Step] = []
    after_command = False
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped:
            after_command = False
        elif stripped.startswith("#"):
            if after_command:
                steps[-1].expect = stripped.lstrip("# ")
            after_command = False
        else:
            comment = re.search(r"\s#\s*(.*)$", stripped)
            refused = bool(comment and comment[1].startswith("refused"))
            steps.append(Step(stripped, refused))
            after_command = True
    return steps


def test_the_tour_is_read_from_the_readme() -> None:
    steps = tour()
    assert steps[0].command.startswith("gitreg init ./ml-registry && cd ./ml-registry")
    assert steps[2].expect == "Registered fraud-detector version 1"
    assert [s.command.split("#")[0].strip() for s in steps if s.refused] == []
    assert any("--models \"tags.team = 'risk'\"" in s.command for s in steps)
    assert len(steps) > 25


def test_the_readme_tour_runs(tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(os.environ["HOME"])
    (home / "train").mkdir()
    (home / "train" / "model.pkl").write_bytes(os.urandom(5000))
    s3.client.create_bucket(Bucket="acme-ml")
    for name in ("weights.bin", "config.json"):
        s3.client.put_object(Bucket="acme-ml", Key=f"models/fraud/v2/{name}", Body=os.urandom(300))
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    stamp = f"@{int(time.time()) - 3 * 86400} +0000"
    monkeypatch.setenv("GIT_COMMITTER_DATE", stamp)
    monkeypatch.setenv("GIT_AUTHOR_DATE", stamp)
    # `gitreg` on PATH is this interpreter's, running this checkout
    shim = tmp_path / "bin" / "gitreg"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m gitreg "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")

    cwd = tmp_path
    outputs: dict[str, str] = {}
    for step in tour():
        command = step.command.replace(REMOTE, str(bare))
        if " && cd " in command:  # the tour's one cd: run the rest, then follow it
            command, _, target = command.partition(" && cd ")
            target = target.split("#")[0].strip()
        else:
            target = ""
        proc = subprocess.run(
            ["sh", "-c", command], cwd=cwd, capture_output=True, text=True, check=False
        )
        where = f"README tour: {step.command}\n{proc.stdout}{proc.stderr}"
        assert "Traceback" not in proc.stderr, where
        assert proc.returncode == (1 if step.refused else 0), where
        assert step.expect in proc.stdout, where
        outputs[step.command] = proc.stdout + proc.stderr
        if target:
            cwd = (cwd / target).resolve()

    by_start = {k.split("#")[0].strip(): v for k, v in outputs.items()}
    promoted = by_start["gitreg transition card-fraud 1 Production"]
    assert "branch: promote/card-fraud-v1-production" in promoted, promoted
    check = "gitreg check --base origin/main --head origin/promote/card-fraud-v1-production"
    assert "card-fraud v1: Staging -> Production" in by_start[check], by_start[check]
    assert "card-fraud" in by_start["gitreg search --models \"tags.team = 'risk'\""]
    shown = json.loads(by_start["gitreg show card-fraud 1 --json"])
    assert shown["lineage"]["data_version"] == "2026-10" and shown["stage"] == "Staging"
    assert (home / "serve" / "model.pkl").read_bytes() == (home / "train/model.pkl").read_bytes()
    assert git(bare, "rev-parse", "main") == git(cwd, "rev-parse", "main")  # pushed, not forced
    assert git(bare, "rev-parse", "promote/card-fraud-v1-production")  # the PR's branch
