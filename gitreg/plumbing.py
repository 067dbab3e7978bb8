"""Commits made without a work tree or an index: blobs, trees and a commit written with
git's plumbing (hash-object, mktree, commit-tree) and a branch created with a
compare-and-swap ``update-ref``. The user's checkout, index and current branch are never
touched, so a promotion branch can be prepared from any state of the work tree.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from gitreg.errors import Conflict
from gitreg.git import Git

_ZERO = "0" * 40


def _entries(git: Git, tree: str | None) -> dict[str, tuple[str, str, str]]:
    """name -> (mode, type, sha) of a tree's direct children."""
    if tree is None:
        return {}
    out = {}
    for line in git.run("ls-tree", "-z", tree).split("\0"):
        if line:
            meta, _, name = line.partition("\t")
            mode, kind, sha = meta.split(" ")
            out[name] = (mode, kind, sha)
    return out


def write_tree(git: Git, tree: str | None, changes: Mapping[str, str | None]) -> str | None:
    """The tree ``tree`` with each path in ``changes`` set to a blob sha (None deletes it);
    None when the result is empty. Only the trees along changed paths are rewritten."""
    entries = _entries(git, tree)
    nested: dict[str, dict[str, str | None]] = {}
    for path, blob in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            nested.setdefault(head, {})[rest] = blob
        elif blob is None:
            entries.pop(head, None)
        else:
            entries[head] = ("100644", "blob", blob)
    for name, sub in nested.items():
        old = entries.get(name)
        sha = write_tree(git, old[2] if old and old[1] == "tree" else None, sub)
        if sha is None:
            entries.pop(name, None)
        else:
            entries[name] = ("040000", "tree", sha)
    if not entries:
        return None
    listing = "".join(f"{m} {k} {s}\t{n}\0" for n, (m, k, s) in sorted(entries.items()))
    return git.run("mktree", "-z", input=listing.encode()).strip()


def commit_on_branch(
    git: Git, branch: str, parent: str, files: Mapping[str, bytes | None], message: str
) -> str:
    """Create ``refs/heads/<branch>`` at a new commit on ``parent`` that changes exactly
    ``files``. If the branch already holds that same change on that parent, it is reused;
    any other existing branch of that name is a Conflict (never overwritten). Signed
    when ``commit.gpgSign`` is set, as ``git commit`` would be (commit-tree ignores it)."""
    blobs = {
        path: None if data is None else git.run("hash-object", "-w", "--stdin", input=data).strip()
        for path, data in files.items()
    }
    base_tree = git.run("rev-parse", f"{parent}^{{tree}}").strip()
    tree = write_tree(git, base_tree, blobs) or git.run("mktree", input=b"").strip()
    ref = f"refs/heads/{branch}"
    existing = git.run("rev-parse", "--verify", "--quiet", ref, check=False).strip()
    if existing:
        same = git.run("rev-parse", f"{existing}^{{tree}}", f"{existing}^@").split()
        if same == [tree, parent]:
            return existing
        raise Conflict(
            f"branch {branch} already exists with other changes; "
            f"delete it (git branch -D {branch}) or merge its pull request first"
        )
    sign = git.run("config", "--type=bool", "commit.gpgsign", check=False).strip() == "true"
    args = ["commit-tree", tree, "-p", parent, *(["-S"] if sign else []), "-F", "-"]
    commit = git.run(*args, input=message.encode()).strip()
    git.run("update-ref", "-m", "gitreg: promotion branch", ref, commit, _ZERO)
    return commit


def is_ancestor(git: Git, a: str, b: str) -> bool:
    """Whether commit ``a`` is ``b`` or an ancestor of it."""
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", a, b], cwd=git.root, capture_output=True, check=False
    )
    return proc.returncode == 0
