"""What ``gitreg list`` shows, answered by SQL: each model's newest version number in each
stage, as one aggregate over the query index, so that 100,000 versions are never read
back as records (``Reader.stage_heads``). The index is first brought up to date with
the work tree (``Index.worktree(lean=True)``), which stores with each path its model
name and number, and its record's name, version and stage, as columns. Where anything
is off (a record whose name or number is not its path's, a record missing, an index
that could not be written) the answer is None and the caller reads the slow way, which
says what is wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from gitreg.query.index import MISPLACED, Build, Index

_HEADS = "SELECT model, stage, max(version) FROM files WHERE number > 0 GROUP BY model, stage"


def worktree_heads(
    idx: Index, root: Path, build: Build
) -> tuple[dict[str, Any], dict[str, list[tuple[int, str]]]] | None:
    """(model.yaml path -> ``build(path, record)``, model name -> [(number, stage)] of its
    newest version in each stage, oldest first), or None: ask the slow way."""
    models = idx.worktree(root, None, True, build, lean=True)
    db = idx.connection()
    if not idx.saved or db is None:
        return None
    heads: dict[str, list[tuple[int, str]]] = {}
    try:
        with db:  # one read transaction: the files the refresh stored, as it stored them
            db.execute("BEGIN")
            if db.execute(MISPLACED).fetchone():
                return None
            rows = db.execute(_HEADS).fetchall()
            (paths,) = db.execute("SELECT count(*) FROM files WHERE number IS NULL").fetchone()
    except sqlite3.DatabaseError:
        return None
    if paths != len(models):
        return None  # another process changed the index in between: ask again the slow way
    for model, stage, version in rows:
        heads.setdefault(model, []).append((version, stage))
    for found in heads.values():
        found.sort()
    return models, heads
