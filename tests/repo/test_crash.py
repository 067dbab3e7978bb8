"""Crash safety: a real gitreg subprocess SIGKILLed at each crash point (GITREG_CRASH_AT),
then the repository is checked (before or after the operation, no temp file committed)
and a rerun finishes the job (reliability note §3.6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git

from gitreg.registry.template import init_registry


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, str]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    seed = tmp_path / "seed"
    init_registry(seed)
    git(seed, "push", "-q", remote.as_uri(), "main")
    git(tmp_path, "clone", "-q", remote.as_uri(), "clone")
    art = tmp_path / "model.bin"
    art.write_bytes(b"w" * 1000)
    return remote, tmp_path / "clone", art.as_uri()


def gitreg(repo: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITREG_CRASH_AT"}
    if crash:
        env["GITREG_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "gitreg", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def versions(repo: Path, ref: str = "HEAD") -> list[str]:
    return git(repo, "ls-tree", "--name-only", ref, "models/m/versions/").split()


def temp_files(repo: Path) -> list[Path]:
    return [p for p in repo.rglob(".gitreg-tmp-*") if ".git" not in p.parts]


def no_temp_file_ever_committed(repo: Path) -> bool:
    return ".gitreg-tmp-" not in git(repo, "log", "--all", "--name-only", "--format=")


def test_crash_before_replace_leaves_the_repo_before_the_operation(
    setup: tuple[Path, Path, str],
) -> None:
    remote, repo, art = setup
    head = git(repo, "rev-parse", "HEAD")
    proc = gitreg(repo, "register", "m", art, "--push", crash="before_replace")
    assert proc.returncode == -signal.SIGKILL
    assert git(repo, "rev-parse", "HEAD") == head == git(remote, "rev-parse", "main")
    assert temp_files(repo)  # the killed write left its temporary file behind ...
    proc = gitreg(repo, "register", "m", art, "--push")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Registered m version 1 (pushed to origin/main)\n"
    assert not temp_files(repo)  # ... and the next write removed it
    assert no_temp_file_ever_committed(repo)
    assert git(repo, "status", "--porcelain") == ""


def test_half_written_operation_is_restored_from_head(setup: tuple[Path, Path, str]) -> None:
    _remote, repo, art = setup
    assert gitreg(repo, "register", "m", art).returncode == 0
    head = git(repo, "rev-parse", "HEAD")
    model_before = (repo / "models/m/model.yaml").read_bytes()
    # the 2nd file of the write is killed before its rename: model.yaml is already new
    proc = gitreg(repo, "register", "m", art, crash="before_replace:2")
    assert proc.returncode == -signal.SIGKILL
    assert (repo / "models/m/model.yaml").read_bytes() != model_before
    assert git(repo, "rev-parse", "HEAD") == head
    proc = gitreg(repo, "tag", "set", "m", "k=v")  # any write recovers first
    assert proc.returncode == 0, proc.stderr
    assert versions(repo) == ["models/m/versions/1.yaml"]
    assert git(repo, "status", "--porcelain") == "" and not temp_files(repo)
    assert not (repo / ".git" / "gitreg-journal").exists()
    proc = gitreg(repo, "register", "m", art)
    assert proc.stdout == "Registered m version 2\n"


def test_crash_after_commit_before_push_is_finished_by_gitreg_push(
    setup: tuple[Path, Path, str],
) -> None:
    remote, repo, art = setup
    before = git(remote, "rev-parse", "main")
    proc = gitreg(repo, "register", "m", art, "--push", crash="after_commit_before_push")
    assert proc.returncode == -signal.SIGKILL
    assert versions(repo) == ["models/m/versions/1.yaml"]  # after the op, locally
    assert git(remote, "rev-parse", "main") == before  # before it, remotely
    proc = gitreg(repo, "push")
    assert proc.returncode == 0 and proc.stdout == "Pushed 1 commit to origin/main\n"
    assert versions(remote, "main") == ["models/m/versions/1.yaml"]
    assert gitreg(repo, "push").stdout == "origin/main is up to date\n"
    assert no_temp_file_ever_committed(repo)


def test_crash_after_push_is_complete(setup: tuple[Path, Path, str]) -> None:
    remote, repo, art = setup
    proc = gitreg(repo, "register", "m", art, "--push", crash="after_push")
    assert proc.returncode == -signal.SIGKILL
    assert versions(remote, "main") == ["models/m/versions/1.yaml"]
    assert gitreg(repo, "push").stdout == "origin/main is up to date\n"
    proc = gitreg(repo, "register", "m", art, "--push")
    assert proc.stdout == "Registered m version 2 (pushed to origin/main)\n"
    ops = git(remote, "log", "main", "--format=%(trailers:key=Gitreg-Op,valueonly)").split()
    assert len(ops) == len(set(ops)) == 2
