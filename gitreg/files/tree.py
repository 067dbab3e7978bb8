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
        try:
            fd = os.open(f"{self._base}/{rel}", os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ManifestError(rel, None, "is a symbolic link; gitreg refuses them") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def children(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self.root / rel))
        except (FileNotFoundError, NotADirectoryError):
            return []
