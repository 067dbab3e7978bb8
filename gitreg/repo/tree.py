"""Where a Registry reads its files from: the work tree, or a git commit.

Both answer the same two questions (a file's bytes, a folder's entries), so every query
in registry.py works unchanged "as of" any ref or date.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Protocol

from gitreg.errors import ManifestError
from gitreg.repo.git import Git


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


class CommitTree:
    """The registry's files as one commit has them."""

    def __init__(self, git: Git, sha: str) -> None:
        self.git = git
        self.sha = sha
        self.label = f"commit {sha[:12]}"

    def read(self, rel: str) -> bytes | None:
        return self.git.show(self.sha, rel)

    def children(self, rel: str) -> list[str]:
        return sorted(name for _, name in self.git.list_tree(self.sha, rel))
