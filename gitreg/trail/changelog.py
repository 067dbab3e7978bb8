"""Reading git's log of the ``models/`` folder into Changes: one ``git log`` process for
the commits and the paths they changed, one ``git cat-file --batch`` (``Git.show``) for
the files' bytes before and after, and the pull-request convention for merge commits.

Only the first-parent line is walked, each commit diffed against its first parent: what
happened on the branch, with a merged pull request's changes at its merge commit.

Pull-request convention: the number comes from GitHub's merge subject ``Merge pull
request #N from ...`` or a squash subject ending ``(#N)``; approvers are the
``Approved-by: Name <email>`` and ``Reviewed-by:`` trailers in the last paragraph of that
commit's message (git does not record GitHub's approvals; the merging tool writes them).
For a merge commit the author is the pull request's (the second parent's author) and
``merged_by`` whoever made the merge.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from gitreg.repo.git import Git
from gitreg.trail.changes import Change, Fact, diff

_MERGE_PR = re.compile(r"Merge pull request #([0-9]+) ")
_SQUASH_PR = re.compile(r"\(#([0-9]+)\)\s*$")
_APPROVAL_TRAILERS = ("approved-by", "reviewed-by")
_NULL = "0" * 40


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """What a change's commit says about who, when and how it arrived."""

    sha: str
    author: str
    timestamp: str  # commit time, RFC 3339 UTC
    subject: str
    pull_request: int | None = None
    approvers: tuple[str, ...] = ()
    merged_by: str | None = None


@dataclass
class Record:
    """One commit of the log: its parents, message, and the paths it changed, each with
    the blob ids before and after (the null id where the file is absent)."""

    sha: str
    parents: list[str]
    author: str
    epoch: int
    message: str
    paths: dict[str, tuple[str, str]] = field(default_factory=dict)


def read_log(git: Git, revs: Sequence[str], paths: Sequence[str]) -> list[Record]:
    """First-parent commits of ``revs`` touching ``paths``, newest first."""
    marker = f"\x1e{uuid.uuid4().hex}\x1e"
    out = git.run_bytes(
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--raw",
        "-z",
        "--no-renames",
        "--no-abbrev",
        f"--format={marker}%H%x1f%P%x1f%an <%ae>%x1f%ct%x1f%B%x1f",
        *revs,
        "--",
        *paths,
    )
    records = []
    for chunk in out.split(marker.encode())[1:]:
        sha, parents, author, epoch, rest = chunk.split(b"\x1f", 4)
        message, raw = rest.rsplit(b"\x1f", 1)
        rec = Record(
            sha=sha.decode(),
            parents=parents.decode().split(),
            author=author.decode("utf-8", "replace"),
            epoch=int(epoch),
            message=message.decode("utf-8", "replace"),
        )
        rec.paths = parse_raw(raw)
        records.append(rec)
    return records


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


def parse_raw(raw: bytes) -> dict[str, tuple[str, str]]:
    """``git --raw -z`` entries as path -> (old blob, new blob)."""
    tokens = raw.lstrip(b"\0\n").split(b"\0")
    paths = {}
    for meta, path in zip(tokens[::2], tokens[1::2], strict=False):
        fields = meta.decode().lstrip("\n:").split()
        if len(fields) >= 4:
            paths[path.decode("utf-8", "replace")] = (fields[2], fields[3])
    return paths


def changed_files(git: Git, sha: str, parent: str | None) -> dict[str, tuple[str, str]]:
    """Every path under ``models/`` that ``sha`` changed against ``parent``."""
    opts = ["-r", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-commit-id"]
    revs = ["--root", sha] if parent is None else [parent, sha]
    return parse_raw(git.run_bytes("diff-tree", *opts, *revs, "--", "models/"))


def to_changes(git: Git, records: Sequence[Record]) -> list[Change]:
    """The changes each record's files tell, oldest first."""
    proposers = _second_parent_authors(git, [r.parents[1] for r in records if len(r.parents) > 1])
    blobs = read_blobs(git, {b for r in records for pair in r.paths.values() for b in pair})
    out: list[Change] = []
    for rec in reversed(records):
        files = {path: (blobs.get(old), blobs.get(new)) for path, (old, new) in rec.paths.items()}
        out += tie(diff(files), commit_of(rec, proposers))
    return out


def read_blobs(git: Git, ids: set[str]) -> dict[str, bytes]:
    """The bytes of every blob in ``ids``, from one ``git cat-file --batch`` given all the
    ids at once (a round trip per blob costs more than the whole answer)."""
    wanted = sorted(ids - {_NULL})
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


def commit_of(rec: Record, proposers: dict[str, str]) -> Commit:
    number, approvers = pull_request_of(rec.message)
    merge = len(rec.parents) > 1
    return Commit(
        sha=rec.sha,
        author=proposers.get(rec.parents[1], rec.author) if merge else rec.author,
        timestamp=rfc3339(rec.epoch),
        subject=rec.message.strip().split("\n", 1)[0],
        pull_request=number,
        approvers=approvers,
        merged_by=rec.author if merge else None,
    )


def _second_parent_authors(git: Git, shas: list[str]) -> dict[str, str]:
    if not shas:
        return {}
    out = git.run("log", "--no-walk=unsorted", "--format=%H%x1f%an <%ae>", *shas, "--")
    return dict(line.split("\x1f", 1) for line in out.splitlines() if "\x1f" in line)


def tie(facts: list[Fact], commit: Commit) -> list[Change]:
    return [
        Change(
            type=f.type,
            name=f.name,
            version=f.version,
            text=f.text,
            data=f.data,
            commit=commit.sha,
            author=commit.author,
            timestamp=commit.timestamp,
            subject=commit.subject,
            pull_request=commit.pull_request,
            approvers=commit.approvers,
            merged_by=commit.merged_by,
        )
        for f in facts
    ]


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pull_request_of(message: str) -> tuple[int | None, tuple[str, ...]]:
    """The pull request a commit merged, and who approved it (see the module docstring)."""
    subject = message.strip().split("\n", 1)[0]
    m = _MERGE_PR.match(subject) or _SQUASH_PR.search(subject)
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    approvers: list[str] = []
    if len(paragraphs) > 1:
        for line in paragraphs[-1].splitlines():
            key, sep, value = line.partition(":")
            who = value.strip()
            if sep and key.strip().lower() in _APPROVAL_TRAILERS and who and who not in approvers:
                approvers.append(who)
    return (int(m.group(1)) if m else None), tuple(approvers)
