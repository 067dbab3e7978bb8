"""Store plumbing: streaming with one sha256 pass, a small thread pool whose first
failure cancels the rest, progress fan-in, and third-party errors turned into ours."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, TypeVar

from gitreg.errors import ArtifactError, DigestMismatch, GitregError

CHUNK = 1 << 20
WORKERS = 4
_REMOTE_BLOCK = 8 * CHUNK  # read-ahead and minimum multipart part for remote stores
_IO_MODULES = {"botocore", "aiobotocore", "s3fs", "fsspec", "gcsfs", "adlfs", "google", "azure",
               "aiohttp"}  # fmt: skip
Progress = Callable[[int], None]
_T = TypeVar("_T")
_R = TypeVar("_R")


class _Cancelled(Exception):
    """A sibling worker failed; stop early."""


class ProgressFanIn:
    def __init__(self, callback: Progress | None) -> None:
        self.callback, self.lock = callback, threading.Lock()

    def __call__(self, n: int) -> None:
        if self.callback is not None:
            with self.lock:
                self.callback(n)


NO_PROGRESS = ProgressFanIn(None)


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
def translated_errors(shown: str) -> Iterator[None]:
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


def parallel(fn: Callable[[_T, threading.Event], _R], items: Sequence[_T]) -> list[_R]:
    """``fn`` over ``items`` on a few threads; the first failure cancels the rest."""
    cancel = threading.Event()
    if len(items) <= 1:
        return [fn(item, cancel) for item in items]
    # pools start only for large jobs
    from concurrent.futures import ThreadPoolExecutor, wait  # noqa: PLC0415

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


def pump(
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


def open_fs(uri: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    import fsspec  # noqa: PLC0415 (the only fsspec import, when bytes move)

    fs, path = fsspec.core.url_to_fs(uri, **(storage_options or {}))
    fs.invalidate_cache()  # the instance is shared: never trust an earlier listing
    return fs, str(path).rstrip("/")


def _discard(f: Any) -> None:
    """Abandon a half-written fsspec file (aborts a multipart upload) without committing."""
    with suppress(Exception):
        f.discard()
    with suppress(AttributeError):
        f.closed = True  # a discarded buffered file must not flush on close / __del__


def remove_tree(path: Path, *, ignore_errors: bool = False) -> None:
    """Remove a folder tree that gitreg may have sealed read-only (a published artifact's
    folders are 0555, so nothing in them can be unlinked by anyone but root): its folders
    are made writable first, never following a symbolic link."""
    for folder in [path, *path.rglob("*")]:
        if folder.is_dir() and not folder.is_symlink():
            with suppress(OSError):
                folder.chmod(0o755)
    shutil.rmtree(path, ignore_errors=ignore_errors)
