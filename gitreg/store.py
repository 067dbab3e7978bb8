"""Artifact bytes: digest, upload, download + verify. The only fsspec importer (lazily).

Digests are ``sha256:<64 hex>``. A file's digest is the sha256 of its bytes. A folder's
digest is the sha256 of its *canonical listing*, which is part of the on-disk contract:
UTF-8 text with one line per regular file, sorted by relative POSIX path (Python ``str``
order), each line ``f"{hex}  {size}  {path}\\n"`` (two spaces, hex without ``sha256:``).
Empty folders count for nothing; a folder without files is refused, as are symbolic links
and special files (never followed) and names with control characters, ``\\``, ``.``/``..``
segments or bytes that are not UTF-8.

``upload`` stores a local file or folder write-once under a content-addressed key,
``<store>/<name>/sha256/<hex>/<basename>``: on ``file://`` it is staged under
``<store>/<name>/.staging/<random>/``, fsynced, re-hashed and published by ``link``
(file) or ``rename`` (folder), both of which refuse to replace; on ``s3://`` each file is
a multipart upload that stays invisible until it is completed with ``If-None-Match: *``
after every byte was sent and hashed (an error aborts them all); other fsspec stores
(``memory``, ``gs``, ``az``) stage under ``.staging/`` and move into place after an
existence check, which is write-once only as far as the store's copy allows.

Errors: refused URIs raise ``UsageError``; I/O problems ``ArtifactError``; bytes that
are not the manifest's ``DigestMismatch`` (a size difference too, with ``expected`` and
``actual`` of the form ``"size 123"``). Messages show URIs through ``redact``.
``progress`` callbacks get byte increments, from worker threads but one call at a time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl, unquote

from gitreg.errors import AlreadyExists, ArtifactError, DigestMismatch, GitregError, UsageError
from gitreg.manifest import ArtifactRef, FileEntry, check_name

CHUNK = 1 << 20
SCHEMES = frozenset({"file", "s3", "gs", "gcs", "az", "abfs", "memory"})
WORKERS = 4
RETRY_DELAYS = (0.1, 0.2, 0.4)  # before MISSING on remote stores (eventual consistency)
_REMOTE_BLOCK = 8 * CHUNK  # read-ahead and minimum multipart part for remote stores
_SIGNED = {"x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature",
           "x-goog-credential", "sig", "signature", "awsaccesskeyid"}  # fmt: skip
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_IO_MODULES = {"botocore", "aiobotocore", "s3fs", "fsspec", "gcsfs", "adlfs", "google", "azure",
               "aiohttp"}  # fmt: skip
Progress = Callable[[int], None]
_T = TypeVar("_T")
_R = TypeVar("_R")


class Verification(NamedTuple):
    status: str  # "OK", "MISMATCH" or "MISSING"
    detail: str  # one sentence, "" when OK


# ---------------------------------------------------------------- URIs


def redact(uri: str) -> str:
    """``uri`` safe to show: user-info and query/fragment become ``***``, controls escaped."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "", uri
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    rest = netloc + slash + path
    cut = [i for i in (rest.find("?"), rest.find("#")) if i >= 0]
    if cut:
        rest = rest[: min(cut)] + "?***"
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in scheme + sep + rest)


def check_uri(uri: str, allowed: Sequence[str] = ()) -> str:
    """Return ``uri`` if gitreg may use it as an artifact location, else raise UsageError.

    Refused before any I/O: schemes outside SCHEMES, relative ``file:`` URIs (pass
    ``file:///absolute/path``), user-info with a password (``az``/``abfs`` may name
    ``container@account``), any query or fragment (signed ones get their own message),
    ``..`` segments (also percent-encoded), control characters, and, when ``allowed`` is
    non-empty, URIs under none of its prefixes (``"file://"`` allows every file URI; a
    prefix matches whole path segments only).
    """
    if not isinstance(uri, str) or not uri:
        raise UsageError("artifact URI is empty")
    shown = redact(uri)
    if any(ord(c) < 32 or ord(c) == 127 for c in uri + unquote(uri)):
        raise UsageError(f"artifact URI {shown} contains a control character")
    scheme, sep, rest = uri.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise UsageError(
            f"artifact URI {shown} is not supported: use one of "
            + ", ".join(f"{s}://" for s in sorted(SCHEMES))
        )
    netloc, _, path = rest.partition("/")
    user, at, _host = netloc.rpartition("@")
    if at and (":" in user or scheme not in ("az", "abfs")):
        raise UsageError(f"artifact URI {shown} must not carry credentials (user-info)")
    if "?" in rest or "#" in rest:
        query = rest.partition("?")[2].partition("#")[0]
        if any(k.lower() in _SIGNED for k, _ in parse_qsl(query, keep_blank_values=True)):
            raise UsageError(f"artifact URI {shown} carries a signed credential; use a plain URI")
        raise UsageError(f"artifact URI {shown} must not have a query string or fragment")
    segments = re.split(r"[/\\]", path) + re.split(r"[/\\]", unquote(path))
    if ".." in segments:
        raise UsageError(f"artifact URI {shown} must not contain '..' segments")
    if scheme == "file" and netloc not in ("", "localhost"):
        raise UsageError(f"file URI {shown} must be absolute (file:///path): resolve it first")
    if allowed and not any(_under(uri, prefix) for prefix in allowed):
        where = ", ".join(redact(p) for p in allowed)
        raise UsageError(f"artifact URI {shown} is outside the allowed locations ({where})")
    return uri


def _under(uri: str, prefix: str) -> bool:
    def norm(u: str) -> str:
        s, sep, rest = u.partition("://")
        return s.lower() + sep + rest

    u, p = norm(uri), norm(prefix)
    if p.endswith("://"):
        return u.startswith(p)
    p = p.rstrip("/")
    return u == p or u.startswith(p + "/")


def _scheme(uri: str) -> str:
    return uri.partition("://")[0].lower()


def _file_path(uri: str) -> Path:
    path = unquote("/" + uri.partition("://")[2].partition("/")[2])
    if os.name == "nt" and re.match(r"/[A-Za-z]:", path):  # pragma: no cover
        path = path[1:]
    return Path(path)


def _check_rel(rel: str) -> str:
    parts = rel.split("/")
    bad = any(p in ("", ".", "..") for p in parts) or "\\" in rel
    if bad or any(ord(c) < 32 or ord(c) == 127 for c in rel):
        raise ArtifactError(f"unsupported file name in artifact: {rel!a}")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ArtifactError(f"file name is not valid UTF-8: {rel!a}") from None
    return rel


def listing_digest(files: Sequence[FileEntry]) -> str:
    """The digest of a folder: sha256 of its canonical listing (see the module docstring)."""
    text = "".join(
        f"{f.digest.removeprefix('sha256:')}  {f.size}  {f.path}\n"
        for f in sorted(files, key=lambda f: f.path)
    )
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- plumbing


class _Cancelled(Exception):
    """A sibling worker failed; stop early."""


class _Progress:
    def __init__(self, callback: Progress | None) -> None:
        self.callback, self.lock = callback, threading.Lock()

    def __call__(self, n: int) -> None:
        if self.callback is not None:
            with self.lock:
                self.callback(n)


_NO_PROGRESS = _Progress(None)


def _same(check: Callable[[], object]) -> bool:
    """False if ``check`` raises DigestMismatch."""
    try:
        check()
    except DigestMismatch:
        return False
    return True


def _is_io_error(e: BaseException) -> bool:
    return isinstance(e, (OSError, ValueError, ImportError)) or (
        type(e).__module__.partition(".")[0] in _IO_MODULES
    )


@contextmanager
def _errors(shown: str) -> Iterator[None]:
    """Turn third-party I/O errors into ArtifactError naming ``shown``."""
    try:
        yield
    except GitregError:
        raise
    except FileNotFoundError as e:
        raise ArtifactError(f"{shown} does not exist") from e
    except Exception as e:
        if not _is_io_error(e):
            raise
        reason = (e.strerror if isinstance(e, OSError) else None) or str(e) or type(e).__name__
        raise ArtifactError(f"{shown}: {reason}") from e


def _parallel(fn: Callable[[_T, threading.Event], _R], items: Sequence[_T]) -> list[_R]:
    """``fn`` over ``items`` on a few threads; the first failure cancels the rest."""
    cancel = threading.Event()
    if len(items) <= 1:
        return [fn(item, cancel) for item in items]
    from concurrent.futures import ThreadPoolExecutor, wait

    def run(item: _T) -> _R:
        if cancel.is_set():
            raise _Cancelled
        try:
            return fn(item, cancel)
        except BaseException:
            cancel.set()
            raise

    with ThreadPoolExecutor(min(WORKERS, len(items)), thread_name_prefix="gitreg") as pool:
        futures = [pool.submit(run, item) for item in items]
        wait(futures)
    errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None and not isinstance(err, _Cancelled):
            raise err
    return [f.result() for f in futures]


_buffers = threading.local()


def _pump(
    src: IO[bytes], limit: int | None, sinks: Sequence[Callable[[Any], object]],
    progress: Progress, cancel: threading.Event | None = None,
) -> tuple[str, int]:  # fmt: skip
    """Stream ``src`` (at most ``limit`` bytes) into ``sinks``; return (sha256 hex, bytes)."""
    digest, done = hashlib.sha256(), 0
    view = getattr(_buffers, "view", None)
    if view is None:  # one reused buffer per thread; every sink copies what it is given
        view = _buffers.view = memoryview(bytearray(CHUNK))
    while limit is None or done < limit:
        if cancel is not None and cancel.is_set():
            raise _Cancelled
        want = CHUNK if limit is None else min(CHUNK, limit - done)
        got = src.readinto(view[:want])  # type: ignore[attr-defined]
        if not got:
            break
        chunk = view[:got]
        digest.update(chunk)
        for sink in sinks:
            sink(chunk)
        done += got
        progress(got)
    return digest.hexdigest(), done


def _open_local(path: Path) -> IO[bytes]:
    """Open a regular file for reading without following a symbolic link."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ArtifactError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb", buffering=0)


def _fs(uri: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri, **(storage_options or {}))
    fs.invalidate_cache()  # the instance is shared: never trust an earlier listing
    return fs, str(path).rstrip("/")


def _discard(f: Any) -> None:
    """Abandon a half-written fsspec file (aborts a multipart upload) without committing."""
    with suppress(Exception):
        f.discard()
    with suppress(AttributeError):
        f.closed = True  # a discarded buffered file must not flush on close / __del__


def _kind(mode: int, shown: str) -> str:
    if stat.S_ISLNK(mode):
        raise ArtifactError(f"{shown} is a symbolic link; gitreg does not follow links")
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    raise ArtifactError(f"{shown} is not a regular file or folder")


class _Local:
    """Read side of a local file or folder: lstat only, links never followed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def kind(self) -> str | None:
        try:
            return _kind(os.lstat(self.root).st_mode, str(self.root))
        except FileNotFoundError:
            return None

    def listing(self) -> list[tuple[str, int]]:
        out, stack = [], [(self.root, "")]
        while stack:
            folder, prefix = stack.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    st = entry.stat(follow_symlinks=False)
                    if _kind(st.st_mode, entry.path) == "dir":
                        stack.append((Path(entry.path), f"{prefix}{entry.name}/"))
                    else:
                        out.append((_check_rel(prefix + entry.name), st.st_size))
        return sorted(out)

    def size(self, rel: str) -> int:
        st = os.lstat(self._path(rel))
        if _kind(st.st_mode, str(self._path(rel))) != "file":
            raise ArtifactError(f"{self._path(rel)} is not a regular file")
        return st.st_size

    def open(self, rel: str) -> IO[bytes]:
        return _open_local(self._path(rel))


class _Remote:
    """Read side of an fsspec location (caches invalidated when it is made)."""

    def __init__(self, fs: Any, root: str, block: int = _REMOTE_BLOCK) -> None:
        self.fs, self.root, self.block = fs, root, block

    def _path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def kind(self) -> str | None:
        try:
            info = self.fs.info(self.root)
        except FileNotFoundError:
            return None
        return "dir" if info["type"] == "directory" else "file"

    def listing(self) -> list[tuple[str, int]]:
        found = self.fs.find(self.root, detail=True)
        start = len(self.root) + 1
        return sorted(
            (_check_rel(name[start:]), int(info["size"]))
            for name, info in found.items()
            if info["type"] == "file"
            and name.startswith(self.root + "/")
            and not (name.endswith("/") and not info["size"])  # S3 "folder" markers
        )

    def size(self, rel: str) -> int:
        return int(self.fs.info(self._path(rel))["size"])

    def open(self, rel: str) -> IO[bytes]:
        f: IO[bytes] = self.fs.open(self._path(rel), "rb", block_size=self.block)
        return f


def _reader(uri: str, storage_options: Mapping[str, Any] | None) -> _Local | _Remote:
    if _scheme(uri) == "file":
        return _Local(_file_path(uri))
    fs, root = _fs(uri, storage_options)
    return _Remote(fs, root, (storage_options or {}).get("default_block_size", _REMOTE_BLOCK))


# ---------------------------------------------------------------- describe


def _describe(r: _Local | _Remote, uri: str, shown: str, progress: Progress) -> ArtifactRef:
    kind = r.kind()
    if kind is None:
        raise ArtifactError(f"{shown} does not exist")

    def one(item: tuple[str, int], cancel: threading.Event) -> FileEntry:
        with _errors(f"{shown}/{item[0]}" if item[0] else shown), r.open(item[0]) as src:
            hexdigest, size = _pump(src, None, (), progress, cancel)
        return FileEntry(path=item[0], size=size, digest="sha256:" + hexdigest)

    if kind == "file":
        entry = one(("", 0), threading.Event())
        return ArtifactRef(uri=uri, digest=entry.digest, size=entry.size)
    listing = r.listing()
    if not listing:
        raise ArtifactError(f"{shown} is an empty folder")
    files = tuple(_parallel(one, listing))
    return ArtifactRef(
        uri=uri, digest=listing_digest(files), size=sum(f.size for f in files), files=files
    )


def describe(
    uri: str, storage_options: Mapping[str, Any] | None = None, progress: Progress | None = None
) -> ArtifactRef:
    """Digest and size of the object, or of every file under the folder/prefix, at ``uri``."""
    check_uri(uri)
    with _errors(redact(uri)):
        return _describe(_reader(uri, storage_options), uri, redact(uri), _Progress(progress))


def describe_local(path: Path, progress: Progress | None = None) -> ArtifactRef:
    """Like ``describe`` for a local path, with hashlib and os only (the fast path)."""
    path = Path(os.path.abspath(path))
    with _errors(str(path)):
        uri = (path.parent.resolve() / path.name).as_uri()
        return _describe(_Local(path), uri, str(path), _Progress(progress))


# ---------------------------------------------------------------- verify / download


def _check_ref(ref: ArtifactRef) -> None:
    """Refuse a manifest entry that is malformed or does not add up (before any I/O)."""
    check_uri(ref.uri)
    shown = redact(ref.uri)
    for digest in (ref.digest, *(f.digest for f in ref.files)):
        if not _DIGEST.fullmatch(digest):
            raise ArtifactError(f"{shown}: unsupported digest {digest!r} (sha256:<64 hex>)")
    paths = [_check_rel(f.path) for f in ref.files]
    if len(set(paths)) != len(paths) or any(f.size < 0 for f in ref.files) or ref.size < 0:
        raise ArtifactError(f"{shown}: the manifest's file list is malformed")
    if ref.files and listing_digest(ref.files) != ref.digest:
        raise DigestMismatch(shown, ref.digest, listing_digest(ref.files) + " (file list)")
    if ref.files and sum(f.size for f in ref.files) != ref.size:
        raise DigestMismatch(shown, f"size {ref.size}", f"size {sum(f.size for f in ref.files)}")


def _check_file(
    r: _Local | _Remote, entry: FileEntry, have: int | None, shown: str, *,
    sink: Path | None = None, progress: Progress = _NO_PROGRESS,
    cancel: threading.Event | None = None,
) -> str:  # fmt: skip
    """Size first, then a read bounded by size + 1, then the sha256; optional copy."""
    with _errors(shown):
        size = r.size(entry.path) if have is None else have
        if size != entry.size:
            raise DigestMismatch(shown, f"size {entry.size}", f"size {size}")
        with ExitStack() as stack:
            src = stack.enter_context(r.open(entry.path))
            if sink is None:
                hexdigest, size = _pump(src, entry.size + 1, (), progress, cancel)
            else:
                sink.parent.mkdir(parents=True, exist_ok=True)
                out = stack.enter_context(open(sink, "xb"))
                hexdigest, size = _pump(src, entry.size + 1, (out.write,), progress, cancel)
                out.flush()
                os.fsync(out.fileno())
    if size != entry.size:
        raise DigestMismatch(shown, f"size {entry.size}", f"size {size}")
    if "sha256:" + hexdigest != entry.digest:
        raise DigestMismatch(shown, entry.digest, "sha256:" + hexdigest)
    return hexdigest


def _check(ref: ArtifactRef, r: _Local | _Remote, kind: str, progress: Progress,
           sink: Path | None = None) -> None:  # fmt: skip
    """Raise DigestMismatch unless the bytes behind ``r`` are the ones ``ref`` names."""
    shown = redact(ref.uri)
    if kind != ("dir" if ref.is_dir else "file"):
        want, got = ("a folder", "a file") if ref.is_dir else ("a file", "a folder")
        raise DigestMismatch(shown, want, got)
    if not ref.is_dir:
        entry = FileEntry(path="", size=ref.size, digest=ref.digest)
        _check_file(r, entry, None, shown, sink=sink, progress=progress)
        return
    with _errors(shown):
        have = dict(r.listing())
    for rel in sorted(set(have) ^ {f.path for f in ref.files}):
        if rel in have:
            raise DigestMismatch(f"{shown}/{rel}", "no such file", f"size {have[rel]}")
        raise DigestMismatch(f"{shown}/{rel}", "a file", "no such file")
    _parallel(
        lambda f, cancel: _check_file(
            r,
            f,
            have[f.path],
            f"{shown}/{f.path}",
            sink=sink and sink / f.path,
            progress=progress,
            cancel=cancel,
        ),
        ref.files,
    )


def verify_detail(
    ref: ArtifactRef, storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> Verification:  # fmt: skip
    """("OK" | "MISMATCH" | "MISSING", why). Remote stores are asked up to 1 + 3 times,
    caches invalidated each time, before MISSING. I/O failures raise ArtifactError."""
    shown = redact(ref.uri)
    try:
        _check_ref(ref)
        remote = _scheme(ref.uri) != "file" and _scheme(ref.uri) != "memory"
        for delay in (*(RETRY_DELAYS if remote else ()), None):
            with _errors(shown):
                r = _reader(ref.uri, storage_options)
                kind = r.kind()
            if kind is not None:
                _check(ref, r, kind, _Progress(progress))
                return Verification("OK", "")
            if delay is not None:
                time.sleep(delay)
    except DigestMismatch as e:
        return Verification("MISMATCH", str(e))
    return Verification("MISSING", f"{shown} does not exist")


def verify(
    ref: ArtifactRef, storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> str:  # fmt: skip
    """Return "OK", "MISMATCH" or "MISSING" (see verify_detail)."""
    return verify_detail(ref, storage_options, progress).status


def download(
    ref: ArtifactRef, dest: Path, storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> Path:  # fmt: skip
    """Copy the artifact to ``dest`` only if every byte verifies; return ``dest``.

    Bytes go to ``.{dest.name}.gitreg-tmp-<random>`` beside ``dest`` and are renamed into
    place after they verify; on any failure the temporary copy is removed and ``dest`` is
    untouched. ``dest`` must not exist (a folder artifact may land in an empty folder).
    """
    _check_ref(ref)
    dest = Path(os.path.abspath(dest))
    if os.path.lexists(dest) and not (
        ref.is_dir and not dest.is_symlink() and dest.is_dir() and not any(dest.iterdir())
    ):
        raise AlreadyExists(f"{dest} already exists; gitreg does not overwrite it")
    shown = redact(ref.uri)
    tmp = dest.parent / f".{dest.name}.gitreg-tmp-{os.urandom(6).hex()}"
    try:
        with _errors(shown):
            r = _reader(ref.uri, storage_options)
            kind = r.kind()
        if kind is None:
            raise ArtifactError(f"{shown} does not exist")
        with _errors(str(dest)):
            dest.parent.mkdir(parents=True, exist_ok=True)
            if ref.is_dir:
                tmp.mkdir()
        _check(ref, r, kind, _Progress(progress), sink=tmp)
        try:
            if ref.is_dir:
                if dest.is_dir():
                    dest.rmdir()
                os.rename(tmp, dest)
            else:
                _publish_file(tmp, dest)
        except OSError as e:  # dest appeared (or filled up) meanwhile
            raise AlreadyExists(f"{dest} already exists; gitreg does not overwrite it") from e
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            tmp.unlink()
    return dest


def _publish_file(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` atomically, never replacing ``dst`` (FileExistsError)."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # no hard links here: check, then rename
        if os.path.lexists(dst):
            raise FileExistsError(dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


# ---------------------------------------------------------------- upload


class _Job(NamedTuple):
    src: Path  # the local file or folder
    ref: ArtifactRef  # its description, uri = the final location
    entries: Sequence[FileEntry]  # its files ("" for a single file)
    name: str
    key: str  # <name>/sha256/<hex>/<basename>
    prog: Progress


def upload(
    path: Path, store: str, name: str, storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ArtifactRef:  # fmt: skip
    """Store a local file or folder write-once at ``<store>/<name>/sha256/<hex>/<basename>``.

    ``store`` is an absolute fsspec URI (``file:///abs/dir``, ``s3://bucket/prefix``).
    The same bytes uploaded twice are stored once; a different object already at the key
    raises ArtifactError "artifact exists with different content" (remote stores compare
    sizes only, ``file://`` and ``memory://`` re-hash). ``progress`` sees the bytes hashed
    and then the bytes sent: a bar's total is twice the size. Returns the final ref.
    """
    check_name(name)
    check_uri(store)
    prog = _Progress(progress)
    src = Path(os.path.abspath(path))
    ref = describe_local(src, prog)
    key = f"{name}/sha256/{ref.digest.removeprefix('sha256:')}/{_check_rel(src.name)}"
    entries = ref.files or (FileEntry(path="", size=ref.size, digest=ref.digest),)
    with _errors(redact(store)):
        if _scheme(store) == "file":
            root = _file_path(store)
            job = _Job(src, replace(ref, uri=(root / key).as_uri()), entries, name, key, prog)
            return _upload_local(job, root)
        uri = f"{store.rstrip('/')}/{key}"
        job = _Job(src, replace(ref, uri=uri), entries, name, key, prog)
        return _upload_fs(job, store, storage_options)


def _join(base: str | Path, rel: str) -> Any:
    return (base / rel if isinstance(base, Path) else f"{base}/{rel}") if rel else base


def _copy_in(
    job: _Job, entry: FileEntry, write: Callable[[Any], object], cancel: threading.Event
) -> None:
    """Stream one source file into ``write``, checking it is still what was described."""
    with _errors(str(job.src)), _open_local(_join(job.src, entry.path)) as f:
        hexdigest, size = _pump(f, None, (write,), job.prog, cancel)
    if "sha256:" + hexdigest != entry.digest or size != entry.size:
        raise ArtifactError(f"{_join(job.src, entry.path)} changed while it was being uploaded")


def _upload_local(job: _Job, root: Path) -> ArtifactRef:
    """Stage, fsync, re-hash, then publish with link/rename (neither replaces)."""
    final = root / job.key

    def stored() -> bool:  # re-hash what is there: cheap on a local disk
        kind = _Local(final).kind()
        return kind is not None and _same(
            lambda: _check(job.ref, _Local(final), kind, _NO_PROGRESS)
        )

    differs = ArtifactError(f"{job.ref.uri}: artifact exists with different content")
    if os.path.lexists(final):
        if stored():
            return job.ref
        raise differs
    staging = root / job.name / ".staging" / os.urandom(8).hex()
    staged = staging / final.name
    try:
        (staged if job.ref.is_dir else staging).mkdir(parents=True)

        def copy(entry: FileEntry, cancel: threading.Event) -> None:
            target = _join(staged, entry.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as f:
                _copy_in(job, entry, f.write, cancel)
                f.flush()
                os.fsync(f.fileno())
            _check_file(_Local(target), replace(entry, path=""), None, str(target), cancel=cancel)
            os.chmod(target, 0o444)

        _parallel(copy, job.entries)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staged, final) if job.ref.is_dir else _publish_file(staged, final)
        except OSError as e:  # someone else published first
            if not stored():
                raise differs from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return job.ref


def _upload_fs(job: _Job, store: str, storage_options: Mapping[str, Any] | None) -> ArtifactRef:
    fs, root = _fs(store, storage_options)
    r = _Remote(fs, f"{root}/{job.key}")
    want = {e.path: e.size for e in job.entries}
    differs = ArtifactError(f"{redact(job.ref.uri)}: artifact exists with different content")

    def sizes() -> dict[str, int]:
        fs.invalidate_cache()
        kind = r.kind()
        return {} if kind is None else {"": r.size("")} if kind == "file" else dict(r.listing())

    have = sizes()  # a folder may be partly there after an interrupted S3 commit phase
    if any(want.get(rel) != size for rel, size in have.items()):
        raise differs
    there = [e for e in job.entries if e.path in have]
    if _scheme(store) == "memory" and not _same(
        lambda: [_check_file(r, e, None, "") for e in there]
    ):
        raise differs
    todo = [e for e in job.entries if e.path not in have]
    if todo and _scheme(store) == "s3":
        _send_conditional(job, fs, todo, r.root, storage_options)
    elif todo:
        _send_staged(job, fs, todo, root)
    if sizes() != want:
        raise differs
    return job.ref


def _send_conditional(
    job: _Job, fs: Any, todo: Sequence[FileEntry], final: str,
    storage_options: Mapping[str, Any] | None,
) -> None:  # fmt: skip
    """S3: one multipart upload per file, all completed (If-None-Match) after all sent."""
    pending: list[Any] = []
    lock = threading.Lock()

    def send(entry: FileEntry, cancel: threading.Event) -> None:
        options = {} if "default_block_size" in (storage_options or {}) else {
            "block_size": max(_REMOTE_BLOCK, -(-entry.size // 9000))}  # fmt: skip
        f = fs.open(_join(final, entry.path), "xb", autocommit=False, **options)
        with lock:
            pending.append(f)
        _copy_in(job, entry, f.write, cancel)
        f.close()  # sends the last part; nothing is visible until commit

    try:
        _parallel(send, todo)
        while pending:
            try:
                pending[-1].commit()
            except FileExistsError:  # a concurrent writer won; sizes are compared after
                _discard(pending[-1])
            pending.pop()
    finally:
        for f in pending:
            _discard(f)


def _send_staged(job: _Job, fs: Any, todo: Sequence[FileEntry], root: str) -> None:
    """Other fsspec stores: write under .staging/, check, then move each file into place."""
    staging, final = f"{root}/{job.name}/.staging/{os.urandom(8).hex()}", f"{root}/{job.key}"
    try:

        def send(entry: FileEntry, cancel: threading.Event) -> None:
            f = fs.open(_join(staging, entry.path), "wb")
            try:
                _copy_in(job, entry, f.write, cancel)
            except BaseException:
                _discard(f)
                raise
            f.close()

        _parallel(send, todo)
        r = _Remote(fs, staging)
        for entry in todo:
            if _scheme(job.ref.uri) == "memory":  # re-reading is free only in memory
                _check_file(r, entry, None, _join(staging, entry.path))
            elif r.size(entry.path) != entry.size:
                raise ArtifactError(f"{_join(staging, entry.path)}: staged size is wrong")
        for entry in todo:
            if not fs.exists(_join(final, entry.path)):  # write-once as far as the store allows
                fs.mv(_join(staging, entry.path), _join(final, entry.path))
    finally:
        with suppress(FileNotFoundError):
            fs.rm(staging, recursive=True)
