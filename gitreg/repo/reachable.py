"""Every version manifest any ref can reach: what ``gitreg gc --store`` must keep.

``version_blobs`` walks every commit on every branch, tag and remote-tracking branch (and
HEAD, were it detached) with one ``git rev-list --objects`` and returns each distinct blob
stored at ``models/<name>/versions/<N>.yaml``, with the path it was first seen at, read
through one ``git cat-file --batch``. A manifest deleted or rewritten long ago still counts:
``--ref``/``--at`` can resolve it.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.errors import GitError
from gitreg.layout import PATH
from gitreg.repo.git import Git


def version_blobs(git: Git) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every distinct version manifest blob reachable from any ref."""
    head = ["HEAD"] if git.head() is not None else []
    out = git.run("rev-list", "--objects", "--branches", "--tags", "--remotes", *head)
    for line in out.splitlines():
        oid, _, path = line.partition(" ")
        where = PATH.fullmatch(path) if path else None
        if where is not None and where.group(3):  # a version manifest
            got = git.cat(oid)
            if got is None or got[1] != "blob":
                raise GitError(f"git could not read {path} ({oid}); is the repository complete?")
            yield path, got[2]
