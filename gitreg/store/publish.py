"""``upload``: a local file or folder stored write-once under a content-addressed key,
staged or uncommitted until every byte was hashed (see ``gitreg.store`` for the protocol)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from gitreg.errors import ArtifactError
from gitreg.layout import check_model_name, folder
from gitreg.manifest import ArtifactRef, FileEntry
from gitreg.store.integrity import check_bytes, check_file, publish_file
from gitreg.store.locations import check_rel, check_uri, file_path, redact, scheme_of
from gitreg.store.readers import LocalSource, RemoteSource, describe_local
from gitreg.store.transfer import (
    _REMOTE_BLOCK,
    NO_PROGRESS,
    Progress,
    ProgressFanIn,
    _discard,
    _open_local,
    _same,
    open_fs,
    parallel,
    pump,
    translated_errors,
)


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
    """Store a local file or folder write-once at ``<store>/<folder>/sha256/<hex>/<basename>``
    (``<folder>``: the model's folder under ``models/``, ``layout.folder``).

    ``store`` is an absolute fsspec URI (``file:///abs/dir``, ``s3://bucket/prefix``).
    The same bytes uploaded twice are stored once; a different object already at the key
    raises ArtifactError "artifact exists with different content" (remote stores compare
    sizes only, ``file://`` and ``memory://`` re-hash). ``progress`` sees the bytes hashed
    and then the bytes sent: a bar's total is twice the size. Returns the final ref.
    """
    check_model_name(name)
    check_uri(store)
    name = folder(name)  # the store key's first segment: the model's folder, safe in any URI
    prog = ProgressFanIn(progress)
    src = Path(os.path.abspath(path))
    ref = describe_local(src, prog)
    key = f"{name}/sha256/{ref.digest.removeprefix('sha256:')}/{check_rel(src.name)}"
    entries = ref.files or (FileEntry(path="", size=ref.size, digest=ref.digest),)
    with translated_errors(redact(store)):
        if scheme_of(store) == "file":
            root = file_path(store)
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
    with translated_errors(str(job.src)), _open_local(_join(job.src, entry.path)) as f:
        hexdigest, size = pump(f, None, (write,), job.prog, cancel)
    if "sha256:" + hexdigest != entry.digest or size != entry.size:
        raise ArtifactError(f"{_join(job.src, entry.path)} changed while it was being uploaded")


def _upload_local(job: _Job, root: Path) -> ArtifactRef:
    """Stage, fsync, re-hash, then publish with link/rename (neither replaces)."""
    final = root / job.key

    def stored() -> bool:  # re-hash what is there: cheap on a local disk
        kind = LocalSource(final).kind()
        return kind is not None and _same(
            lambda: check_bytes(job.ref, LocalSource(final), kind, NO_PROGRESS)
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
            check_file(
                LocalSource(target), replace(entry, path=""), None, str(target), cancel=cancel
            )
            os.chmod(target, 0o444)

        parallel(copy, job.entries)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staged, final) if job.ref.is_dir else publish_file(staged, final)
        except OSError as e:  # someone else published first
            if not stored():
                raise differs from e
        else:
            if job.ref.is_dir:
                _seal(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return job.ref


def _seal(folder: Path) -> None:
    """Make a published folder read-only, sub-folders first (files already are): nothing
    that reads a model in place (MLflow writes ``registered_model_meta``) can add to it."""
    with translated_errors(str(folder)):
        for dirpath, _dirs, _files in os.walk(folder, topdown=False):
            os.chmod(dirpath, 0o555)


def _upload_fs(job: _Job, store: str, storage_options: Mapping[str, Any] | None) -> ArtifactRef:
    fs, root = open_fs(store, storage_options)
    r = RemoteSource(fs, f"{root}/{job.key}")
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
    if scheme_of(store) == "memory" and not _same(
        lambda: [check_file(r, e, None, "") for e in there]
    ):
        raise differs
    todo = [e for e in job.entries if e.path not in have]
    if todo and scheme_of(store) == "s3":
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
        parallel(send, todo)
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

        parallel(send, todo)
        r = RemoteSource(fs, staging)
        for entry in todo:
            if scheme_of(job.ref.uri) == "memory":  # re-reading is free only in memory
                check_file(r, entry, None, _join(staging, entry.path))
            elif r.size(entry.path) != entry.size:
                raise ArtifactError(f"{_join(staging, entry.path)}: staged size is wrong")
        for entry in todo:
            if not fs.exists(_join(final, entry.path)):  # write-once as far as the store allows
                fs.mv(_join(staging, entry.path), _join(final, entry.path))
    finally:
        with suppress(FileNotFoundError):
            fs.rm(staging, recursive=True)
