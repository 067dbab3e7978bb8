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
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from gitreg.errors import ManifestError
from gitreg.layout import version_path
from gitreg.query.index import Index
from gitreg.query.jsontext import render_at, render_item
from gitreg.query.scan import StoredVersion, as_stored, bulk

if TYPE_CHECKING:
    from gitreg.query.reader import Reader

_CLOSE = "\n  }"


def text_of(data: dict[str, Any]) -> str:
    """The stored text of a version's canonical dict (``data`` has no aliases)."""
    return render_item(data)


def with_aliases(text: str, aliases: Sequence[str]) -> str:
    """``text`` with ``"aliases"`` as its last key: ``render_item({**data, "aliases":
    list(aliases)})`` for the ``data`` that ``text`` is the text of."""
    listed = render_at(list(aliases), "    ")
    return text[: -len(_CLOSE)] + ',\n    "aliases": ' + listed + _CLOSE


def search_texts(
    reader: Reader, filter: str, order_by: list[str], max_results: int | None
) -> Iterator[str]:
    """The text of each version ``reader.search_versions`` finds, in its order."""
    from gitreg.query import search  # noqa: PLC0415 (the filter parser loads only for searches)

    idx = reader._index
    if idx is not None and search.parse(filter).node is None and not order_by:
        yield from _every_text(reader, idx, max_results)
        return
    oids: dict[str, str] = {}
    found = reader._search_records(filter, order_by, max_results, oids)
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


def _every_text(reader: Reader, idx: Index, max_results: int | None) -> Iterator[str]:
    """Every version's text, newest first in each model by name (the default order),
    without decoding a record whose text is kept. Each text is checked against its
    path before any is given out, as the catalog checks each record."""
    oids: dict[str, str] = {}
    with bulk():
        found = reader._catalog(None, True, as_stored, oids)
    wanted: list[tuple[StoredVersion, tuple[str, ...], str | None]] = []
    for model, versions in found:
        by_version: dict[int, list[str]] = {}
        for alias, v in sorted(model.aliases.items()):
            by_version.setdefault(v, []).append(alias)
        for sv in reversed(versions):
            key = oids.get(version_path(sv.name, sv.version))
            wanted.append((sv, tuple(by_version.get(sv.version, ())), key))
        if max_results is not None and len(wanted) >= max_results:
            break
    if max_results is not None:
        del wanted[max_results:]
    have = stored(idx, {key for _, _, key in wanted if key})
    new = {}
    out: list[tuple[str, tuple[str, ...]]] = []
    for sv, aliases, key in wanted:
        text = have.get(key) if key else None
        head = f'{{\n    "name": {encode_basestring(sv.name)},\n    "version": {sv.version},'
        if text is None or not text.startswith(head):
            data = marshal.loads(sv.stored)
            if (data["name"], data["version"]) != (sv.name, sv.version):
                path = version_path(sv.name, sv.version)
                reader.get_version(sv.name, sv.version)  # says where, if it can
                raise ManifestError(path, None, "name/version do not match the path")
            text = text_of(data)
            if key:
                new[key] = text
        out.append((text, aliases))
    del wanted, have
    store(idx, new)
    for text, aliases in out:
        yield with_aliases(text, aliases)


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
