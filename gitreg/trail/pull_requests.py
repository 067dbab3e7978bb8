"""The one pull-request recogniser: how a commit on the default branch says it arrived
through a merged pull (or merge) request, and who approved it. ``history`` shows it,
``audit`` judges by it, so the two never disagree about a merge.

Shapes recognised (the forges' own conventions):

- GitHub's merge commit, subject ``Merge pull request #N from owner/branch``;
- GitHub's squash (and edited squash) title ending ``(#N)``;
- GitLab's merge commit or squash, a line ``See merge request group/project!N``;
- a merge commit carrying ``Approved-by: Name <email>`` trailers (a merge tool that
  records its reviewers, e.g. ``git merge`` with a trailer added by a bot).

Approvers are the ``Approved-by:`` and ``Reviewed-by:`` trailers in the last paragraph.
Commit text can be written by anyone who can push, so this is evidence, not proof:
``require_signed`` and the forge's own record (``promotion.forge``) make it hard to fake.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_GITHUB_MERGE = re.compile(r"Merge pull request #([0-9]+) from ")
_SQUASH = re.compile(r"\(#([0-9]+)\)\s*$")
_GITLAB = re.compile(r"^See merge request (\S+)!([0-9]+)\s*$", re.M)
_APPROVAL_TRAILERS = ("approved-by", "reviewed-by")


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a commit's message says of its pull request: its number (a GitLab merge
    request's iid), the forge whose convention matched, and the approvers named."""

    number: int | None = None
    forge: str | None = None  # github | gitlab | trailer
    approvers: tuple[str, ...] = ()

    @property
    def reviewed(self) -> bool:
        """Whether the commit claims to have arrived through a reviewed merge."""
        return self.forge is not None


def recognise(message: str, parents: Sequence[str]) -> Arrival:
    """How a commit with ``message`` and ``parents`` arrived (see the module docstring)."""
    text = message.strip()
    subject = text.split("\n", 1)[0]
    approvers = _approvers(text)
    merge = len(parents) > 1
    m = _GITHUB_MERGE.match(subject) or _SQUASH.search(subject)
    if m:
        return Arrival(int(m.group(1)), "github", approvers)
    gl = _GITLAB.search(text)
    if gl:
        return Arrival(int(gl.group(2)), "gitlab", approvers)
    if merge and approvers:
        return Arrival(None, "trailer", approvers)
    return Arrival(None, None, approvers)


def _approvers(text: str) -> tuple[str, ...]:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    found: list[str] = []
    if len(paragraphs) > 1:
        for line in paragraphs[-1].splitlines():
            key, sep, value = line.partition(":")
            who = value.strip()
            if sep and key.strip().lower() in _APPROVAL_TRAILERS and who and who not in found:
                found.append(who)
    return tuple(found)
