"""Where a Registry reads its files from: the work tree, or a git commit.

Both answer the same two questions (a file's bytes, a folder's entries), so every query
in registry.py works unchanged "as of" any ref or date.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from gitreg.git import Git


class Tree(Protocol):
    label: str

    def read(self, rel: str) -> bytes | None: ...

    def children(self, rel: str) -> list[str]: ...


class WorkTree:
    """The registry's files as they are on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = "work tree"

    def read(self, rel: str) -> bytes | None:
        try:
            with open(self.root / rel, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

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
