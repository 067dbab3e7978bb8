"""Commits made with git's plumbing instead of ``git commit``: blobs, only the trees along
the changed paths (``TreeEdit``), a commit (commit-tree) and a compare-and-swap
``update-ref``, so a commit of a few files costs the same in a registry of any size.

``commit_on_branch`` makes a promotion branch this way without touching the user's
checkout, index or current branch; ``Registry._commit`` commits on the current branch.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from gitreg.errors import Conflict, GitError
from gitreg.layout import NULL_SHA
from gitreg.repo.git import Git

_TREE_MODE = "40000"
_MODES = {"tree": ("40000",), "blob": ("100644", "100755", "120000"), "commit": ("160000",)}
_RAW = "surrogateescape"  # a name in a tree is bytes; keep any that are not UTF-8 intact
Entry = tuple[str, str]  # (mode, object id), as a tree lists a child


def object_id(kind: str, data: bytes, hexlen: int = 40) -> str:
    """The id git gives an object of ``kind`` with these bytes (SHA-1, or SHA-256 in a
    repository whose ids are 64 hex digits long)."""
    algo = hashlib.sha256 if hexlen == 64 else hashlib.sha1
    return algo(b"%s %d\0%s" % (kind.encode(), len(data), data)).hexdigest()


class TreeEdit:
    """A few paths changed in one tree, at a cost that does not grow with the tree: only
    the trees along those paths are read (through the cat-file process ``Git.show``
    uses), each changed entry is spliced into its tree's bytes where it stands (a
    registry's ``models`` folder may list 10,000 entries), and the new trees are written
    by one ``git hash-object``."""

    def __init__(self, git: Git, tree: str | None) -> None:
        self.git = git
        self.tree = tree
        self.hexlen = len(tree) if tree else 40
        self._new: dict[str, bytes] = {}  # id -> raw tree, children first
        self._blobs: set[str] = set()
        self._got: dict[str, tuple[str, str, bytes] | None] = {}  # what cat() said, by spec

    def _cat(self, spec: str) -> tuple[str, str, bytes] | None:
        """``Git.cat``, asked once per spec: a spec names a tree by id, so its answer
        never changes (a tree found by name is kept under its id too)."""
        if spec not in self._got:
            got = self._got[spec] = self.git.cat(spec)
            if got is not None and got[1] == "tree":
                self._got[got[0]] = got
        return self._got[spec]

    def _raw(self, tree: str | None) -> bytes:
        if tree is None:
            return b""
        got = self._cat(tree)
        if got is None or got[1] != "tree":
            raise GitError(f"git object {tree} is not a readable tree")
        return got[2]

    def _find(self, tree: str | None, raw: bytes, name: str) -> tuple[int, int, Entry] | None:
        """Where the entry ``name`` of ``tree`` stands in ``raw``: (start, end, entry)."""
        got = self._cat(f"{tree}:{name}") if tree and "/" not in name else None
        if got is None:
            return None
        # The name followed by the entry's whole object id cannot occur anywhere else.
        key = b" %s\0%s" % (name.encode(errors=_RAW), bytes.fromhex(got[0]))
        at = raw.find(key)
        if at < 0:
            return None
        # The mode before it: the bytes before that end an object id, so they cannot be
        # scanned back over; the object's type narrows the mode to one that fits.
        modes = _MODES.get(got[1], ())
        mode = next((m for m in modes if raw.startswith(m.encode(), at - len(m))), None)
        if mode is None:
            return None
        return at - len(mode), at + len(key), (mode, got[0])

    def entry(self, path: str) -> Entry | None:
        """``(mode, id)`` at ``path`` in the tree, or None. Found folder by folder, as
        ``plan`` will look again (then from what is already read)."""
        tree, found = self.tree, None
        for name in path.split("/"):
            found = self._find(tree, self._raw(tree), name) if tree else None
            if found is None:
                return None
            tree = found[2][1] if found[2][0] == _TREE_MODE else None
        return found[2] if found else None

    def plan(self, changes: Mapping[str, str | None]) -> str | None:
        """The id of the tree with each path in ``changes`` set to a blob id (None deletes
        it), or None if it comes out empty. Nothing is written until ``write()``."""
        self._new = {}
        self._blobs = {b for b in changes.values() if b is not None}
        return self._plan(self.tree, changes)

    def _plan(self, tree: str | None, changes: Mapping[str, str | None]) -> str | None:
        mine: dict[str, Entry | None] = {}
        nested: dict[str, dict[str, str | None]] = {}
        for path, blob in changes.items():
            head, sep, rest = path.partition("/")
            if sep:
                nested.setdefault(head, {})[rest] = blob
            else:
                mine[head] = None if blob is None else ("100644", blob)
        raw = self._raw(tree)
        for name, sub in nested.items():
            found = self._find(tree, raw, name)
            old = found[2] if found else None
            sha = self._plan(old[1] if old and old[0] == _TREE_MODE else None, sub)
            mine[name] = None if sha is None else (_TREE_MODE, sha)
        added: list[tuple[str, Entry]] = []
        for name, new in mine.items():
            found = self._find(tree, raw, name)
            if found is None:
                if new is not None:
                    added.append((name, new))
                continue
            start, end, _old = found
            raw = raw[:start] + (_encode(name, new) if new else b"") + raw[end:]
        if added:  # a new name goes where git's order puts it: list the whole tree
            entries = [(m.decode(), n.decode(errors=_RAW), s) for m, n, s in _list(raw)]
            entries += [(mode, name, bytes.fromhex(sha)) for name, (mode, sha) in added]
            entries.sort(key=lambda e: _sort_key(e[1], e[0]))
            raw = b"".join(_encode(n, (m, s.hex())) for m, n, s in entries)
        if not raw:
            return None
        sha = object_id("tree", raw, self.hexlen)
        if sha != tree:
            self._new[sha] = raw
        return sha

    def write(self, blobs: bool = True) -> None:
        """Write the trees ``plan()`` made; their ids must come out as planned. Then, if
        ``blobs``, check that every blob they add is in the repository (``check_blobs``)."""
        if self._new:
            with tempfile.TemporaryDirectory(prefix="gitreg-trees-") as tmp:
                names = []
                for sha, raw in self._new.items():
                    Path(tmp, sha).write_bytes(raw)
                    names.append(f"{tmp}/{sha}\n")
                args = ("hash-object", "-w", "-t", "tree", "--stdin-paths")
                got = self.git.run(*args, input="".join(names).encode()).split()
            if got != list(self._new):
                raise GitError("git wrote other trees than planned; nothing was committed")
        if blobs:
            self.check_blobs()

    def check_blobs(self) -> None:
        missing = [b for b in sorted(self._blobs) if self.git.cat(b) is None]
        if missing:
            raise GitError(f"blob {missing[0]} was not written; nothing was committed")


_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.S)
_ENTRY_256 = re.compile(rb"([0-7]+) ([^\0]*)\0(.{32})", re.S)


def _list(raw: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(mode, name, id bytes) of every entry of a raw tree (SHA-1 or SHA-256 ids)."""
    entries = _ENTRY.findall(raw)
    if b"".join(b"%s %s\0%s" % e for e in entries) != raw:
        entries = _ENTRY_256.findall(raw)
    return entries


def _encode(name: str, entry: Entry) -> bytes:
    return b"%s %s\0%s" % (entry[0].encode(), name.encode(errors=_RAW), bytes.fromhex(entry[1]))


def _sort_key(name: str, mode: str) -> bytes:
    """git orders a tree by the bytes of its names, a folder's as if it ended in "/"."""
    return name.encode(errors=_RAW) + (b"/" if mode == _TREE_MODE else b"")


def write_tree(git: Git, tree: str | None, changes: Mapping[str, str | None]) -> str | None:
    """The tree ``tree`` with each path in ``changes`` set to a blob id (None deletes it),
    written; None when the result is empty. Only the trees along changed paths are read
    and rewritten."""
    edit = TreeEdit(git, tree)
    sha = edit.plan(changes)
    edit.write()
    return sha


def commit_tree(git: Git, tree: str, parent: str, message: str, sign: bool | None = None) -> str:
    """A commit object of ``tree`` on ``parent``. Signed when ``commit.gpgSign`` is set
    (or ``sign``), as ``git commit`` would be: commit-tree itself ignores that setting."""
    if sign is None:
        sign = git.run("config", "--type=bool", "commit.gpgsign", check=False).strip() == "true"
    args = ["commit-tree", tree, "-p", parent, *(["-S"] if sign else []), "-F", "-"]
    return git.run(*args, input=message.encode()).strip()


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
    commit = commit_tree(git, tree, parent, message)
    git.run("update-ref", "-m", "gitreg: promotion branch", ref, commit, NULL_SHA)
    return commit
