"""Commits of the log (``repo.log``) turned into Changes: each commit's changed files,
read before and after in one ``cat-file`` batch, diffed into facts (``trail.changes``)
and tied to who, when and through which pull request (``trail.pull_requests``).

For a merge commit the author is the pull request's (the second parent's author) and
``merged_by`` whoever made the merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from gitreg.repo.git import Git
from gitreg.repo.log import LogEntry, authors, read_blobs
from gitreg.trail.changes import Change, Fact, diff
from gitreg.trail.pull_requests import recognise


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


def to_changes(git: Git, entries: Sequence[LogEntry]) -> list[Change]:
    """The changes each commit's files tell, oldest first (``entries`` newest first)."""
    proposers = authors(git, [e.parents[1] for e in entries if len(e.parents) > 1])
    blobs = read_blobs(git, {b for e in entries for c in e.paths.values() for b in (c.old, c.new)})
    out: list[Change] = []
    for entry in reversed(entries):
        files = {path: (blobs.get(c.old), blobs.get(c.new)) for path, c in entry.paths.items()}
        out += tie(diff(files), commit_of(entry, proposers))
    return out


def commit_of(entry: LogEntry, proposers: dict[str, str]) -> Commit:
    arrival = recognise(entry.message, entry.parents)
    merge = len(entry.parents) > 1
    return Commit(
        sha=entry.sha,
        author=proposers.get(entry.parents[1], entry.author) if merge else entry.author,
        timestamp=rfc3339(entry.epoch),
        subject=entry.subject,
        pull_request=arrival.number,
        approvers=arrival.approvers,
        merged_by=entry.author if merge else None,
    )


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
