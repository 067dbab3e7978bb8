"""What ``gitreg list`` shows, answered by SQL: each model's newest version number in each
stage, which the query index keeps as a table, so that 100,000 versions are never read
back as records (``Reader.stage_heads``). The index is first brought up to date with
the work tree (``Index.refresh``), which stores with each path its model name and
number, and its record's name, version and stage, as columns, and keeps each model's
record and newest version in each stage beside them. Where anything is off (a
record whose name or number is not its path's, a record missing, an index that could
not be written) the answer is None and the caller reads the slow way, which says what
is wrong."""

from __future__ import annotations

import marshal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitreg.query.index import Index

_MODELS = "SELECT data FROM model_records ORDER BY model"
_HEADS = "SELECT model, stage, version FROM stage_heads"
Heads = list[tuple[Any, list[tuple[int, str]]]]


def worktree_heads(idx: Index, root: Path, build: Callable[[dict[str, Any]], Any]) -> Heads | None:
    """``build(record)`` of each model's record, by name, with the (number, stage) of its
    newest version in each stage, oldest first; or None: ask the slow way. Read (and
    built) while git checks the work tree, and again if bringing the index up to date
    changed it."""
    early: list[Heads | None] = []
    if not idx.refresh(root, lambda: early.append(_read(idx, build))):
        return None
    return early[0] if early and not idx.changed else _read(idx, build)


def _read(idx: Index, build: Callable[[dict[str, Any]], Any]) -> Heads | None:
    db = idx.reading()
    if db is None:
        return None
    newest: dict[str, list[tuple[int, str]]] = {}
    try:
        for model, stage, version in db.execute(_HEADS):
            newest.setdefault(model, []).append((version, stage))
        records = [marshal.loads(data) for (data,) in db.execute(_MODELS)]
    except sqlite3.DatabaseError:
        return None
    finally:
        db.rollback()  # only read
    return [(build(r), sorted(newest.get(r["name"], []))) for r in records]
