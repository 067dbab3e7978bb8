"""Checking bytes against a manifest entry: ``verify`` / ``verify_detail`` (OK, MISMATCH,
MISSING) and ``download`` (a temporary copy renamed into place only once it verifies)."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

from gitreg.errors import AlreadyExists, ArtifactError, DigestMismatch
from gitreg.manifest import ArtifactRef, FileEntry
from gitreg.store.locations import check_rel, check_uri, redact, scheme_of
from gitreg.store.readers import LinkInPlace, LocalSource, RemoteSource, listing_digest, reader_for
from gitreg.store.transfer import (
    NO_PROGRESS,
    Progress,
    ProgressFanIn,
    parallel,
    pump,
    translated_errors,
)

RETRY_DELAYS = (0.1, 0.2, 0.4)  # before MISSING on remote stores (eventual consistency)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class Verification(NamedTuple):
    status: str  # "OK", "MISMATCH" or "MISSING"
    detail: str  # one sentence, "" when OK


def check_ref(ref: ArtifactRef) -> None:
    """Refuse a manifest entry that is malformed or does not add up (before any I/O)."""
    check_uri(ref.uri)
    shown = redact(ref.uri)
    for digest in (ref.digest, *(f.digest for f in ref.files)):
        if not _DIGEST.fullmatch(digest):
            raise ArtifactError(f"{shown}: unsupported digest {digest!r} (sha256:<64 hex>)")
    paths = [check_rel(f.path) for f in ref.files]
    if len(set(paths)) != len(paths) or any(f.size < 0 for f in ref.files) or ref.size < 0:
        raise ArtifactError(f"{shown}: the manifest's file list is malformed")
    if ref.files and listing_digest(ref.files) != ref.digest:
        raise DigestMismatch(shown, ref.digest, listing_digest(ref.files) + " (file list)")
    if ref.files and sum(f.size for f in ref.files) != ref.size:
        raise DigestMismatch(shown, f"size {ref.size}", f"size {sum(f.size for f in ref.files)}")


def check_file(  # noqa: PLR0913 (keyword-only sink and progress)
    r: LocalSource | RemoteSource, entry: FileEntry, have: int | None, shown: str, *,
    sink: Path | None = None, progress: Progress = NO_PROGRESS,
    cancel: threading.Event | None = None,
) -> str:  # fmt: skip
    """Size first, then a read bounded by size + 1, then the sha256; optional copy."""
    with translated_errors(shown):
        size = r.size(entry.path) if have is None else have
        if size != entry.size:
            raise DigestMismatch(shown, f"size {entry.size}", f"size {size}")
        with ExitStack() as stack:
            src = stack.enter_context(r.open(entry.path))
            if sink is None:
                hexdigest, size = pump(src, entry.size + 1, (), progress, cancel)
            else:
                sink.parent.mkdir(parents=True, exist_ok=True)
                out = stack.enter_context(open(sink, "xb"))
                hexdigest, size = pump(src, entry.size + 1, (out.write,), progress, cancel)
                out.flush()
                os.fsync(out.fileno())
    if size != entry.size:
        raise DigestMismatch(shown, f"size {entry.size}", f"size {size}")
    if "sha256:" + hexdigest != entry.digest:
        raise DigestMismatch(shown, entry.digest, "sha256:" + hexdigest)
    return hexdigest


def check_bytes(ref: ArtifactRef, r: LocalSource | RemoteSource, kind: str, progress: Progress,
           sink: Path | None = None) -> None:  # fmt: skip
    """Raise DigestMismatch unless the bytes behind ``r`` are the ones ``ref`` names."""
    shown = redact(ref.uri)
    if kind != ("dir" if ref.is_dir else "file"):
        want, got = ("a folder", "a file") if ref.is_dir else ("a file", "a folder")
        raise DigestMismatch(shown, want, got)
    if not ref.is_dir:
        entry = FileEntry(path="", size=ref.size, digest=ref.digest)
        check_file(r, entry, None, shown, sink=sink, progress=progress)
        return
    with translated_errors(shown):
        have = dict(r.listing())
    for rel in sorted(set(have) ^ {f.path for f in ref.files}):
        if rel in have:
            raise DigestMismatch(f"{shown}/{rel}", "no such file", f"size {have[rel]}")
        raise DigestMismatch(f"{shown}/{rel}", "a file", "no such file")
    parallel(
        lambda f, cancel: check_file(
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
        check_ref(ref)
        remote = scheme_of(ref.uri) != "file" and scheme_of(ref.uri) != "memory"
        for delay in (*(RETRY_DELAYS if remote else ()), None):
            with translated_errors(shown):
                r = reader_for(ref.uri, storage_options)
                kind = r.kind()
            if kind is not None:
                check_bytes(ref, r, kind, ProgressFanIn(progress))
                return Verification("OK", "")
            if delay is not None:
                time.sleep(delay)
    except DigestMismatch as e:
        return Verification("MISMATCH", str(e))
    except LinkInPlace as e:  # the registered bytes are not what is there: a mismatch
        return Verification("MISMATCH", f"{e}, so its bytes are not the registered ones")
    return Verification("MISSING", f"{shown} does not exist")


def verify(
    ref: ArtifactRef, storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> str:  # fmt: skip
    """Return "OK", "MISMATCH" or "MISSING" (see verify_detail)."""
    return verify_detail(ref, storage_options, progress).status


def download(
    ref: ArtifactRef, dest: Path, storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None, *, replace: bool = False,
) -> Path:  # fmt: skip
    """Copy the artifact to ``dest`` only if every byte verifies; return ``dest``.

    Bytes go to ``.{dest.name}.gitreg-tmp-<random>`` beside ``dest`` and are renamed into
    place after they verify; on any failure the temporary copy is removed and ``dest`` is
    untouched. ``dest`` must not exist (a folder artifact may land in an empty folder)
    unless ``replace``: then an existing file (for a file artifact) or folder (for a folder
    artifact) is replaced, and only once the new bytes verified.
    """
    check_ref(ref)
    dest = Path(os.path.abspath(dest))
    if os.path.lexists(dest) and not (
        ref.is_dir and not dest.is_symlink() and dest.is_dir() and not any(dest.iterdir())
    ):
        if not replace:
            raise AlreadyExists(
                f"{dest} already exists; gitreg does not overwrite it (--force replaces it)"
            )
        _check_replaceable(dest, ref.is_dir)
    shown = redact(ref.uri)
    tmp = dest.parent / f".{dest.name}.gitreg-tmp-{os.urandom(6).hex()}"
    try:
        with translated_errors(shown):
            r = reader_for(ref.uri, storage_options)
            kind = r.kind()
        if kind is None:
            raise ArtifactError(f"{shown} does not exist")
        with translated_errors(str(dest)):
            dest.parent.mkdir(parents=True, exist_ok=True)
            if ref.is_dir:
                tmp.mkdir()
        check_bytes(ref, r, kind, ProgressFanIn(progress), sink=tmp)
        if replace and os.path.lexists(dest):
            with translated_errors(str(dest)):
                _check_replaceable(dest, ref.is_dir)
                _swap(tmp, dest, ref.is_dir)
            return dest
        try:
            if ref.is_dir:
                if dest.is_dir():
                    dest.rmdir()
                os.rename(tmp, dest)
            else:
                publish_file(tmp, dest)
        except OSError as e:  # dest appeared (or filled up) meanwhile
            raise AlreadyExists(f"{dest} already exists; gitreg does not overwrite it") from e
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            tmp.unlink()
    return dest


def _check_replaceable(dest: Path, is_dir: bool) -> None:
    """``--force`` replaces like with like: a file with a file, a folder with a folder."""
    if dest.is_dir() and not dest.is_symlink():
        if not is_dir:
            raise AlreadyExists(f"{dest} is a folder; --force replaces only a file with a file")
    elif is_dir:
        raise AlreadyExists(f"{dest} is not a folder; --force replaces a folder only with a folder")


def _swap(src: Path, dest: Path, is_dir: bool) -> None:
    """Put the verified ``src`` where ``dest`` is: one atomic rename for a file; for a
    folder, the old one is moved aside, the new one renamed in, then the old one removed
    (put back if the rename in fails)."""
    if not is_dir:
        os.replace(src, dest)
        return
    aside = dest.parent / f".{dest.name}.gitreg-old-{os.urandom(6).hex()}"
    os.rename(dest, aside)
    try:
        os.rename(src, dest)
    except OSError:
        os.rename(aside, dest)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def publish_file(src: Path, dst: Path) -> None:
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
