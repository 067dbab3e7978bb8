"""The query index: every registry file's parsed record, kept in SQLite under
``.git/gitreg/index2.sqlite`` so that searching or listing 100,000 versions does not
re-parse 100,000 YAML files (the hardened loader costs ~0.2 ms a file).

Records are keyed by git blob id (sha1 of ``blob <size>\\0<bytes>``), so a record can
never be stale: different bytes are a different key. What can be stale is knowing which
blob a path holds:

- for a commit, git says it (``ls-tree``), so the index is right by construction;
- for the work tree, a stat cache (mtime, ctime, size, inode per path) says it, as git's
  own index does. A path whose stat changed is re-read and re-hashed; a path changed in
  the last two seconds gets no stat entry at all (it could change again within the
  clock's granularity), so it is re-hashed on every read until it settles.

Adding and removing files is seen because every query lists the folders it reads. The
index is a cache: it is rebuilt when its format changes, when it is unreadable, or when
it is deleted, and every write to it is best effort (a read-only ``.git`` only makes
queries slower). Records are stored with ``marshal``: they are plain dicts of str, int
and float, checked before they were stored, and marshal decodes them 2x faster than json.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from gitreg.errors import ManifestError
from gitreg.files.tree import read_regular
from gitreg.layout import parse_path
from gitreg.query import fresh, walk
from gitreg.query.walk import RACY_NS, in_layout

__all__ = ["Index", "blob_id", "in_layout", "open_index", "parse"]

FORMAT = f"4 marshal{marshal.version} py{sys.version_info[0]}.{sys.version_info[1]}"
# Not index.sqlite: gitreg before format 2 kept its index there, and on meeting a newer
# format it empties the tables but cannot insert into their new columns, so it would
# never cache again; each keeps its own file instead.
FILE = "index2.sqlite"
_PARALLEL_ABOVE = 2000  # parse on every core when this many files are new to the index
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    oid TEXT PRIMARY KEY, data BLOB NOT NULL, name TEXT, version INTEGER, stage TEXT
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, oid TEXT NOT NULL, sig TEXT NOT NULL, model TEXT, number INTEGER,
    name TEXT, version INTEGER, stage TEXT
);
CREATE TABLE IF NOT EXISTS texts (oid TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, sig TEXT NOT NULL);
"""
_DROP = "".join(f"DROP TABLE IF EXISTS {t};" for t in ("meta", "blobs", "files", "texts", "dirs"))
Build = Callable[[str, bytes], Any]  # (registry path, stored record: marshal of its dict) -> object


def blob_id(raw: bytes) -> str:
    """The id git gives these bytes as a blob."""
    import hashlib  # noqa: PLC0415 (3 ms to import; a query the stat cache answers never needs it)

    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def open_index(root: Path) -> Index | None:
    """The index of the registry at ``root``, or None where there is no ``.git`` folder to
    keep it in (a linked worktree or a bare copy simply reads without one)."""
    git_dir = root / ".git"
    return Index(git_dir / "gitreg" / FILE) if git_dir.is_dir() else None


class Index:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self.saved = False  # whether the last worktree() stored all it found

    # --- the two questions ----------------------------------------------------------

    def worktree(  # noqa: PLR0913 (the folders, what to build, and two ways to answer)
        self,
        root: Path,
        names: Collection[str] | None,
        versions: bool,
        build: Build,
        oids: dict[str, str] | None = None,
        lean: bool = False,
    ) -> dict[str, Any]:
        """``build(path, stored record)`` for each registry file of the model folders ``names``
        (every one if None) in the work tree at ``root`` (their model.yaml only, unless
        ``versions``), each file's bytes read only if its stat changed. Each record is
        built as it is read, so 100,000 of them are never all in memory as dicts.
        ``oids``, if given, gets each file's blob id (what ``texts`` is keyed by).
        ``lean``: only bring the index up to date with the version files, building none of
        them (``query.heads`` then answers from SQL); ``self.saved`` says if that worked."""
        check = fresh.Check(root) if names is None and versions else None
        try:
            trusted = check is not None and check.trusted(self, root)
            dirs: walk.Sigs = {}
            found = {} if trusted else walk.walk(root, names, versions, dirs)  # emptied as answered
            out: dict[str, Any] = {}
            stale: dict[str, tuple[str, int]] = {}
            gone = []
            seen: dict[str, str] = {}  # path -> blob id, for fresh.Check.mark
            for path, oid, sig, data in self._known(names, versions, lean, trusted):
                if trusted:  # a record the index lacks is read again, as after a stat
                    usable = data is not None or (lean and path[-11:] != "/model.yaml")
                    here = _vouched(root, path, sig if usable else "")
                else:
                    here = found.pop(path, None)
                seen[path] = oid
                if here is None:
                    gone.append(path)
                elif (
                    data is None and lean and sig and here[0] == sig and path[-11:] != "/model.yaml"
                ):
                    continue  # known, unchanged, and not to be built
                elif data is not None and sig and here[0] == sig:
                    out[path] = build(path, data)
                    if oids is not None:
                        oids[path] = oid
                else:
                    stale[path] = here
            found.update(stale)
            now = time.time_ns()
            read = {p: raw for p in found if (raw := _read(root, p)) is not None}
            read_oids = {p: blob_id(raw) for p, raw in read.items()}
            datas = dict(self._blobs(set(read_oids.values())))
            parsed = _parse_all({p: raw for p, raw in read.items() if read_oids[p] not in datas})
            for path in sorted(read):
                if not (lean and path[-11:] != "/model.yaml"):
                    out[path] = build(path, datas.get(read_oids[path]) or parsed[path])
            if oids is not None:
                oids.update(read_oids)
            stored = {
                p: (read_oids[p], found[p][0] if now - found[p][1] > RACY_NS else "") for p in read
            }
            self.saved = self._save({read_oids[p]: d for p, d in parsed.items()}, stored, gone=gone)
            if check is not None and not trusted:
                for path in gone:
                    seen.pop(path, None)
                seen.update(read_oids)
                if self.saved and len(read) == len(found):  # every changed file was read
                    check.mark(self, seen, dirs)
                else:
                    check.cancel()
            return out
        finally:
            if check is not None:
                check.cancel()  # the git commands it started, whatever happened

    def file(self, root: Path, path: str) -> dict[str, Any] | None:
        """The record of one work-tree file, or None if there is no regular file there:
        what ``resolve`` needs, without loading the YAML parser when the file is known."""
        parts = path.split("/")
        for i in range(1, len(parts)):  # no symbolic link on the way, as in WorkTree.read
            rel = "/".join(parts[:i])
            if walk.lstat(f"{root}/{rel}", rel, folder=True) is None:
                return None
        st = walk.lstat(f"{root}/{path}", path)
        if st is None:
            return None
        sig, changed_ns = walk.sig(st)
        known = self._row("SELECT oid, sig FROM files WHERE path = ?", path)
        oid = known[0] if known is not None and known[1] == sig and sig else None
        data = self._row("SELECT data FROM blobs WHERE oid = ?", oid) if oid else None
        if data is not None:
            return marshal.loads(data[0])  # type: ignore[no-any-return]
        raw = _read(root, path)
        if raw is None:
            return None
        oid = blob_id(raw)
        data = self._row("SELECT data FROM blobs WHERE oid = ?", oid)
        blob = data[0] if data is not None else parse(path, raw)
        racy = time.time_ns() - changed_ns <= RACY_NS
        self._save({} if data else {oid: blob}, {path: (oid, "" if racy else sig)}, gone=())
        return marshal.loads(blob)  # type: ignore[no-any-return]

    def commit(self, entries: dict[str, str], read: Any, build: Build) -> dict[str, Any]:
        """``build(path, stored record)`` for each of ``entries`` (path -> blob id, as ``git
        ls-tree`` lists them), reading with ``read(path)`` only the blobs the index has
        never seen."""
        paths: dict[str, list[str]] = {}
        for path, oid in entries.items():
            paths.setdefault(oid, []).append(path)
        out: dict[str, Any] = {}
        for oid, data in self._blobs(set(paths)):
            for path in paths.pop(oid):
                out[path] = build(path, data)
        unparsed = {p: raw for ps in paths.values() for p in ps if (raw := read(p)) is not None}
        parsed = _parse_all(unparsed)
        for path, data in parsed.items():
            out[path] = build(path, data)
        self._save({entries[p]: d for p, d in parsed.items()}, {}, gone=())
        return out

    # --- storage ----------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection | None:  # for query.texts
        return self._connect()

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        for attempt in (1, 2):
            try:
                self.path.parent.mkdir(exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is re-derived
                db.executescript(_SCHEMA)
                row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                if row is None or row[0] != FORMAT:
                    db.executescript(_DROP + _SCHEMA)  # columns change with the format
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
                self._db = db
                return db
            except sqlite3.DatabaseError:
                if attempt == 2:
                    return None
                _remove(self.path)  # unreadable: start again from nothing
            except OSError:
                return None
        return None

    def _row(self, query: str, *args: str) -> Any:
        db = self._connect()
        try:
            return None if db is None else db.execute(query, args).fetchone()
        except sqlite3.DatabaseError:
            return None

    def _known(
        self, names: Collection[str] | None, versions: bool, lean: bool, trusted: bool
    ) -> Iterator[tuple[str, str, str, bytes | None]]:
        """(path, blob id, stat signature, stored record or None) of every file the stat cache
        knows in the model folders ``names`` (all if None), model.yaml files only unless
        ``versions``, streamed; if ``lean``, the records of model.yaml files only, and if
        also ``trusted`` (fresh.Check), of the version files only those without a stored
        signature (racy when stored: they are looked at again)."""
        db = self._connect()
        if db is None:
            return
        query = (
            "SELECT f.path, f.oid, f.sig, b.data FROM files f LEFT JOIN blobs b ON b.oid = f.oid"
        )
        if lean:  # every file, but only the records of model.yaml files
            try:
                yield from db.execute(query + " WHERE f.number IS NULL")
                racy = " AND sig = ''" if trusted else ""
                yield from db.execute(
                    f"SELECT path, oid, sig, NULL FROM files WHERE number > 0{racy}"
                )
            except sqlite3.DatabaseError:
                pass
            return
        only = "" if versions else " AND f.path GLOB '*/model.yaml'"
        # "/" sorts just before "0": a folder's paths are the range [name/, name0)
        ranges = [None] if names is None else [(f"models/{n}/", f"models/{n}0") for n in names]
        try:
            for bounds in ranges:
                where = " WHERE 1" if bounds is None else " WHERE f.path >= ? AND f.path < ?"
                yield from db.execute(query + where + only, bounds or ())
        except sqlite3.DatabaseError:
            return

    def _blobs(self, oids: set[str]) -> Iterator[tuple[str, bytes]]:
        """(blob id, stored record) of each of ``oids`` the index has, streamed."""
        db = self._connect()
        if db is None or not oids:
            return
        try:
            if len(oids) > 2000:
                rows = db.execute("SELECT oid, data FROM blobs")
                yield from ((o, d) for o, d in rows if o in oids)
                return
            for chunk in _chunks(sorted(oids), 500):
                marks = ",".join("?" * len(chunk))
                yield from db.execute(f"SELECT oid, data FROM blobs WHERE oid IN ({marks})", chunk)
        except sqlite3.DatabaseError:
            return

    def _save(
        self, blobs: dict[str, bytes], files: dict[str, tuple[str, str]], gone: Iterable[str]
    ) -> bool:
        """Store records and what paths hold; False if that could not be done."""
        gone = list(gone)
        if not (blobs or files or gone):
            return self._connect() is not None
        db = self._connect()
        if db is None:
            return False
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?)",
                    ((o, d, *_columns(d)) for o, d in blobs.items()),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO files SELECT ?1, ?2, ?3, ?4, ?5, b.name, b.version,"
                    " b.stage FROM (SELECT 1) LEFT JOIN blobs b ON b.oid = ?2",
                    ((p, o, s, *_place(p)) for p, (o, s) in files.items()),
                )
                db.executemany("DELETE FROM files WHERE path = ?", ((p,) for p in gone))
                self._prune(db)
            return True
        except sqlite3.DatabaseError:
            return False  # busy or read-only: the answer is still right, only the next one slower

    @staticmethod
    def _prune(db: sqlite3.Connection) -> None:
        """Drop records no work-tree path holds once they outnumber the live ones (old
        revisions of files, blobs read for past commits)."""
        (blobs,) = db.execute("SELECT count(*) FROM blobs").fetchone()
        (files,) = db.execute("SELECT count(*) FROM files").fetchone()
        if blobs > 2 * files + 5000:
            db.execute("DELETE FROM blobs WHERE oid NOT IN (SELECT oid FROM files)")
            db.execute("DELETE FROM texts WHERE oid NOT IN (SELECT oid FROM files)")


def _columns(data: bytes) -> tuple[str | None, int | None, str | None]:
    """A stored record's name, and a version's number and stage (None for a model)."""
    record = marshal.loads(data)
    if "stage" not in record:
        return record.get("name"), None, None
    return record.get("name"), record.get("version"), record.get("stage")


def _place(path: str) -> tuple[str, int | None]:
    """The model a registry path belongs to, and its version number (None: model.yaml);
    for a folder no valid name encodes to, the folder itself (its record's name then
    differs, and the caller reads the slow way, which says what is wrong)."""
    where = parse_path(path)
    if where is None:
        parts = path.split("/")
        return parts[1], (int(parts[3][:-5]) if len(parts) == 4 else None)
    return where.name, where.version


def _vouched(root: Path, path: str, sig: str) -> tuple[str, int] | None:
    """What the walk would have said of a path the index is trusted for (fresh.Check):
    its stored signature, or, where none was stored (it was racy), the file's own."""
    if sig:
        return sig, 0
    st = walk.lstat(f"{root}/{path}", path)
    return None if st is None else walk.sig(st)


def _read(root: Path, path: str) -> bytes | None:
    return read_regular(f"{root}/{path}", path)  # None if removed since the walk


# --- parsing -----------------------------------------------------------------------------


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


def _parse_all(unparsed: dict[str, bytes]) -> dict[str, bytes]:
    """Parse files, on every core when there are many (the first query after a clone)."""
    items = sorted(unparsed.items())
    if len(items) > _PARALLEL_ABOVE and (os.cpu_count() or 1) > 1:
        # pools start only for large jobs
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        jobs = os.cpu_count() or 1
        size = max(200, len(items) // (jobs * 8))
        with ProcessPoolExecutor(jobs) as pool:
            results = [r for chunk in pool.map(_parse_chunk, _chunks(items, size)) for r in chunk]
    else:
        results = _parse_chunk(items)
    out: dict[str, bytes] = {}
    for path, result in results:
        if isinstance(result, tuple):
            raise ManifestError(*result)
        out[path] = result
    return out


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
