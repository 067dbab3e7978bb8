"""``gitreg audit``: walk the default branch's first-parent history (oldest first) and flag
every protected change (``promotion.protected``: a stage or alias the policy sends through
review, or the rules themselves) that did not arrive through a merged pull request, every
commit dated in the future, and (with ``require_signed``) every commit without a good
signature.

What counts as "arrived through a merged pull request" is ``trail.pull_requests``'s one
recogniser (the same that ``history`` shows), and for a merge commit its second parent
must already have the change.

Strictness only ratchets: a stage or alias is protected, and signatures are required, if
any policy seen since the audit's starting point said so. Relaxing the policy, promoting,
and restoring it is three findings, not "ok".

A commit with a ``Gitreg-Emergency:`` trailer that only restores a previous holder, where
the policy allows break-glass, is an ``emergency`` finding: awaiting review, with its own
exit status. Findings a team accepted (``.gitreg/audit.yaml`` at the tip, a protected file
changed only through review) are reported as accepted and do not fail the audit.

Commit messages can be forged by anyone who can push, so this is tamper evidence behind
branch protection, not a replacement for it. With ``since``, only commits after it are
walked, and ``since`` must still be an ancestor of the branch: if it is not, history was
rewritten (a force push), which is a finding too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from gitreg.config import Config, Rule
from gitreg.errors import GitError, ManifestError, NotFound
from gitreg.files import yamlio
from gitreg.layout import ACCEPTED, CONFIG
from gitreg.promotion import protected
from gitreg.promotion.aliases import holders
from gitreg.promotion.emergency import TRAILER
from gitreg.repo.git import Git
from gitreg.repo.log import LogEntry, read_log
from gitreg.trail.changelog import rfc3339
from gitreg.trail.pull_requests import recognise
from gitreg.trail.stays import FUTURE_SKEW, stays

_GOOD_SIGNATURE = ("G", "U")  # good; good with unknown trust (GPG)


EXIT_FINDINGS, EXIT_EMERGENCY = 1, 4  # `gitreg audit`'s exit statuses


@dataclass(frozen=True, slots=True)
class AuditFinding:
    kind: str  # direct | policy | emergency | unsigned | future | rewritten
    commit: str
    author: str
    date: str
    subject: str
    message: str
    accepted: str | None = None  # the reason recorded in .gitreg/audit.yaml

    def __str__(self) -> str:
        if not self.commit:
            return self.message
        text = f"{self.commit[:12]} {self.date} {self.author}: {self.message}"
        return f"accepted: {text} ({self.accepted})" if self.accepted is not None else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "commit": self.commit,
            "author": self.author,
            "date": self.date,
            "subject": self.subject,
            "message": self.message,
            "accepted": self.accepted,
        }


@dataclass(slots=True)
class AuditReport:
    branch: str
    head: str
    commits: int = 0
    findings: list[AuditFinding] = field(default_factory=list)

    @property
    def open(self) -> list[AuditFinding]:
        return [f for f in self.findings if f.accepted is None]

    @property
    def ok(self) -> bool:
        return not self.open

    @property
    def exit_status(self) -> int:
        """0 when every finding is accepted; 4 when only emergency changes await review."""
        kinds = {f.kind for f in self.open}
        if not kinds:
            return 0
        return EXIT_EMERGENCY if kinds == {"emergency"} else EXIT_FINDINGS

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "branch": self.branch,
            "head": self.head,
            "commits": self.commits,
            "findings": [f.to_dict() for f in self.findings],
        }


def audit(
    git: Git,
    branch: str,
    *,
    since: str | None = None,
    require_signed: bool | None = None,
    now: float | None = None,
) -> AuditReport:
    """Audit ``branch``'s first-parent history (after ``since``, if given).
    ``require_signed`` None: as the strictest policy seen in the walk says."""
    tip = git.rev_parse(branch)
    report = AuditReport(branch, tip)
    walk = tip
    if since is not None:
        try:
            start = git.rev_parse(since)
        except NotFound:
            start = ""
        if start and git.is_ancestor(start, tip):
            walk = f"{start}..{tip}"
        else:
            report.findings.append(
                AuditFinding(
                    "rewritten",
                    "",
                    "",
                    "",
                    "",
                    f"{since} is not in the history of {branch}: history was rewritten (a "
                    "force push?) or the ref is wrong; auditing the whole branch",
                )
            )
    policies: dict[str, Config] = {}
    signed = require_signed
    if signed is None:
        touching = read_log(git, [walk], [CONFIG], diffs=False)
        shas = [e.sha for e in touching] + [e.parent for e in touching if e.parent] + [tip]
        signed = any(_policy(git, sha, policies).require_signed for sha in shas)
    commits = read_log(git, [walk], [], signatures=signed, reverse=True)
    report.commits = len(commits)
    limit = (now if now is not None else time.time()) + FUTURE_SKEW
    seen: list[Config] = []
    must_sign = bool(require_signed)
    for c in commits:
        cfg = _policy(git, c.parent or c.sha, policies)
        if cfg not in seen:
            seen.append(cfg)
        must_sign = must_sign or (require_signed is None and cfg.require_signed)
        if signed and must_sign and c.signature not in _GOOD_SIGNATURE:
            why = (
                "is not signed" if c.signature == "N" else f"has no good signature ({c.signature})"
            )
            report.findings.append(_finding("unsigned", c, f"the commit {why}"))
        if c.epoch > limit:
            report.findings.append(
                _finding("future", c, f"the commit is dated in the future ({rfc3339(c.epoch)})")
            )
        found = protected.changes(git, c, seen)
        if not found or _through_pull_request(git, c, found):
            continue
        if _emergency(git, c, cfg, found):
            reason = _trailer(c.message, TRAILER)
            what = "; ".join(ch.message for ch in found)
            report.findings.append(
                _finding("emergency", c, f"emergency change awaiting review: {what} ({reason})")
            )
            continue
        for ch in found:
            kind = "policy" if ch.kind == "policy" else "direct"
            report.findings.append(_finding(kind, c, f"{ch.message} without a merged pull request"))
    accepted = accepted_findings(git, tip)
    report.findings = [
        replace(f, accepted=accepted[f.commit]) if f.commit in accepted else f
        for f in report.findings
    ]
    return report


def accepted_entries(git: Git, sha: str) -> list[dict[str, Any]]:
    """The entries of ``.gitreg/audit.yaml`` at ``sha`` (empty if absent or unreadable)."""
    raw = git.show(sha, ACCEPTED)
    if raw is None:
        return []
    try:
        data = yamlio.load(raw, ACCEPTED).data
    except ManifestError:
        return []
    entries = data.get("accepted") if isinstance(data, dict) else None
    return [
        e
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and isinstance(e.get("commit"), str)
    ]


def accepted_findings(git: Git, sha: str) -> dict[str, str]:
    """commit -> reason, from ``.gitreg/audit.yaml`` at ``sha``."""
    return {e["commit"]: str(e.get("reason", "")) for e in accepted_entries(git, sha)}


def _finding(kind: str, c: LogEntry, message: str) -> AuditFinding:
    return AuditFinding(kind, c.sha, c.author, rfc3339(c.epoch), c.subject, message)


def _policy(git: Git, sha: str, cache: dict[str, Config]) -> Config:
    """The policy at ``sha``; if it is missing or unreadable, Production is protected."""
    if sha not in cache:
        raw = git.show(sha, CONFIG)
        try:
            cache[sha] = Config.from_dict(yamlio.load(raw or b"", CONFIG).data)
        except (ManifestError, ValueError, GitError):
            cache[sha] = Config(promotion={"Production": Rule(via="pull_request")})
    return cache[sha]


def _through_pull_request(git: Git, c: LogEntry, found: list[protected.Change]) -> bool:
    if not recognise(c.message, c.parents).reviewed:
        return False
    return len(c.parents) < 2 or all(protected.same_on(git, c.parents[1], ch) for ch in found)


def _trailer(message: str, key: str) -> str | None:
    for line in reversed(message.strip().splitlines()):
        k, sep, value = line.partition(":")
        if sep and k.strip().lower() == key.lower() and value.strip():
            return value.strip()
    return None


def _emergency(git: Git, c: LogEntry, cfg: Config, found: list[protected.Change]) -> bool:
    """A break-glass commit: allowed by its parent's policy, a reason given, and nothing
    but previous holders restored (never a version new to the stage or alias)."""
    if not cfg.break_glass or _trailer(c.message, TRAILER) is None or not c.parent:
        return False
    for ch in found:
        if ch.kind == "stage":
            held = any(s.stage == ch.target for s in stays(git, c.parent, ch.path))
        elif ch.kind == "alias" and ch.version is not None:
            held = ch.version in holders(git, c.parent, ch.name, ch.target[1:])
        else:
            held = False
        if not held:
            return False
    return True
