"""The read side of an artifact: a local file or folder (lstat only, links never
followed) or an fsspec location, and ``describe`` (digest and size by streaming)."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from gitreg.errors import ArtifactError
from gitreg.manifest import ArtifactRef, FileEntry
from gitreg.store.locations import check_rel, check_uri, file_path, redact, scheme_of
from gitreg.store.transfer import (
    _REMOTE_BLOCK,
    Progress,
    ProgressFanIn,
    _open_local,
    open_fs,
    parallel,
    pump,
    translated_errors,
)


def listing_digest(files: Sequence[FileEntry]) -> str:
    """The digest of a folder: sha256 of its canonical listing (see ``gitreg.store``)."""
    text = "".join(
        f"{f.digest.removeprefix('sha256:')}  {f.size}  {f.path}\n"
        for f in sorted(files, key=lambda f: f.path)
    )
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class LinkInPlace(ArtifactError):
    """A symbolic link where an artifact's file or folder should be (never followed)."""


def _kind(mode: int, shown: str) -> str:
    if stat.S_ISLNK(mode):
        raise LinkInPlace(f"{shown} is a symbolic link; gitreg does not follow links")
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    raise ArtifactError(f"{shown} is not a regular file or folder")


class LocalSource:
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
                        out.append((check_rel(prefix + entry.name), st.st_size))
        return sorted(out)

    def size(self, rel: str) -> int:
        st = os.lstat(self._path(rel))
        if _kind(st.st_mode, str(self._path(rel))) != "file":
            raise ArtifactError(f"{self._path(rel)} is not a regular file")
        return st.st_size

    def open(self, rel: str) -> IO[bytes]:
        return _open_local(self._path(rel))


class RemoteSource:
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
            (check_rel(name[start:]), int(info["size"]))
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


def reader_for(uri: str, storage_options: Mapping[str, Any] | None) -> LocalSource | RemoteSource:
    if scheme_of(uri) == "file":
        return LocalSource(file_path(uri))
    fs, root = open_fs(uri, storage_options)
    return RemoteSource(fs, root, (storage_options or {}).get("default_block_size", _REMOTE_BLOCK))


# ---------------------------------------------------------------- describe


def _describe(
    r: LocalSource | RemoteSource, uri: str, shown: str, progress: Progress
) -> ArtifactRef:
    kind = r.kind()
    if kind is None:
        raise ArtifactError(f"{shown} does not exist")

    def one(item: tuple[str, int], cancel: threading.Event) -> FileEntry:
        with translated_errors(f"{shown}/{item[0]}" if item[0] else shown), r.open(item[0]) as src:
            hexdigest, size = pump(src, None, (), progress, cancel)
        return FileEntry(path=item[0], size=size, digest="sha256:" + hexdigest)

    if kind == "file":
        entry = one(("", 0), threading.Event())
        return ArtifactRef(uri=uri, digest=entry.digest, size=entry.size)
    listing = r.listing()
    if not listing:
        raise ArtifactError(f"{shown} is an empty folder")
    files = tuple(parallel(one, listing))
    return ArtifactRef(
        uri=uri, digest=listing_digest(files), size=sum(f.size for f in files), files=files
    )


def describe(
    uri: str, storage_options: Mapping[str, Any] | None = None, progress: Progress | None = None
) -> ArtifactRef:
    """Digest and size of the object, or of every file under the folder/prefix, at ``uri``."""
    check_uri(uri)
    with translated_errors(redact(uri)):
        return _describe(
            reader_for(uri, storage_options), uri, redact(uri), ProgressFanIn(progress)
        )


def describe_local(path: Path, progress: Progress | None = None) -> ArtifactRef:
    """Like ``describe`` for a local path, with hashlib and os only (the fast path)."""
    path = Path(os.path.abspath(path))
    with translated_errors(str(path)):
        uri = (path.parent.resolve() / path.name).as_uri()
        return _describe(LocalSource(path), uri, str(path), ProgressFanIn(progress))
