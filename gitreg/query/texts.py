"""Each version's ``search --json`` text, kept in the query index's database next to its
record and keyed the same way, by blob id: the text of a blob's record never changes, so
it is rendered once (``query.jsontext``) and then only copied out. Rendering 100,000
versions took longer than finding them.

A text is the version's canonical dict as an element of the printed list, without its
aliases (they live in model.yaml, so they are spliced in per search). Every read and
write here is best effort, as the index's own are.
"""

from __future__ import annotations

import marshal
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from gitreg.files.tree import WorkTree
from gitreg.layout import version_path
from gitreg.query.index import Index
from gitreg.query.jsontext import render_at, render_item
from gitreg.query.ordered import aliases_of

if TYPE_CHECKING:
    from gitreg.query.reader import Reader

_CLOSE = "\n  }"


def text_of(data: dict[str, Any]) -> str:
    """The stored text of a version's canonical dict (``data`` has no aliases)."""
    return render_item(data)


def with_aliases(text: str, aliases: Sequence[str]) -> str:
    """``text`` with ``"aliases"`` as its last key: ``render_item({**data, "aliases":
    list(aliases)})`` for the ``data`` that ``text`` is the text of."""
    listed = render_at(list(aliases), "    ") if aliases else "[]"  # most versions have none
    return text[: -len(_CLOSE)] + ',\n    "aliases": ' + listed + _CLOSE


def search_texts(
    reader: Reader, filter: str, order_by: list[str], max_results: int | None
) -> Iterator[str]:
    """The text of each version ``reader.search_versions`` finds, in its order."""
    from gitreg.query import search  # noqa: PLC0415 (the filter parser loads only for searches)

    idx = reader._index
    if idx is not None and search.parse(filter).node is None and not order_by:
        every = _every_text(idx, reader, max_results)
        if every is not None:
            yield from every
            return
    oids: dict[str, str] = {}
    found = list(reader._search_records(filter, order_by, max_results, oids))
    keys = [oids.get(version_path(mv.name, mv.version)) for mv, _ in found]
    have = stored(idx, {k for k in keys if k}) if idx is not None else {}
    new = {}
    for (mv, aliases), key in zip(found, keys, strict=True):
        text = have.get(key) if key else None
        if text is None:
            text = text_of(mv.to_dict())
            if key:
                new[key] = text
        yield with_aliases(text, aliases)
    if idx is not None:
        store(idx, new)


_EVERY = (
    "SELECT f.oid, f.number, t.text, CASE WHEN t.text IS NULL THEN"
    " (SELECT data FROM blobs WHERE oid = f.oid) END, m.oid FROM files f"
    " JOIN files m ON m.model = f.model AND m.number IS NULL"
    " LEFT JOIN texts t ON t.oid = f.oid WHERE f.number > 0 ORDER BY f.model, f.number DESC"
)


def _every_text(idx: Index, reader: Reader, max_results: int | None) -> Iterator[str] | None:
    """Every version's text, newest first in each model by name (the default order),
    streamed out of SQL as kept, a record decoded only where its text is not kept yet;
    None where the index cannot vouch for the work tree or a record is not where its path
    says (then the ordinary search answers, or says what is wrong)."""
    if not isinstance(reader.tree, WorkTree) or not idx.refresh(reader.root):
        return None
    db = idx.reading()
    if db is None:
        return None
    limit = "" if max_results is None else f" LIMIT {int(max_results)}"
    try:
        rows = db.execute(_EVERY + limit)
    except sqlite3.DatabaseError:
        db.rollback()
        return None
    return _stream(idx, db, rows)


def _stream(idx: Index, db: sqlite3.Connection, rows: sqlite3.Cursor) -> Iterator[str]:
    new: dict[str, str] = {}
    aliases: dict[str, dict[int, tuple[str, ...]]] = {}  # model.yaml blob -> by version
    try:
        for oid, number, kept, data, model_oid in rows:
            text = kept if kept is not None else text_of(marshal.loads(data))
            if kept is None:
                new[oid] = text
            by_version = aliases.get(model_oid)
            if by_version is None:
                by_version = aliases[model_oid] = aliases_of(db, model_oid)
            yield with_aliases(text, by_version.get(number, ()))
    finally:
        db.execute("COMMIT")
    store(idx, new)


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
