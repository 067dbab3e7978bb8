"""The one reader of git's history: first-parent commits with their raw diffs, blob bytes
in bulk, and diffs between two commits. History, events, audit, ``check --base`` and time
in stage all read git's past through here, so they see the same commits the same way.

Only the first-parent line is walked and each commit is diffed against its first parent:
what happened on the branch, with a merged pull request's changes at its merge commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gitreg.layout import MODELS, NULL_SHA
from gitreg.repo.git import Git


@dataclass(frozen=True, slots=True)
class RawChange:
    """One path's change in a diff: modes and blob ids before and after ("000000" and the
    null id where the path is absent on that side)."""

    old_mode: str
    new_mode: str
    old: str
    new: str


@dataclass(slots=True)
class LogEntry:
    """One commit of a log walk: parents, author (``Name <email>``), committer time (unix),
    message, signature status (``%G?``, when asked for) and the paths it changed."""

    sha: str
    parents: list[str]
    author: str
    epoch: int
    message: str
    signature: str | None = None
    paths: dict[str, RawChange] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return self.message.strip().split("\n", 1)[0]

    @property
    def parent(self) -> str | None:
        return self.parents[0] if self.parents else None


def read_log(  # noqa: PLR0913 (each option is keyword-only and says what the walk reads)
    git: Git,
    revs: Sequence[str],
    paths: Sequence[str] = (MODELS + "/",),
    *,
    diffs: bool = True,
    signatures: bool = False,
    reverse: bool = False,
    first_parent: bool = True,
) -> list[LogEntry]:
    """First-parent commits of ``revs`` touching ``paths`` (every commit if ``paths`` is
    empty), newest first (oldest first with ``reverse``); with ``diffs`` each carries the
    paths (under ``paths``) it changed against its first parent. ``first_parent`` False
    walks every commit, merged branches' included."""
    marker = f"\x1e{uuid.uuid4().hex}\x1e"
    fmt = (
        f"--format={marker}%H%x1f%P%x1f%an <%ae>%x1f%ct%x1f%B%x1f{'%G?' if signatures else ''}%x1f"
    )
    opts = ["--diff-merges=first-parent", "--raw", "-z", "--no-renames", "--no-abbrev"]
    out = git.run_bytes(
        "log",
        *(["--first-parent"] if first_parent else []),
        *(opts if diffs else []),
        *(["--reverse"] if reverse else []),
        fmt,
        *revs,
        "--",
        *paths,
    )
    entries = []
    for chunk in out.split(marker.encode())[1:]:
        sha, parents, author, epoch, rest = chunk.split(b"\x1f", 4)
        message, signature, raw = rest.rsplit(b"\x1f", 2)
        entries.append(
            LogEntry(
                sha=sha.decode(),
                parents=parents.decode().split(),
                author=author.decode("utf-8", "replace"),
                epoch=int(epoch),
                message=message.decode("utf-8", "replace"),
                signature=signature.decode() or None,
                paths=parse_raw(raw) if diffs else {},
            )
        )
    return entries


def first_parent_times(git: Git, ref: str) -> dict[str, int]:
    """commit -> its trusted time on ``ref``'s first-parent line: its committer date, but
    never earlier than its parent's (dates are clamped to be monotonic, so a commit dated
    "2 days ago" on top of today's work counts as today)."""
    out = git.run("log", "--first-parent", "--reverse", "--format=%H %ct", ref, "--")
    times: dict[str, int] = {}
    latest = 0
    for line in out.splitlines():
        sha, _, epoch = line.partition(" ")
        latest = max(latest, int(epoch))
        times[sha] = latest
    return times


def parse_raw(raw: bytes) -> dict[str, RawChange]:
    """``git --raw -z`` output as path -> RawChange."""
    tokens = raw.lstrip(b"\0\n").split(b"\0")
    paths = {}
    for meta, path in zip(tokens[::2], tokens[1::2], strict=False):
        fields = meta.decode().lstrip("\n:").split()
        if len(fields) >= 4:
            change = RawChange(fields[0], fields[1], fields[2], fields[3])
            paths[path.decode("utf-8", "replace")] = change
    return paths


def diff(git: Git, old: str | None, new: str, paths: Sequence[str] = ()) -> dict[str, RawChange]:
    """Every path (under ``paths``) that differs between commits ``old`` and ``new``
    (``old`` None: everything ``new`` has, as a root commit shows it)."""
    opts = ["-r", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-commit-id"]
    revs = ["--root", new] if old is None else [old, new]
    return parse_raw(git.run_bytes("diff-tree", *opts, *revs, "--", *paths))


def read_blobs(git: Git, ids: Iterable[str]) -> dict[str, bytes]:
    """The bytes of every blob in ``ids``, from one ``git cat-file --batch`` given all the
    ids at once (a round trip per blob costs more than the whole answer)."""
    wanted = sorted(set(ids) - {NULL_SHA})
    if not wanted:
        return {}
    out = git.run_bytes("cat-file", "--batch", input="".join(f"{b}\n" for b in wanted).encode())
    blobs, pos = {}, 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 3:
            size = int(header[2])
            if header[1] == b"blob":
                blobs[header[0].decode()] = out[pos : pos + size]
            pos += size + 1
    return blobs


def authors(git: Git, shas: Sequence[str]) -> dict[str, str]:
    """commit -> ``Name <email>`` of its author, for each of ``shas``."""
    if not shas:
        return {}
    out = git.run("log", "--no-walk=unsorted", "--format=%H%x1f%an <%ae>", *shas, "--")
    return dict(line.split("\x1f", 1) for line in out.splitlines() if "\x1f" in line)


def ensure_commit_graph(git: Git) -> None:
    """Write a commit-graph with changed-path Bloom filters if the repository has none.

    ``git log -- models/NAME/`` spends its time diffing the large ``models/`` tree of
    every commit; the filters let it skip commits that did not touch the path (10,000
    commits: ~0.5 s -> ~0.05 s). A one-time cost (seconds on 10,000 commits), kept up
    to date by git's own gc and maintenance; a failure (read-only repository, a lock)
    only means the slower walk."""
    info = git.root / ".git" / "objects" / "info"
    if info.is_dir() and not any((info / f).exists() for f in ("commit-graph", "commit-graphs")):
        git.run("commit-graph", "write", "--reachable", "--changed-paths", check=False)
