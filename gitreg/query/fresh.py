"""Knowing the work tree is as the query index last saw it without a stat of every file:
at 100,000 versions that walk (~110,000 lstat calls) was most of a query's time.

After a full walk has brought the index up to date, the index is *marked* if the work
tree then held exactly what git's index says, path for path and blob for blob (no
untracked, modified, deleted or racy registry file; no assume-unchanged, skip-worktree
or conflicted entry): the mark is git's index stamp (its stat data and checksum) and
the stat signature of every folder the walk listed (``models``, each ``versions``
folder, and each model folder without a versions folder),
none changed within the last two seconds.

A later full query trusts the index, and skips the walk, only if all of these hold:

- git's index is the one marked (same stamp before and after the checks), so git's
  blob id for each path is the one the index holds;
- every marked folder has its marked signature, so no entry was added, removed,
  renamed or replaced by another kind of file (a FIFO, a symbolic link) in any of them;
- ``git diff-files`` finds no registry file that differs from git's index, with git's
  own racy-git check (content compared when a file changed in the index's second),
  under full stat comparison whatever fsmonitor or core.checkStat say.

So an edited file, a new or deleted one, or a replaced one is seen as it was before,
and is then read the slow way, through the stat cache (``query.index``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gitreg.errors import GitError
from gitreg.query.walk import RACY_NS, Sigs, folders_unchanged, in_layout
from gitreg.repo.git import Git, Pending

if TYPE_CHECKING:
    from gitreg.query.index import Index

_MODELS = "models"


class Check:
    """Started before a full query's walk: says whether the walk can be skipped, and,
    if it could not, marks the index once the walk is done and the tree is clean."""

    def __init__(self, root: Path) -> None:
        self.git = Git(root)
        self.stamp = self.git.index_stamp()
        self.unstaged: Pending | None = None
        self.staged: Pending | None = None
        if self.stamp is not None:
            try:
                self.unstaged = self.git.start_unstaged(_MODELS)
            except GitError:
                self.stamp = None

    def trusted(
        self, idx: Index, root: Path, meanwhile: Callable[[], object] | None = None
    ) -> bool:
        """Whether the index still holds what every registry path of the work tree holds.
        ``meanwhile`` runs while git compares the files, if the index was marked for this
        git index (before the folders are looked at: they would contend with git's own
        look at every file)."""
        if self.stamp is None or self.unstaged is None:
            return False
        db = idx.connection()
        dirs = None if db is None else _marked(db, self.stamp)
        if dirs and meanwhile is not None:
            meanwhile()
        if not dirs or not folders_unchanged(root, dirs):
            self._start_staged()  # it runs beside the walk, for mark()
            return False
        changed = self._changed()
        return changed == set() and self.git.index_stamp() == self.stamp

    def mark(self, idx: Index, seen: dict[str, str], dirs: Sigs) -> None:
        """After a full walk: mark the index if the tree held what git's index says."""
        if self.stamp is None or self.staged is None:
            self.cancel()
            return
        now = time.time_ns()
        if any(now - changed <= RACY_NS for _, changed in dirs.values()):
            self.cancel()
            return
        if self._changed() != set() or _entries(self.staged) != seen:
            return
        db = idx.connection()
        if db is None or self.git.index_stamp() != self.stamp:
            return
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM dirs")
                db.executemany(
                    "INSERT INTO dirs VALUES (?, ?)",
                    ((p, s) for p, (s, _) in dirs.items() if not _covered(p, dirs)),
                )
                db.execute("INSERT OR REPLACE INTO meta VALUES ('clean', ?)", (self.stamp,))
        except sqlite3.DatabaseError:
            pass

    def cancel(self) -> None:
        for job in (self.unstaged, self.staged):
            if job is not None:
                job.cancel()

    def _start_staged(self) -> None:
        try:
            self.staged = self.git.start_staged(_MODELS)
        except GitError:
            self.staged = None

    def _changed(self) -> set[str] | None:
        if self.unstaged is None:
            return None
        try:
            out = self.unstaged.result()
        except GitError:
            return None
        finally:
            self.unstaged = None
        return {p for p in out.split("\0") if p}


def _marked(db: sqlite3.Connection, stamp: str) -> list[tuple[str, str]] | None:
    """The folders (path, signature) the index was marked with for git's index ``stamp``,
    or None if it was not."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'clean'").fetchone()
        if row is None or row[0] != stamp:
            return None
        return db.execute("SELECT path, sig FROM dirs").fetchall() or None
    except sqlite3.DatabaseError:
        return None


def _covered(folder: str, dirs: Sigs) -> bool:
    """Whether a model folder's own signature adds nothing: it has a versions folder,
    which the walk lists only beside a model.yaml, and a marked tree's model.yaml is
    tracked, so git sees it edited, deleted or replaced, and a new version shows in the
    versions folder's signature. Nothing else in the folder is read. That halves the
    folders a trusted query looks at."""
    return folder.count("/") == 1 and f"{folder}/versions" in dirs


def _entries(job: Pending) -> dict[str, str] | None:
    """path -> blob id of git's index entries under models/ in the registry's layout, or
    None if any of them is not a plain, merged, regular file entry."""
    try:
        out = job.result()
    except GitError:
        return None
    found: dict[str, str] = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        if not in_layout(path):
            continue
        tag, mode, oid, stage = meta.split(" ")
        if tag != "H" or stage != "0" or mode not in ("100644", "100755"):
            return None
        found[path] = oid
    return found
