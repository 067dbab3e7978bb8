"""What a pass over the whole registry shares: versions as their canonical dicts (what a
search reads), no cyclic garbage collection while records are built, and the model names
a filter pins (so a search reads only those folders)."""

from __future__ import annotations

import gc
import marshal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from gitreg.manifest import RegisteredModel

if TYPE_CHECKING:
    from gitreg.query import search


class VersionData(NamedTuple):
    """A version's number and canonical dict, as a search reads it."""

    name: str
    version: int
    data: dict[str, Any]


def as_data(path: str, stored: bytes) -> RegisteredModel | VersionData:
    data = marshal.loads(stored)
    if path.endswith("/model.yaml"):
        return RegisteredModel.from_index(data)
    return VersionData(data["name"], data["version"], data)


class StoredVersion(NamedTuple):
    """A version known by its path, its stored record not decoded: what listing every
    version's text needs (``query.texts`` checks the path against the record)."""

    name: str
    version: int
    stored: bytes


def as_stored(path: str, stored: bytes) -> RegisteredModel | StoredVersion:
    if path.endswith("/model.yaml"):
        return RegisteredModel.from_index(marshal.loads(stored))
    _, name, _, file = path.split("/")
    return StoredVersion(name, int(file[:-5]), stored)


@contextmanager
def bulk() -> Iterator[None]:
    """No cyclic garbage collection while building many small objects (records hold no
    cycles): at 100,000 versions the collector's repeated passes cost half the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def only_names(node: search.Node | None) -> frozenset[str] | None:
    """The only model names a record matching ``node`` can have, or None if any may."""
    from gitreg.query import search

    if isinstance(node, search.Compare):
        if node.field != search.Field("attr", "name") or node.op not in ("=", "IN"):
            return None
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        return frozenset(v for v in values if isinstance(v, str))
    if node is None:
        return None
    sets = [only_names(item) for item in node.items]
    if node.op == "AND":
        known = [s for s in sets if s is not None]
        return frozenset.intersection(*known) if known else None
    known = [s for s in sets if s is not None]
    return frozenset().union(*known) if len(known) == len(sets) else None
