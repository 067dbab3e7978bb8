"""events: the changes between two commits as typed events (MLflow 3 webhook names where
one exists; see gitreg.trail.changes), for ``gitreg events`` and ``gitreg notify``.

The first-parent commits of ``to`` that ``from`` lacks are each diffed against their first
parent, so a merged pull request yields its events at the merge commit. ``from`` may be
the null id (``0000…``, what GitHub sends for a new branch): every commit of ``to``."""

from __future__ import annotations

from gitreg.layout import NULL_SHA
from gitreg.repo.git import Git
from gitreg.repo.log import read_log
from gitreg.trail.changelog import to_changes
from gitreg.trail.changes import Change

Event = Change


def events(git: Git, from_ref: str, to_ref: str = "HEAD") -> list[Event]:
    """The events of the commits in ``from_ref..to_ref`` (first-parent), oldest first."""
    to = git.rev_parse(to_ref)
    revs = [to] if from_ref == NULL_SHA else [f"^{git.rev_parse(from_ref)}", to]
    return to_changes(git, read_log(git, revs))
