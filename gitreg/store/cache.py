"""The local artifact cache: verified copies of remote artifacts, keyed by digest.

Layout: ``<cache>/sha256/<hex>/file`` (a file artifact) or ``.../folder/`` (a folder),
files read-only; ``<cache>`` is ``$GITREG_CACHE_DIR``, else ``$XDG_CACHE_HOME/gitreg``,
else ``~/.cache/gitreg``. Entries are filled through ``download`` (verified on the way
in) and published by rename, so a reader never sees half an entry. A hit is re-verified
(size, then sha256) while it is copied out, so a cache that rotted or was edited is caught:
the entry is dropped and the store asked again. A hit needs no store at all (offline).
``file://`` stores are never cached: they are local already. Deleting the folder is safe.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from gitreg.errors import DigestMismatch
from gitreg.manifest import ArtifactRef
from gitreg.store.integrity import _check_ref, _publish_file, download
from gitreg.store.locations import _scheme
from gitreg.store.transfer import Progress, _errors


def cache_dir() -> Path:
    """Where the cache lives (see the module docstring); not created here."""
    if os.environ.get("GITREG_CACHE_DIR"):
        return Path(os.environ["GITREG_CACHE_DIR"]).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).absolute() / "gitreg"


def cache_entry(ref: ArtifactRef, root: Path | None = None) -> Path:
    """The path ``ref``'s bytes have in the cache (whether or not they are there)."""
    root = root or cache_dir()
    return (
        root / "sha256" / ref.digest.removeprefix("sha256:") / ("folder" if ref.is_dir else "file")
    )


def cached_download(
    ref: ArtifactRef,
    dest: Path,
    storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    *,
    root: Path | None = None,
) -> bool:
    """``download`` through the cache; True if the bytes came from the cache.

    ``progress`` sees the bytes once: the cache's copy on a hit, the store's on a miss
    (the verified copy from the fresh entry to ``dest`` is not reported)."""
    _check_ref(ref)  # the digest becomes a path: it must be sha256:<64 hex>
    if _scheme(ref.uri) == "file":
        download(ref, dest, storage_options, progress)
        return False
    entry = cache_entry(ref, root)
    local = replace(ref, uri=entry.as_uri())
    _drop_link(entry)
    if os.path.lexists(entry):
        try:
            download(local, dest, None, progress)
            return True
        except DigestMismatch:
            _remove(entry)  # rotted or edited: fall through to the store
    _fill(ref, entry, storage_options, progress)
    download(local, dest)
    return False


def _fill(
    ref: ArtifactRef,
    entry: Path,
    storage_options: Mapping[str, Any] | None,
    progress: Progress | None,
) -> None:
    staging = entry.parent.parent.parent / "tmp" / os.urandom(8).hex()
    try:
        staging.mkdir(parents=True)
        got = download(ref, staging / entry.name, storage_options, progress)
        with _errors(f"the cache ({entry})"):
            for p in [got] if not ref.is_dir else [p for p in got.rglob("*") if p.is_file()]:
                p.chmod(0o444)
            entry.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(got, entry) if ref.is_dir else _publish_file(got, entry)
            except OSError:  # a concurrent download published first: keep theirs
                if not os.path.lexists(entry):
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _drop_link(entry: Path) -> None:
    """A cache entry that is a symbolic link was never made by gitreg (which never follows
    one): drop it, so the digest is fetched again instead of failing until a hand clears
    the cache."""
    if os.path.islink(entry):
        entry.unlink(missing_ok=True)


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)
