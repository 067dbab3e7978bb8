"""Writes commit through plumbing (repo.commit.Committer): after every kind of write the work
tree and the index agree with HEAD, the commit holds exactly its paths with the trailer and
a reflog entry, a user's other staged change stays staged and out of it, and a write that
fails before HEAD moves leaves HEAD, index and files as they were."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git

from gitreg import Registry
from gitreg.errors import Conflict, GitError
from gitreg.registry.template import init_registry
from gitreg.repo import commit
from gitreg.repo.commit import MATCHED
from gitreg.repo.git import Git


def clean(root: Path) -> bool:
    return git(root, "status", "--porcelain") == "" and git(root, "diff", "--cached") == ""


def changed(root: Path) -> list[str]:
    return git(root, "show", "--name-only", "--format=", "HEAD").split()


def test_every_kind_of_write_leaves_index_and_work_tree_equal_to_head(
    reg: Registry, artifact: Path
) -> None:
    writes = [
        lambda: reg.register("m", artifact),
        lambda: reg.register("m", artifact, tags={"k": "v"}),
        lambda: reg.create_model("empty"),
        lambda: reg.set_alias("m", "champion", 1),
        lambda: reg.delete_alias("m", "champion"),
        lambda: reg.set_tag("m", "owner", "risk"),
        lambda: reg.set_tag("m", "team", "a", version=2),
        lambda: reg.delete_tag("m", "owner"),
        lambda: reg.describe("m", "# Hello"),
        lambda: reg.transition("m", 2, "Staging"),
        lambda: reg.delete_version("m", 1),
        lambda: reg.rename("m", "m2"),
        lambda: reg.delete_model("empty"),
    ]
    for n, write in enumerate(writes, start=1):
        write()
        assert clean(reg.root), n
        body = git(reg.root, "log", "-1", "--format=%B")
        assert "\n\nGitreg-Op: " in body, n
        subject = body.splitlines()[0]
        assert git(reg.root, "reflog", "-1", "--format=%gs") == f"commit: {subject}\n", n
        assert git(reg.root, "reflog", "-1", "--format=%gs", "main") == f"commit: {subject}\n"
    assert len(git(reg.root, "rev-list", "HEAD").split()) == len(writes) + 1
    assert sorted(changed(reg.root)) == ["models/empty/model.yaml"]
    git(reg.root, "fsck", "--strict", "--no-dangling")  # every object is well formed


def test_a_staged_change_elsewhere_stays_staged_and_out_of_the_commit(
    reg: Registry, artifact: Path
) -> None:
    (reg.root / "notes.txt").write_text("mine\n")
    git(reg.root, "add", "notes.txt")
    reg.register("m", artifact)
    assert "notes.txt" not in changed(reg.root)
    assert git(reg.root, "diff", "--cached", "--name-only") == "notes.txt\n"
    assert git(reg.root, "status", "--porcelain") == "A  notes.txt\n"


def test_uncommitted_edits_on_the_paths_are_refused(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    head = git(reg.root, "rev-parse", "HEAD")
    model = reg.root / "models/m/model.yaml"
    before = model.read_bytes()
    model.write_bytes(before + b"# mine\n")
    with pytest.raises(Conflict, match=r"models/m/model\.yaml has uncommitted changes"):
        reg.set_tag("m", "k", "v")
    git(reg.root, "add", str(model))  # staged, and the work tree back as HEAD has it
    model.write_bytes(before)
    with pytest.raises(Conflict, match=r"models/m/model\.yaml has uncommitted changes"):
        reg.set_tag("m", "k", "v")
    assert git(reg.root, "rev-parse", "HEAD") == head
    assert git(reg.root, "diff", "--cached", "--name-only") == "models/m/model.yaml\n"
    untracked = reg.root / "models/m/versions/2.yaml"
    git(reg.root, "reset", "-q")
    untracked.write_text("mine\n")
    assert reg.register("m", artifact).version == 3  # an untracked file is never overwritten
    assert untracked.read_text() == "mine\n"


def test_split_index_is_on_after_init_and_after_the_first_write(
    tmp_path: Path, artifact: Path
) -> None:
    init_registry(tmp_path / "new")
    assert git(tmp_path / "new", "config", "core.splitIndex") == "true\n"
    old = tmp_path / "old"
    init_registry(old)
    git(old, "config", "--unset", "core.splitIndex")
    git(old, "update-index", "--no-split-index")
    Registry(old).register("m", artifact)
    assert git(old, "config", "core.splitIndex") == "true\n"
    assert list((old / ".git").glob("sharedindex.*")) and clean(old)
    git(old, "config", "core.splitIndex", "false")  # the user's own choice is kept
    Registry(old).register("m", artifact)
    assert git(old, "config", "core.splitIndex") == "false\n"


def test_when_the_branch_moves_under_a_write_nothing_is_lost(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    moved = git(reg.root, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "elsewhere").strip()
    # git runs this hook after update-index wrote the index, before HEAD is moved
    hook = reg.root / ".git/hooks/post-index-change"
    hook.write_text(f"#!/bin/sh\ngit update-ref refs/heads/main {moved}\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    files = {p: (reg.root / p).read_bytes() for p in ["models/m/model.yaml"]}
    with pytest.raises(Conflict, match="HEAD moved"):
        reg.set_tag("m", "k", "v")
    hook.unlink()
    assert git(reg.root, "rev-parse", "HEAD").strip() == moved
    assert clean(reg.root)
    assert {p: (reg.root / p).read_bytes() for p in files} == files
    assert not (reg.root / ".git/gitreg-journal").exists()
    reg.set_tag("m", "k", "v")  # and the next write goes through
    assert clean(reg.root) and "owner" not in git(reg.root, "log", "-1", "--format=%B")


def test_a_refused_ref_update_restores_everything(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    head = git(reg.root, "rev-parse", "HEAD")
    hook = reg.root / ".git/hooks/reference-transaction"
    hook.write_text('#!/bin/sh\n[ "$1" = prepared ] && exit 1\nexit 0\n')
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    with pytest.raises((Conflict, GitError)):
        reg.register("m", artifact)
    hook.unlink()
    assert git(reg.root, "rev-parse", "HEAD") == head
    assert clean(reg.root) and not (reg.root / "models/m/versions/2.yaml").exists()


def test_detached_head_gets_the_commit(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    main = git(reg.root, "rev-parse", "main")
    git(reg.root, "checkout", "-q", "--detach")
    reg.set_tag("m", "k", "v")
    assert git(reg.root, "rev-parse", "HEAD^") == main == git(reg.root, "rev-parse", "main")
    assert clean(reg.root)


def test_a_no_op_write_makes_no_commit(reg: Registry, artifact: Path) -> None:
    reg.register("m", artifact)
    head = git(reg.root, "rev-parse", "HEAD")
    model = "models/m/model.yaml"
    assert reg.committer.commit("nothing", {model: (reg.root / model).read_bytes()}) == head.strip()
    assert git(reg.root, "rev-parse", "HEAD") == head and clean(reg.root)


def test_many_entries_in_one_folder(reg: Registry, artifact: Path) -> None:
    """Splicing entries into a large tree: ids whose last byte is an ASCII digit must not
    be mistaken for part of the next entry's mode."""
    for i in range(40):
        os.makedirs(reg.root / f"models/x{i:02d}", exist_ok=True)
        (reg.root / f"models/x{i:02d}/keep").write_text(f"{i}\n")
    git(reg.root, "add", "models")
    git(reg.root, "commit", "-qm", "many")
    for i in range(0, 40, 7):
        reg.register(f"x{i:02d}", artifact)
        assert clean(reg.root)
    git(reg.root, "fsck", "--strict", "--no-dangling")


def traced(root: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[], object]) -> str:
    """The git commands ``write`` ran (git's own trace)."""
    trace = root.parent / "trace.txt"
    trace.unlink(missing_ok=True)
    monkeypatch.setenv("GIT_TRACE", str(trace))
    write()
    monkeypatch.delenv("GIT_TRACE")
    return trace.read_text()


def test_the_index_is_read_again_only_after_it_changed(
    reg: Registry, artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.register("m", artifact)
    head = git(reg.root, "rev-parse", "HEAD").strip()
    assert (reg.root / ".git" / MATCHED).read_text() == f"{Git(reg.root).index_stamp()} {head}"
    assert "diff-index" not in traced(reg.root, monkeypatch, lambda: reg.register("m", artifact))
    git(reg.root, "update-index", "--force-write-index")  # the same entries, but rewritten
    assert "diff-index" in traced(reg.root, monkeypatch, lambda: reg.set_tag("m", "k", "v"))
    assert "diff-index" not in traced(reg.root, monkeypatch, lambda: reg.set_tag("m", "k", "w"))
    assert clean(reg.root)


def test_a_head_moved_under_an_unchanged_index_is_noticed(
    reg: Registry, artifact: Path, tmp_path: Path
) -> None:
    """HEAD moved by plumbing leaves git's index as it was, so it no longer matches HEAD:
    a path it holds otherwise is a staged change, refused as ever."""
    reg.register("m", artifact)
    stamp = Git(reg.root).index_stamp()
    model = reg.root / "models/m/model.yaml"
    model.write_bytes(model.read_bytes() + b"# mine\n")
    other = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "other-index")}

    def plumb(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=reg.root, env=other, capture_output=True, check=True
        )
        return out.stdout.decode().strip()

    plumb("read-tree", "HEAD")
    plumb("update-index", "models/m/model.yaml")
    moved = plumb("commit-tree", plumb("write-tree"), "-p", "HEAD", "-m", "mine")
    git(reg.root, "update-ref", "HEAD", moved)
    assert Git(reg.root).index_stamp() == stamp
    with pytest.raises(Conflict, match=r"models/m/model\.yaml has uncommitted changes"):
        reg.set_tag("m", "k", "v")
    assert git(reg.root, "rev-parse", "HEAD").strip() == moved


def test_a_large_split_index_is_split_again(
    reg: Registry, artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries refreshed in place stay in git's own index file, however many: a write
    moves them into a new shared index once they pass ``RESPLIT``."""
    monkeypatch.setattr(commit, "RESPLIT", 3)
    for n in range(4):
        reg.register(f"m{n}", artifact)
    for path in (reg.root / "models").rglob("*.yaml"):
        path.touch()
    time.sleep(1.1)  # then no entry is racy: each one only gets its new stat data
    git(reg.root, "update-index", "--refresh")
    assert commit._unshared(reg.root) > 3
    reg.register("m0", artifact)
    assert commit._unshared(reg.root) <= 3
    assert clean(reg.root)


def test_a_commit_that_fails_while_git_updates_its_index_leaves_no_lock(
    reg: Registry, artifact: Path
) -> None:
    """update-index runs while the commit is made: when that fails (here gpg), the write
    waits for update-index, so no index.lock is left, and puts the files back."""
    reg.register("m", artifact)
    head = git(reg.root, "rev-parse", "HEAD")
    git(reg.root, "config", "commit.gpgsign", "true")
    git(reg.root, "config", "gpg.program", "false")
    with pytest.raises(GitError, match="commit-tree"):
        reg.register("m", artifact)
    assert not (reg.root / ".git/index.lock").exists()
    assert git(reg.root, "rev-parse", "HEAD") == head and clean(reg.root)
    assert not (reg.root / "models/m/versions/2.yaml").exists()
    git(reg.root, "config", "commit.gpgsign", "false")
    assert reg.register("m", artifact).version == 2 and clean(reg.root)
