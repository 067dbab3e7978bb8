"""The local artifact cache: verified copies of artifacts, keyed by digest, for every store.

Layout: ``<cache>/sha256/<hex>/file`` (a file artifact) or ``.../folder/`` (a folder),
files read-only; ``<cache>`` is ``$GITREG_CACHE_DIR``, else ``$XDG_CACHE_HOME/gitreg``,
else ``~/.cache/gitreg``. Entries are filled through ``download`` (verified on the way
in) and published by rename, so a reader never sees half an entry. A hit is re-verified
(size, then sha256) while it is copied out, so a cache that rotted, was edited, or holds a
symbolic link or anything else that is not ours is caught: the entry is dropped and the
store asked again. A hit needs no store at all (offline), ``file://`` stores included: a
shared disk that went away is a store that went away.

Each use stamps the entry folder's mtime, so ``GITREG_CACHE_MAX`` (bytes, or ``500M``,
``10G`` ...) evicts the least recently used entries first once a download is done; an entry
larger than the bound serves its download and is then evicted. ``entries`` and ``prune``
(in ``gitreg.store.cache_admin``) list and trim it. Deleting the folder is always safe.

``fresh_copy`` hands a reader that writes beside the bytes (MLflow writes
``registered_model_meta`` into every model folder it loads) a verified copy of its own, in
a new folder under ``<cache>/loads/``: the registered bytes and the cache entry are never
written. Copies are not removed (a loaded model may still read them); deleting ``loads/``
while no process uses a copy is safe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitreg.errors import ArtifactError
from gitreg.manifest import ArtifactRef
from gitreg.store.cache_root import cache_dir, cache_max, drop
from gitreg.store.integrity import check_ref, download, publish_file
from gitreg.store.transfer import Progress, translated_errors


def cache_entry(ref: ArtifactRef, root: Path | None = None) -> Path:
    """The path ``ref``'s bytes have in the cache (whether or not they are there)."""
    root = root or cache_dir()
    return (
        root / "sha256" / ref.digest.removeprefix("sha256:") / ("folder" if ref.is_dir else "file")
    )


def cached_download(  # noqa: PLR0913 (keyword-only switches)
    ref: ArtifactRef,
    dest: Path,
    storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    *,
    root: Path | None = None,
    replace: bool = False,
) -> bool:
    """``download`` through the cache; True if the bytes came from the cache. ``replace``
    lets the verified copy replace an existing ``dest`` (see ``download``).

    ``progress`` sees the bytes once: the cache's copy on a hit, the store's on a miss
    (the verified copy from the fresh entry to ``dest`` is not reported)."""
    check_ref(ref)  # the digest becomes a path: it must be sha256:<64 hex>
    root = root or cache_dir()
    entry = cache_entry(ref, root)
    local = dataclasses.replace(ref, uri=entry.as_uri())
    hit = False
    if _present(entry):
        try:
            download(local, dest, None, progress, replace=replace)
            hit = True
        except ArtifactError:  # rotted, edited, a link, not ours: drop it, ask the store
            drop(entry.parent, root)
    if not hit:
        _fill(ref, entry, storage_options, progress)
        download(local, dest, replace=replace)
    _touch(entry.parent)
    bound = cache_max()
    if bound is not None:
        from gitreg.store.cache_admin import evict  # noqa: PLC0415 (only a bounded cache evicts)

        evict(bound, root)
    return hit


def _present(entry: Path) -> bool:
    """Whether there is something at ``entry`` to try; a linked entry folder is dropped."""
    folder = entry.parent
    if folder.is_symlink() or (os.path.lexists(folder) and not folder.is_dir()):
        drop(folder, folder.parent.parent)
        return False
    return os.path.lexists(entry)


def fresh_copy(
    ref: ArtifactRef,
    storage_options: Mapping[str, Any] | None = None,
    *,
    root: Path | None = None,
) -> Path:
    """A new verified copy of ``ref``'s bytes, filled through the cache (``file://``
    stores too, so it works once the store is gone), in a new folder under the cache's
    ``loads/``; the copy keeps the artifact's base name. The caller owns it."""
    check_ref(ref)
    name = urllib.parse.unquote(urllib.parse.urlparse(ref.uri).path.rstrip("/").rsplit("/", 1)[-1])
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        name = "artifact"
    loads = (root or cache_dir()) / "loads"
    with translated_errors(str(loads)):
        loads.mkdir(parents=True, exist_ok=True)
        where = Path(tempfile.mkdtemp(prefix="copy-", dir=loads))
    dest = where / name
    try:
        cached_download(ref, dest, storage_options, root=root)
    except BaseException:
        shutil.rmtree(where, ignore_errors=True)
        raise
    return dest


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
        with translated_errors(f"the cache ({entry})"):
            for p in [got] if not ref.is_dir else [p for p in got.rglob("*") if p.is_file()]:
                p.chmod(0o444)
            entry.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(got, entry) if ref.is_dir else publish_file(got, entry)
            except OSError:  # a concurrent download published first: keep theirs
                if not os.path.lexists(entry):
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _touch(folder: Path) -> None:
    with contextlib.suppress(OSError):  # evicted meanwhile by another process
        os.utime(folder, follow_symlinks=False)
