"""``CommitTree``: a registry's files as one commit has them (the ``files.tree.Tree``
questions answered through git's ``cat-file`` and ``ls-tree``)."""

from __future__ import annotations

from gitreg.repo.git import Git


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
