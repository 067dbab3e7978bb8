"""A version's stage over time, read from the first-parent history of a branch: its
stays (stage, from, until), and the hours of its latest stay in a stage.

A stay starts at the commit (on the branch's first-parent line: for a merged pull request,
the merge) whose manifest first shows the stage, and ends at the commit that shows another.

Reading a version's stays is one ``git log --first-parent -- <its manifest>``: git walks
the branch's commits but diffs only that path (with a commit-graph's changed-path Bloom
filters it skips the commits that did not touch it), and gitreg reads only the manifests
of the commits that did.

Times are trusted times (``repo.log.first_parent_times``): a commit is never older than its
parent on the first-parent line, so backdating a commit (``GIT_COMMITTER_DATE``) cannot
lengthen a stay; a stay never starts in the future either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gitreg.errors import ManifestError
from gitreg.files import yamlio
from gitreg.repo.git import Git
from gitreg.repo.log import first_parent_times, read_log

FUTURE_SKEW = 300  # seconds a commit may be ahead of this clock before audit flags it


@dataclass(frozen=True, slots=True)
class Stay:
    stage: str
    since: int  # unix time of the commit that moved the version into the stage
    until: int | None  # when it left; None while it is still there
    commit: str


def stage_of(git: Git, sha: str, path: str) -> str | None:
    """The ``stage`` a manifest has at ``sha``, or None if absent or unreadable."""
    raw = git.show(sha, path)
    if raw is None:
        return None
    try:
        stage = yamlio.load(raw, path).data.get("stage")
    except (ManifestError, AttributeError):
        return None
    return stage if isinstance(stage, str) else None


def stays(git: Git, ref: str, path: str) -> list[Stay]:
    """The stages the manifest at ``path`` went through on ``ref``'s first-parent line,
    oldest first."""
    found: list[Stay] = []
    entries = read_log(git, [ref], [path], diffs=False, reverse=True)
    trusted = first_parent_times(git, ref) if entries else {}
    now = int(time.time())
    for entry in entries:
        sha, when = entry.sha, min(trusted.get(entry.sha, entry.epoch), now)
        stage = stage_of(git, sha, path)
        if found and found[-1].stage == stage:
            continue
        if found and found[-1].until is None:
            last = found[-1]
            found[-1] = Stay(last.stage, last.since, int(when), last.commit)
        if stage is not None:
            found.append(Stay(stage, int(when), None, sha))
    return found


def hours_in(found: list[Stay], stage: str, now: float | None = None) -> float | None:
    """Hours of the latest stay in ``stage`` (up to now if it has not ended), or None."""
    for stay in reversed(found):
        if stay.stage == stage:
            end = stay.until if stay.until is not None else (now or time.time())
            return max(0.0, (end - stay.since) / 3600)
    return None
