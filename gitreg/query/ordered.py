"""Version searches answered in SQL over the query index (``query.index``): SQLite hands
out the versions in the search's order, filtered by what of the filter it can judge, so
that "the ten best by val_auc" of 100,000 versions decodes about ten records, not all.

The Python filter stays the judge. Every row SQL gives is still tested with
``search.Filter.matches``; SQL only sorts, and only drops rows the filter would drop too
(see ``_pushed``); where SQL judges the whole filter it also applies the limit. Where the
index cannot vouch for the work tree (``Index.refresh``) or a record is not where its
path says (``Index.reading``), the answer is None, and the caller searches the ordinary
way, which says what is wrong.
"""

from __future__ import annotations

import marshal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitreg.manifest import ModelVersion
from gitreg.query import search
from gitreg.query.index import Index
from gitreg.query.rows import VersionRow

Found = tuple[ModelVersion, tuple[str, ...]]

_COLUMNS = {"name": "f.model", "version_number": "f.number", "stage": "f.stage"}
_NUMERIC_OPS = ("<", "<=", ">", ">=", "=")
_METRIC = "EXISTS (SELECT 1 FROM metrics x WHERE x.oid = f.oid AND x.key = ? AND x.value {} ?)"


def search_versions(  # noqa: PLR0913 (where, what, and what to note of it)
    idx: Index,
    root: Path,
    flt: search.Filter,
    order_by: list[str],
    max_results: int | None,
    oids: dict[str, str] | None = None,
) -> Iterator[Found] | None:
    """What ``Reader.search_version_records`` finds in the work tree at ``root``, streamed,
    or None: search the ordinary way. ``oids`` (if given) gets each found file's blob id
    as it is given out."""
    planned = _queries(flt, order_by, max_results)
    if planned is None or not idx.refresh(root):
        return None
    db = idx.reading()
    if db is None:
        return None
    try:
        cursors = [db.execute(sql, args) for sql, args in planned]
    except sqlite3.DatabaseError:
        db.rollback()
        return None
    return _stream(db, (row for rows in cursors for row in rows), flt, max_results, oids)


def _stream(
    db: sqlite3.Connection,
    rows: Iterator[tuple[str, str, bytes, str]],
    flt: search.Filter,
    max_results: int | None,
    oids: dict[str, str] | None,
) -> Iterator[Found]:
    aliases: dict[str, dict[int, tuple[str, ...]]] = {}  # model.yaml blob -> by version
    left = max_results
    try:
        for path, oid, data, model_oid in rows:
            if left is not None and left <= 0:
                break
            by_version = aliases.get(model_oid)
            if by_version is None:
                by_version = aliases[model_oid] = aliases_of(db, model_oid)
            mv = ModelVersion.from_index(marshal.loads(data))
            row = VersionRow(mv, by_version.get(mv.version, ()))
            if flt.matches(row):  # the judge, whatever SQL made of the filter
                if oids is not None:
                    oids[path] = oid
                if left is not None:
                    left -= 1
                yield mv, row.aliases
    finally:
        db.execute("COMMIT")


def aliases_of(db: sqlite3.Connection, model_oid: str) -> dict[int, tuple[str, ...]]:
    """A model's aliases by version number, sorted, from its model.yaml's record."""
    row = db.execute("SELECT data FROM blobs WHERE oid = ?", (model_oid,)).fetchone()
    by_version: dict[int, list[str]] = {}
    for alias, v in sorted((marshal.loads(row[0]).get("aliases") or {}).items()):
        by_version.setdefault(v, []).append(alias)
    return {v: tuple(names) for v, names in by_version.items()}


def _queries(
    flt: search.Filter, order_by: list[str], max_results: int | None
) -> list[tuple[str, list[Any]]] | None:
    """The SQL giving path, blob id, record and model.yaml blob id of each candidate
    version in the search's order, as (query, arguments) to run one after the other,
    limited where they judge the whole filter; None where an order key is not a column or
    a metric. Ordered by a metric first, the versions that have it come from the index of
    metric values, then (unless the filter needs it) those that do not."""
    keys = search.order_keys(order_by)
    joins, order, join_args = "", [], []
    for i, (field, descending) in enumerate(keys):
        direction = " DESC" if descending else ""
        if field.kind == "metrics":
            column = f"m{i}.value"
            if i:  # absent (or NaN) values go last in either direction, as in sort_records
                joins += f" LEFT JOIN metrics m{i} ON m{i}.oid = f.oid AND m{i}.key = ?"
                join_args.append(field.key)
                order.append(f"{column} IS NULL")
        elif field.kind == "attr" and field.key in _COLUMNS:
            column = _COLUMNS[field.key]  # never NULL in a version's row
        else:
            return None
        order.append(column + direction)
    conds, exact = _pushed(flt.node)
    where = " WHERE f.number > 0" + "".join(f" AND {sql}" for sql, _, _ in conds)
    args = join_args + [a for _, values, _ in conds for a in values]
    limit = f" LIMIT {int(max_results)}" if exact and max_results is not None else ""
    sql = (
        "SELECT f.path, f.oid, b.data, m.oid FROM {} JOIN files m ON m.model = f.model"
        " AND m.number IS NULL JOIN blobs b ON b.oid = f.oid" + joins + where + "{} ORDER BY "
    )
    first = keys[0][0]
    if first.kind != "metrics":
        return [(sql.format("files f", "") + ", ".join(order) + limit, args)]
    # the first key's own conditions, again on m0, so that SQLite reads a range of its index
    ranges = [(m[1], m[2]) for _, _, m in conds if m and m[0] == first.key]
    present = " AND m0.key = ? AND m0.value IS NOT NULL" + "".join(
        f" AND m0.value {op} ?" for op, _ in ranges
    )
    found = [
        (
            sql.format("metrics m0 JOIN files f ON f.oid = m0.oid", present)
            + ", ".join(order)
            + limit,
            [*args, first.key, *(v for _, v in ranges)],
        )
    ]
    if not ranges:  # the versions without it (or with NaN), when the filter allows them
        absent = " AND NOT EXISTS (SELECT 1 FROM metrics x WHERE x.oid = f.oid AND x.key = ?"
        absent += " AND x.value IS NOT NULL)"
        found.append(
            (sql.format("files f", absent) + ", ".join(order[1:]) + limit, [*args, first.key])
        )
    return found


def _pushed(node: search.Node | None) -> tuple[list[tuple[str, list[Any], tuple[Any, ...]]], bool]:
    """SQL conditions for the conjuncts of ``node`` SQL judges exactly as the filter does
    (each with its arguments, and for a metric (key, op, value)), and whether that is all
    of them. A comparison with an absent or NaN metric is false in both (a NaN is stored
    as NULL, and NULL compares to nothing)."""
    if node is None:
        return [], True
    items = node.items if isinstance(node, search.Junction) and node.op == "AND" else (node,)
    conds: list[tuple[str, list[Any], tuple[Any, ...]]] = []
    for item in items:
        if not isinstance(item, search.Compare):
            continue
        field, op, value = item.field, item.op, item.value
        values: list[Any] = list(value) if isinstance(value, tuple) else [value]
        if field.kind == "metrics" and op in _NUMERIC_OPS:
            conds.append((_METRIC.format(op), [field.key, value], (field.key, op, value)))
        elif field.kind == "attr" and field.key in _COLUMNS and op in ("=", "IN"):
            marks = ",".join("?" * len(values))
            conds.append((f"{_COLUMNS[field.key]} IN ({marks})", values, ()))
        elif field == search.Field("attr", "version_number") and op in _NUMERIC_OPS:
            conds.append((f"f.number {op} ?", values, ()))
    return conds, len(conds) == len(items)
