"""Turning registry files into the records the query index stores: each file parsed with
the hardened loader and checked, then marshalled, on every core when there are many (the
first query after a clone parses every file); and a record into its SQL columns and
metric rows."""

from __future__ import annotations

import marshal
import math
import os
from collections.abc import Collection, Iterator
from typing import Any

from gitreg.errors import ManifestError

_PARALLEL_ABOVE = 2000  # parse on every core when this many files are new to the index


def parse(path: str, raw: bytes) -> bytes:
    """One registry file's record as stored in the index (its canonical dict, marshalled),
    or ManifestError saying what is wrong and where."""
    # the parser loads only to index new files
    from gitreg.files import schema, yamlio  # noqa: PLC0415 (the parser loads only to index new files)

    # only index builders build records
    from gitreg.manifest import ModelVersion, RegisteredModel  # noqa: PLC0415

    doc = yamlio.load(raw, path)
    kind, make = (
        ("model", RegisteredModel.from_dict)
        if path.endswith("/model.yaml")
        else ("version", ModelVersion.from_dict)
    )
    try:
        record = make(doc.data)
    except (ValueError, KeyError, TypeError):
        schema.validate(doc, kind)  # says exactly what is wrong, and on which line
        raise ManifestError(path, None, f"not a valid {kind} file") from None
    return marshal.dumps(record.to_dict())


def _parse_chunk(items: list[tuple[str, bytes]]) -> list[tuple[str, bytes | tuple[Any, ...]]]:
    out: list[tuple[str, bytes | tuple[Any, ...]]] = []
    for path, raw in items:
        try:
            out.append((path, parse(path, raw)))
        except ManifestError as e:
            out.append((path, (e.path, e.line, e.message)))  # exceptions do not pickle well
    return out


def parse_all(unparsed: dict[str, bytes]) -> dict[str, bytes]:
    """Parse files (path -> bytes), on every core when there are many."""
    items = sorted(unparsed.items())
    if many(items):
        # pools start only for large jobs
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        jobs = os.cpu_count() or 1
        with ProcessPoolExecutor(jobs) as pool:
            done = pool.map(_parse_chunk, chunks(items, _chunk_size(items, jobs)))
            results = [r for chunk in done for r in chunk]
    else:
        results = _parse_chunk(items)
    out: dict[str, bytes] = {}
    for path, result in results:
        if isinstance(result, tuple):
            raise ManifestError(*result)
        out[path] = result
    return out


def _chunk_size(items: Collection[Any], jobs: int) -> int:
    return max(200, len(items) // (jobs * 8))


def many(paths: Collection[Any]) -> bool:
    """Whether reading ``paths`` is worth every core (the first query after a clone)."""
    return len(paths) > _PARALLEL_ABOVE and (os.cpu_count() or 1) > 1


def read_all(root: str, paths: Collection[str]) -> Iterator[tuple[str, str, bytes]]:
    """(path, blob id, record) of each of ``paths`` under ``root`` still a regular file,
    read, hashed and parsed on every core: the main process then only stores them."""
    # pools start only for large jobs
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    jobs = os.cpu_count() or 1
    items = sorted(paths)
    pieces = list(chunks(items, _chunk_size(items, jobs)))
    with ProcessPoolExecutor(jobs) as pool:
        for chunk in pool.map(_read_chunk, [root] * len(pieces), pieces):  # as they come
            for path, oid, result in chunk:
                if isinstance(result, tuple):
                    raise ManifestError(*result)
                yield path, oid, result


def _read_chunk(root: str, paths: list[str]) -> list[tuple[str, str, bytes | tuple[Any, ...]]]:
    from gitreg.files.tree import read_regular  # noqa: PLC0415 (in a worker process)

    out: list[tuple[str, str, bytes | tuple[Any, ...]]] = []
    for path in paths:
        try:
            raw = read_regular(f"{root}/{path}", path)
            if raw is not None:  # removed since the walk
                out.append((path, blob_id(raw), parse(path, raw)))
        except ManifestError as e:
            out.append((path, "", (e.path, e.line, e.message)))  # exceptions do not pickle well
    return out


def blob_id(raw: bytes) -> str:
    """The id git gives these bytes as a blob."""
    import hashlib  # noqa: PLC0415 (3 ms to import; a query the stat cache answers never needs it)

    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- records as the index's SQL rows ---------------------------------------------


def columns(
    oid: str, record: dict[str, Any], metrics: list[tuple[str, str, int | float | None, int]]
) -> tuple[str | None, int | None, str | None]:
    """A record's name, and a version's number and stage (None for a model); its metrics'
    rows go to ``metrics``."""
    metrics.extend(_metric_rows(oid, record))
    if "stage" not in record:
        return record.get("name"), None, None
    return record.get("name"), record.get("version"), record.get("stage")


def _metric_rows(
    oid: str, record: dict[str, Any]
) -> Iterator[tuple[str, str, int | float | None, int]]:
    """A version record's metrics as rows (blob id, key, value, NaN): numbers as the search
    compares them (a NaN is present but equal to nothing; SQLite would store it as NULL,
    so it says so beside it), anything else as absent."""
    for key, v in (record.get("metrics") or {}).items():
        if isinstance(v, float):
            yield oid, key, None if math.isnan(v) else v, int(math.isnan(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            yield oid, key, v if -(2**63) <= v < 2**63 else float(v), 0
