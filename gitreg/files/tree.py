"""Where a registry's files are read from: ``Tree`` is the two questions every query asks
(a file's bytes, a folder's entries); ``WorkTree`` answers them from disk, and
``repo.tree.CommitTree`` from one commit, so every query works "as of" any commit.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Protocol

from gitreg.errors import ManifestError


class Tree(Protocol):
    label: str

    def read(self, rel: str) -> bytes | None: ...

    def children(self, rel: str) -> list[str]: ...


def kind_of(mode: int) -> str:
    """What a non-regular directory entry is, in words for an error message."""
    for test, word in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def refuse_kind(rel: str, mode: int) -> ManifestError:
    """The error for a registry path that is there but is not a regular file."""
    return ManifestError(rel, None, f"is {kind_of(mode)}, not a regular file; gitreg refuses it")


def read_regular(full: str, rel: str) -> bytes | None:
    """The bytes of the regular file at ``full`` (``rel`` names it in errors), or None if
    nothing is there. Never blocks and never follows a link: the file is opened with
    ``O_NONBLOCK | O_NOFOLLOW`` and checked with ``fstat`` before a byte is read, so a
    named pipe or a device in its place is refused with its path (a folder reads as None)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(full, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ManifestError(rel, None, "is a symbolic link; gitreg refuses them") from None
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            raise ManifestError(rel, None, f"cannot read the file: {e.strerror}") from None
        raise refuse_kind(rel, mode) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            return None  # a folder: no file of that name (callers list folders apart)
        if not stat.S_ISREG(mode):
            raise refuse_kind(rel, mode)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError as e:
        raise ManifestError(rel, None, f"cannot read the file: {e.strerror}") from None
    finally:
        os.close(fd)


class WorkTree:
    """The registry's files as they are on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = "work tree"
        self._base = str(root)  # plain strings: pathlib costs more than the lstat calls

    def read(self, rel: str) -> bytes | None:
        """A regular file's bytes, or None if absent. A symbolic link anywhere on the way
        is refused, never followed: a manifest must not read ``~/.aws/credentials``."""
        folder = self._base
        for part in rel.split("/")[:-1]:
            folder = f"{folder}/{part}"
            try:
                if stat.S_ISLNK(os.lstat(folder).st_mode):
                    raise ManifestError(rel, None, f"{part} is a symbolic link; gitreg refuses it")
            except (FileNotFoundError, NotADirectoryError):
                return None
        return read_regular(f"{self._base}/{rel}", rel)

    def children(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self.root / rel))
        except (FileNotFoundError, NotADirectoryError):
            return []


def refuse_irregular(root: Path, rel: str) -> None:
    """Refuse, with its path, any entry of the folder ``rel`` that is not a regular file
    (``d_type`` from the listing, so no file is opened and nothing can block)."""
    try:
        entries = list(os.scandir(root / rel))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            raise refuse_kind(f"{rel}/{entry.name}", entry.stat(follow_symlinks=False).st_mode)
