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
import sqlite3
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from gitreg.files.tree import read_regular
from gitreg.layout import parse_path
from gitreg.query import fresh, parsing, walk
from gitreg.query.parsing import blob_id, chunks, columns, parse, parse_all
from gitreg.query.walk import RACY_NS, in_layout

__all__ = ["Index", "blob_id", "in_layout", "open_index"]

FORMAT = f"6 marshal{marshal.version} py{sys.version_info[0]}.{sys.version_info[1]}"
# Not index.sqlite: gitreg before format 2 kept its index there, and on meeting a newer
# format it empties the tables but cannot insert into their new columns, so it would
# never cache again; each keeps its own file instead.
FILE = "index2.sqlite"
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
CREATE TABLE IF NOT EXISTS metrics (
    oid TEXT NOT NULL, key TEXT NOT NULL, value, nan INTEGER NOT NULL, PRIMARY KEY (oid, key)
);
CREATE TABLE IF NOT EXISTS stage_heads (
    model TEXT NOT NULL, stage TEXT, version INTEGER, PRIMARY KEY (model, stage)
);
CREATE TABLE IF NOT EXISTS model_records (model TEXT PRIMARY KEY, data BLOB NOT NULL);
"""
# what SQL answers look up by (query.heads, query.ordered, query.texts, query.fresh)
_INDEXES = {
    "metric_values": "metrics (key, value)",
    "racy": "files (path) WHERE sig = ''",
    "model_files": "files (model) WHERE number IS NULL",
    "stage_versions": "files (model, stage, version) WHERE number > 0",
    "newest": "files (model, number DESC) WHERE number > 0",
    "blob_files": "files (oid)",
    "misplaced": "files (path) WHERE name IS NULL OR name IS NOT model"
    " OR (number > 0 AND version IS NOT number)",
}
_SCHEMA += "".join(f"CREATE INDEX IF NOT EXISTS {n} ON {on};" for n, on in _INDEXES.items())
_BULK = 10_000  # rows into an empty index: build the lookups after, not row by row
# a record whose name or number is not its path's (or missing): SQL answers defer to the
# slow way, which says where. Written as the partial index "misplaced", so that it uses it.
_MISPLACED = (
    "SELECT path FROM files WHERE name IS NULL OR name IS NOT model OR "
    "(number > 0 AND version IS NOT number) LIMIT 1"
)
_TABLES = ("meta", "blobs", "files", "texts", "dirs", "metrics", "stage_heads", "model_records")
# what gitreg list reads (query.heads), kept up to date with the files of each model saved
_HEADS_OF = (
    "INSERT OR REPLACE INTO stage_heads SELECT model, stage, max(version) FROM files"
    " WHERE number > 0{} GROUP BY model, stage"
)
_MODELS_OF = (
    "INSERT OR REPLACE INTO model_records SELECT f.model, b.data FROM files f"
    " JOIN blobs b ON b.oid = f.oid WHERE f.number IS NULL AND f.model IS NOT NULL{}"
)
_DROP = "".join(f"DROP TABLE IF EXISTS {t};" for t in _TABLES)
Build = Callable[[str, bytes], Any]  # (registry path, stored record: marshal of its dict) -> object


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
        self.changed = True  # whether it stored anything

    # --- the two questions ----------------------------------------------------------

    def worktree(  # noqa: PLR0913 (the folders, what to build, what to note, what to do meanwhile)
        self,
        root: Path,
        names: Collection[str] | None,
        versions: bool,
        build: Build | None,
        oids: dict[str, str] | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """``build(path, stored record)`` for each registry file of the model folders ``names``
        (every one if None) in the work tree at ``root`` (their model.yaml only, unless
        ``versions``), each file's bytes read only if its stat changed. Each record is
        built as it is read, so 100,000 of them are never all in memory as dicts.
        ``oids``, if given, gets each file's blob id (what ``texts`` is keyed by).
        With no ``build``, only bring the index up to date, building nothing (``refresh``);
        ``self.saved`` says if that worked, ``self.changed`` if it stored anything.
        ``meanwhile`` may run while git checks the tree (``fresh.Check.trusted``)."""
        bare = build is None
        check = fresh.Check(root) if names is None and versions else None
        try:
            trusted = check is not None and check.trusted(self, root, meanwhile)
            dirs: walk.Sigs = {}
            found = {} if trusted else walk.walk(root, names, versions, dirs)  # emptied as answered
            out: dict[str, Any] = {}
            stale: dict[str, tuple[str, int]] = {}
            gone = []
            seen: dict[str, str] = {}  # path -> blob id, for fresh.Check.mark
            for path, oid, sig, data in self._known(names, versions, trusted, bare):
                if trusted:  # a record the index lacks is read again, as after a stat
                    usable = data is not None or bare
                    here = _vouched(root, path, sig if usable else "")
                else:
                    here = found.pop(path, None)
                seen[path] = oid
                if here is None:
                    gone.append(path)
                elif data is None and bare and sig and here[0] == sig:
                    continue  # known, unchanged, and not to be built
                elif data is not None and sig and here[0] == sig and build is not None:
                    out[path] = build(path, data)
                    if oids is not None:
                        oids[path] = oid
                else:
                    stale[path] = here
            found.update(stale)
            now = time.time_ns()
            read_oids, datas, parsed = self._read(root, found)
            for path in sorted(read_oids):
                if build is not None:
                    out[path] = build(path, parsed.get(path) or datas[read_oids[path]])
            if oids is not None:
                oids.update(read_oids)
            stored = {
                p: (oid, found[p][0] if now - found[p][1] > RACY_NS else "")
                for p, oid in read_oids.items()
            }
            new = {read_oids[p]: d for p, d in parsed.items() if read_oids[p] not in datas}
            self.saved = self._save(new, stored, gone=gone)
            self.changed = bool(stored or gone)
            if check is not None and not trusted:
                for path in gone:
                    seen.pop(path, None)
                seen.update(read_oids)
                self._mark(check, seen, dirs, complete=len(read_oids) == len(found))
            return out
        finally:
            if check is not None:
                check.cancel()  # the git commands it started, whatever happened

    def _read(
        self, root: Path, paths: Collection[str]
    ) -> tuple[dict[str, str], dict[str, bytes], dict[str, bytes]]:
        """Read the files ``paths`` (those still there): (path -> blob id, blob id -> record
        the index has, path -> record parsed now). Where there are many (a clone), workers
        read and parse every one, known or not, and the records are stored at the end
        (storing them as they came took a core from the workers: half as slow again)."""
        if parsing.many(paths):  # read, hashed and parsed on every core
            parsed, oids = {}, {}
            for path, oid, data in parsing.read_all(str(root), paths):
                oids[path], parsed[path] = oid, data
            return oids, {}, parsed
        read = {p: raw for p in paths if (raw := _read(root, p)) is not None}
        oids = {p: blob_id(raw) for p, raw in read.items()}
        datas = dict(self._blobs(set(oids.values())))
        return oids, datas, parse_all({p: raw for p, raw in read.items() if oids[p] not in datas})

    def _mark(
        self, check: fresh.Check, seen: dict[str, str], dirs: walk.Sigs, complete: bool
    ) -> None:
        """After a full walk: let ``check`` mark the index if every changed file was read
        and stored, so the next full query may skip the walk."""
        if self.saved and complete:
            check.mark(self, seen, dirs)
        else:
            check.cancel()

    def refresh(self, root: Path, meanwhile: Callable[[], object] | None = None) -> bool:
        """Bring the index up to date with every registry file of the work tree, building
        none; whether it now holds them all, as SQL answers need (``query.heads``).
        ``meanwhile`` may run while git checks the tree: what it read of the index is
        still true unless ``self.changed``."""
        self.worktree(root, None, True, None, meanwhile=meanwhile)
        return self.saved

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
        parsed = parse_all(unparsed)
        for path, data in parsed.items():
            out[path] = build(path, data)
        self._save({entries[p]: d for p, d in parsed.items()}, {}, gone=())
        return out

    # --- storage ----------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection | None:  # for query.texts
        return self._connect()

    def reading(self) -> sqlite3.Connection | None:
        """The connection in a read transaction (the caller ends it) for SQL answers; None
        without an index, or where a record is not where its path says (``_MISPLACED``)."""
        db = self._connect()
        if db is None:
            return None
        try:
            db.execute("BEGIN")
            if not db.execute(_MISPLACED).fetchone():
                return db
            db.execute("COMMIT")
        except sqlite3.DatabaseError:
            if db.in_transaction:
                db.rollback()
        return None

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
        self, names: Collection[str] | None, versions: bool, trusted: bool, bare: bool
    ) -> Iterator[tuple[str, str, str, bytes | None]]:
        """(path, blob id, stat signature, stored record or None) of every file the stat cache
        knows in the model folders ``names`` (all if None), model.yaml files only unless
        ``versions``, streamed; if ``bare``, without their records, and if also ``trusted``
        (fresh.Check), only those without a stored signature (racy when stored: they are
        looked at again)."""
        db = self._connect()
        if db is None:
            return
        query = (
            "SELECT f.path, f.oid, f.sig, b.data FROM files f LEFT JOIN blobs b ON b.oid = f.oid"
        )
        only = "" if versions else " AND f.path GLOB '*/model.yaml'"
        # "/" sorts just before "0": a folder's paths are the range [name/, name0)
        ranges = [None] if names is None else [(f"models/{n}/", f"models/{n}0") for n in names]
        try:
            if bare:
                racy = " WHERE sig = ''" if trusted else ""  # the small index of racy paths
                yield from db.execute(f"SELECT path, oid, sig, NULL FROM files{racy}")
                return
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
            for chunk in chunks(sorted(oids), 500):
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
                bulk = len(files) > _BULK and not db.execute("SELECT 1 FROM files").fetchone()
                for name in _INDEXES if bulk else ():
                    db.execute(f"DROP INDEX IF EXISTS {name}")
                metrics: list[tuple[str, str, int | float | None, int]] = []
                db.executemany(
                    "INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?)",
                    ((o, d, *columns(o, marshal.loads(d), metrics)) for o, d in blobs.items()),
                )
                db.executemany("INSERT OR IGNORE INTO metrics VALUES (?, ?, ?, ?)", metrics)
                db.executemany(
                    "INSERT OR REPLACE INTO files SELECT ?1, ?2, ?3, ?4, ?5, b.name, b.version,"
                    " b.stage FROM (SELECT 1) LEFT JOIN blobs b ON b.oid = ?2",
                    ((p, o, s, *_place(p)) for p, (o, s) in files.items()),
                )
                db.executemany("DELETE FROM files WHERE path = ?", ((p,) for p in gone))
                for name, on in _INDEXES.items() if bulk else ():
                    db.execute(f"CREATE INDEX {name} ON {on}")
                touched = {m for p in [*files, *gone] if (m := _place(p)[0]) is not None}
                _summarise(db, None if bulk or len(touched) > _BULK // 20 else touched)
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
            db.execute("DELETE FROM metrics WHERE oid NOT IN (SELECT oid FROM files)")


def _summarise(db: sqlite3.Connection, models: set[str] | None) -> None:
    """Bring ``stage_heads`` and ``model_records`` up to date for ``models`` (all if None)."""
    if models is None:
        db.execute("DELETE FROM stage_heads")
        db.execute("DELETE FROM model_records")
        db.execute(_HEADS_OF.format(""))
        db.execute(_MODELS_OF.format(""))
        return
    for model in models:
        db.execute("DELETE FROM stage_heads WHERE model = ?", (model,))
        db.execute(_HEADS_OF.format(" AND model = ?"), (model,))
        db.execute("DELETE FROM model_records WHERE model = ?", (model,))
        db.execute(_MODELS_OF.format(" AND f.model = ?"), (model,))


def _place(path: str) -> tuple[str | None, int | None]:
    """The model a registry path belongs to, and its version number (None: model.yaml);
    for a folder no valid name encodes to, no model: the path then counts as misplaced,
    and SQL answers leave the question to the ordinary reads, which pass such a folder
    by or say what is wrong."""
    where = parse_path(path)
    if where is None:
        parts = path.split("/")
        return None, (int(parts[3][:-5]) if len(parts) == 4 else None)
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


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
