"""Each version's ``search --json`` text, kept in the query index's database next to its
record and keyed the same way, by blob id: the text of a blob's record never changes, so
it is rendered once (``query.jsontext``) and then only copied out. Rendering 100,000
versions took longer than finding them.

A text is the version's canonical dict as an element of the printed list, without its
aliases (they live in model.yaml, so they are spliced in per search). Every read and
write here is best effort, as the index's own are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from gitreg.query.index import Index
from gitreg.query.jsontext import render_at, render_item

_CLOSE = "\n  }"


def text_of(data: dict[str, Any]) -> str:
    """The stored text of a version's canonical dict (``data`` has no aliases)."""
    return render_item(data)


def with_aliases(text: str, aliases: Sequence[str]) -> str:
    """``text`` with ``"aliases"`` as its last key: ``render_item({**data, "aliases":
    list(aliases)})`` for the ``data`` that ``text`` is the text of."""
    listed = render_at(list(aliases), "    ")
    return text[: -len(_CLOSE)] + ',\n    "aliases": ' + listed + _CLOSE


def stored(index: Index, oids: Collection[str]) -> dict[str, str]:
    """blob id -> text of each of ``oids`` that has one."""
    db = index.connection()
    if db is None or not oids:
        return {}
    wanted = set(oids)
    try:
        return dict(_rows(db, wanted))
    except sqlite3.DatabaseError:
        return {}


def _rows(db: sqlite3.Connection, wanted: set[str]) -> Iterator[tuple[str, str]]:
    if len(wanted) > 2000:  # one pass over the table beats a lookup each
        yield from ((o, t) for o, t in db.execute("SELECT oid, text FROM texts") if o in wanted)
        return
    ordered = sorted(wanted)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        marks = ",".join("?" * len(chunk))
        yield from db.execute(f"SELECT oid, text FROM texts WHERE oid IN ({marks})", chunk)


def store(index: Index, texts: dict[str, str]) -> None:
    """Keep ``texts`` (blob id -> text), best effort."""
    db = index.connection()
    if db is None or not texts:
        return
    try:
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR IGNORE INTO texts VALUES (?, ?)", texts.items())
    except sqlite3.DatabaseError:
        pass  # busy or read-only: rendered again next time
