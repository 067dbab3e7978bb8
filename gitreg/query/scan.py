"""What a pass over the whole registry shares: versions as their canonical dicts (what a
search reads), no cyclic garbage collection while records are built, and the model names
a filter pins (so a search reads only those folders)."""

from __future__ import annotations

import gc
import marshal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from gitreg.layout import version_path
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.query.rows import VersionRow

if TYPE_CHECKING:
    from gitreg.query import search


class VersionData(NamedTuple):
    """A version as a search reads it (``mv`` None: the search's filter ruled it out as
    it was read, see ``prefiltered``)."""

    name: str
    version: int
    mv: ModelVersion | None


def as_data(path: str, stored: bytes) -> RegisteredModel | VersionData:
    data = marshal.loads(stored)
    if path.endswith("/model.yaml"):
        return RegisteredModel.from_index(data)
    return VersionData(data["name"], data["version"], ModelVersion.from_index(data))


def prefiltered(flt: search.Filter) -> Callable[[str, bytes], RegisteredModel | VersionData]:
    """``as_data``, but a version ``flt`` does not match is kept as its number only, so a
    search of 100,000 versions holds only the ones it may return. Not where ``flt`` reads
    aliases (they are in model.yaml, which may come later), and not for a file whose
    record names another path (the catalog reads it again to say where)."""
    if flt.node is None or _reads_aliases(flt.node):
        return as_data

    def build(path: str, stored: bytes) -> RegisteredModel | VersionData:
        record = as_data(path, stored)
        if (
            isinstance(record, VersionData)
            and record.mv is not None
            and path == version_path(record.name, record.version)
            and not flt.matches(VersionRow(record.mv, ()))
        ):
            return VersionData(record.name, record.version, None)
        return record

    return build


def _reads_aliases(node: search.Node) -> bool:
    from gitreg.query import search  # noqa: PLC0415 (the filter parser loads only for searches)

    if isinstance(node, search.Compare):
        return node.field == search.Field("attr", "aliases")
    return any(_reads_aliases(item) for item in node.items)


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
    from gitreg.query import search  # noqa: PLC0415 (the filter parser loads only for searches)

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
