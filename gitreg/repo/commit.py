"""The commit engine: write a few registry files and make exactly one commit of exactly
those paths on the current branch, with a ``Gitreg-Op`` trailer, or change nothing. If
anything fails before the commit lands, the files go back as HEAD has them; the write is
journaled (``repo.lock``) so a process killed half-way is undone by the next one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from gitreg.errors import Conflict, GitError
from gitreg.layout import MODELS
from gitreg.repo import lock, objects
from gitreg.repo.git import Git

# Git's index stamp (``Git.index_stamp``) and the commit whose tree it held exactly, left by
# the last write that knew it; any later change to the index changes the stamp.
MATCHED = "gitreg-index-matched"
# Git writes a new shared index once 20% of the entries are new, but never for entries
# changed in place: after a refresh of every file's stat data (a copied or restored work
# tree) each write would rewrite all of them, +25 ms at 100,000 files. Past this many,
# a write has git move them into a new shared index (~60 ms, once).
RESPLIT = 5000


class Committer:
    """Commits on the current branch of the work tree at ``root``. ``op_id`` (set by
    ``repo.sync`` while it replays a write) keeps an operation's id across retries."""

    def __init__(self, root: Path, git: Git) -> None:
        self.root = root
        self.git = git
        self.op_id: str | None = None

    def commit(self, message: str, files: Mapping[str, bytes | None]) -> str:
        """Write ``files`` (None deletes) and commit exactly those paths, or change nothing.

        ``git commit -- paths`` costs hundreds of ms in a registry of 100,000 files (it
        rebuilds the whole index), so the commit is made from objects instead: the blobs,
        the trees along the changed paths (objects.TreeEdit), commit-tree, and HEAD moved
        by a compare-and-swap ``update-ref``; ``update-index`` brings just these paths'
        index entries along (with ``core.splitIndex`` it writes only what changed). Other
        staged changes stay staged and stay out of the commit.

        At 100,000 files each git process that reads the index costs ~25 ms, so only
        update-index does, as a rule: whether a path is staged is asked of git only if
        the index changed since the last write left it holding exactly HEAD's tree
        (``MATCHED``)."""
        head = self.git.head()
        if head is None:  # the branch has no commit yet: let git commit make the root
            return self._commit_first(message, files)
        parent, tree = head
        paths = list(files)
        stamp = self.git.index_stamp()
        matched = stamp is not None and _matched(self.root) == f"{stamp} {parent}"
        staged = (
            None
            if matched
            else self.git.start("diff-index", "--cached", "--name-only", "-z", parent)
        )
        settings = self.git.start(
            "config", "-z", "--type=bool", "--get-regexp", r"^(commit\.gpgsign|core\.splitindex)$"
        )
        try:
            # Git answers while the work tree is compared with HEAD here.
            edit = objects.TreeEdit(self.git, tree)
            stale = [
                p for p in paths if _on_disk(self.root, p, edit.hexlen) != _blob(edit.entry(p))
            ]
            # Bytes that differ from HEAD may still be clean to git (filters, line endings).
            dirty = self.git.dirty_paths(*stale) if stale else []
            elsewhere = [p for p in staged.result().split("\0") if p] if staged else []
            dirty += [p for p in elsewhere if _under(p, files)]
            conf = dict(
                item.split("\n", 1) for item in settings.result(check=False).split("\0") if item
            )
        finally:
            if staged:
                staged.cancel()
            settings.cancel()
        if dirty:
            raise Conflict(f"{dirty[0]} has uncommitted changes; commit or discard them first")
        new_tree = edit.plan(
            {
                p: None if b is None else objects.object_id("blob", b, edit.hexlen)
                for p, b in files.items()
            }
        )
        if new_tree == tree:
            return parent  # every file already reads as given: no commit
        if "core.splitindex" not in conf:  # a registry made before gitreg set it
            self.git.run("config", "core.splitIndex", "true")
        with self._journal(files) as op:
            self._write_files(files)
            lock.crash_point("before_commit")  # every file written, nothing committed
            # The index keeps matching HEAD if it did and no one wrote it since the check.
            keep = not elsewhere and stamp is not None and self.git.index_stamp() == stamp
            resplit = conf.get("core.splitindex") == "true" and _unshared(self.root) > RESPLIT
            # update-index also writes the blobs the new trees name; the trees and the
            # commit are made meanwhile, and the blobs checked once it is done
            job = self.git.start_update_index(paths, resplit=resplit)
            try:
                edit.write(blobs=False)
                sha = objects.commit_tree(
                    self.git,
                    new_tree or self.git.run("mktree", input=b"").strip(),
                    parent,
                    f"{message}\n\nGitreg-Op: {op}",
                    sign=conf.get("commit.gpgsign") == "true",
                )
            except BaseException:
                job.result(check=False)  # waited for, never killed (see start_update_index)
                raise
            job.result()
            stamp = self.git.index_stamp() if keep else None
            edit.check_blobs()
            try:
                self.git.move_head(sha, parent, f"commit: {message.partition(chr(10))[0]}")
            except GitError as e:
                raise Conflict(
                    f"HEAD moved while gitreg was committing, so nothing was committed ({e}); "
                    "run the command again"
                ) from None
            if stamp is not None:
                _remember(self.root, f"{stamp} {sha}")
        return sha

    def _commit_first(self, message: str, files: Mapping[str, bytes | None]) -> str:
        """``commit`` on a branch with no commit yet, through ``git commit``."""
        dirty = self.git.dirty_paths(*files)
        if dirty:
            raise Conflict(f"{dirty[0]} has uncommitted changes; commit or discard them first")
        with self._journal(files) as op:
            self._write_files(files)
            return self.git.commit(list(files), f"{message}\n\nGitreg-Op: {op}")

    @contextmanager
    def _journal(self, files: Mapping[str, bytes | None]) -> Iterator[str]:
        """The operation id, with ``files`` journaled (gitreg.repo.lock) until the block ends;
        if it fails, the files go back to HEAD's bytes (the journal stays if even that
        fails, for the next command to recover)."""
        op = self.op_id or uuid.uuid4().hex
        lock.begin(self.root, op, list(files))
        try:
            yield op
        except BaseException:
            self.git.restore(files)
            lock.end(self.root)
            raise
        lock.end(self.root)

    def _write_files(self, files: Mapping[str, bytes | None]) -> None:
        for rel, content in files.items():
            target = self.root / rel
            if content is None:
                target.unlink(missing_ok=True)
                _prune_empty(target.parent, self.root / MODELS)
            else:
                _atomic_write(target, content)


def _matched(root: Path) -> str:
    """``<index stamp> <commit>`` of the last time git's index was left holding exactly
    that commit's tree (every path, every blob), or ""."""
    try:
        return (lock.git_dir(root) / MATCHED).read_text()
    except OSError:
        return ""


def _remember(root: Path, line: str) -> None:
    with contextlib.suppress(OSError):  # a read-only .git: the next write reads the index
        (lock.git_dir(root) / MATCHED).write_text(line)


def _under(path: str, files: Mapping[str, object]) -> bool:
    """Whether ``path`` is one of ``files`` or inside one of them (as a pathspec matches)."""
    return path in files or any(path[:i] in files for i, c in enumerate(path) if c == "/")


def _unshared(root: Path) -> int:
    """How many entries git's index file holds itself: with a split index, those not in
    the shared index (0 where it cannot tell)."""
    try:
        with open(root / ".git" / "index", "rb") as f:
            head = f.read(12)
    except OSError:
        return 0
    return int.from_bytes(head[8:12], "big") if head[:4] == b"DIRC" else 0


def _on_disk(root: Path, rel: str, hexlen: int) -> str | None:
    """The blob id of the regular file at ``rel``; None if nothing is there; "" for
    anything else (a folder, a symbolic link, or a path through one)."""
    folder = root
    for part in rel.split("/")[:-1]:
        folder = folder / part
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return ""
        except FileNotFoundError:
            return None
    try:
        st = os.lstat(root / rel)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return ""
    return objects.object_id("blob", (root / rel).read_bytes(), hexlen)


def _blob(entry: tuple[str, str] | None) -> str | None:
    """The blob id of a tree entry that is a regular file; None if there is no entry."""
    if entry is None:
        return None
    return entry[1] if entry[0] in ("100644", "100755") else "not a regular file"


def _atomic_write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gitreg-tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        lock.crash_point("before_replace")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
