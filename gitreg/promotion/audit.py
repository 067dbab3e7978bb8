"""``gitreg audit``: walk the default branch's whole first-parent history and flag every
change into a ``via: pull_request`` stage that did not arrive through a merged pull
request, and (with ``require_signed: true``) every commit without a good signature.

What counts as "arrived through a merged pull request" is ``trail.pull_requests``'s one
recogniser (the same that ``history`` shows), and for a merge commit its second parent
must already have the change.

Commit messages can be forged by anyone who can push, so this is tamper evidence behind
branch protection, not a replacement for it; ``require_signed`` (GitHub signs the commits
its merge button makes) makes it much harder to fake. The policy that applies to a change
is the one its first parent had, so a commit cannot relax the rule it is judged by.
With ``since``, only commits after it are walked, and ``since`` must still be an ancestor
of the branch: if it is not, history was rewritten (a force push), which is a finding too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.config import Config, Rule
from gitreg.errors import GitError, ManifestError, NotFound
from gitreg.files import yamlio
from gitreg.layout import CONFIG, parse_path
from gitreg.repo.git import Git
from gitreg.repo.log import LogEntry, read_log
from gitreg.trail.changelog import rfc3339
from gitreg.trail.pull_requests import recognise
from gitreg.trail.stays import stage_of

_GOOD_SIGNATURE = ("G", "U")  # good; good with unknown trust (GPG)


@dataclass(frozen=True, slots=True)
class AuditFinding:
    kind: str  # direct | unsigned | rewritten
    commit: str
    author: str
    date: str
    subject: str
    message: str

    def __str__(self) -> str:
        if not self.commit:
            return self.message
        return f"{self.commit[:12]} {self.date} {self.author}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "commit": self.commit,
            "author": self.author,
            "date": self.date,
            "subject": self.subject,
            "message": self.message,
        }


@dataclass(slots=True)
class AuditReport:
    branch: str
    head: str
    commits: int = 0
    findings: list[AuditFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "branch": self.branch,
            "head": self.head,
            "commits": self.commits,
            "findings": [f.to_dict() for f in self.findings],
        }


def audit(
    git: Git, branch: str, *, since: str | None = None, require_signed: bool | None = None
) -> AuditReport:
    """Audit ``branch``'s first-parent history (after ``since``, if given).
    ``require_signed`` None: as the branch tip's gitreg.yaml says."""
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
    signed = _signed(git, tip, require_signed)
    commits = read_log(git, [walk], [], diffs=False, signatures=signed)
    report.commits = len(commits)
    changed = {e.sha: e.paths for e in read_log(git, [walk])}
    policies: dict[str, Config] = {}
    for c in commits:
        if signed and c.signature not in _GOOD_SIGNATURE:
            why = (
                "is not signed" if c.signature == "N" else f"has no good signature ({c.signature})"
            )
            report.findings.append(_finding("unsigned", c, f"the commit {why}"))
        if not changed.get(c.sha):
            continue
        parent = c.parent
        cfg = _policy(git, parent or c.sha, policies)
        for path in changed[c.sha]:
            where = parse_path(path)
            if where is None or where.version is None:
                continue
            new = stage_of(git, c.sha, path)
            old = stage_of(git, parent, path) if parent else None
            if new is None or new == old or cfg.rule(where.name, new).via != "pull_request":
                continue
            if not _through_pull_request(git, c, path, new):
                report.findings.append(
                    _finding(
                        "direct",
                        c,
                        f"{where.name} v{where.version} entered {new} without a merged pull "
                        "request",
                    )
                )
    return report


def _finding(kind: str, c: LogEntry, message: str) -> AuditFinding:
    return AuditFinding(kind, c.sha, c.author, rfc3339(c.epoch), c.subject, message)


def _signed(git: Git, tip: str, require_signed: bool | None) -> bool:
    if require_signed is not None:
        return require_signed
    return _policy(git, tip, {}).require_signed


def _policy(git: Git, sha: str, cache: dict[str, Config]) -> Config:
    """The policy at ``sha``; if it is missing or unreadable, Production is protected."""
    if sha not in cache:
        raw = git.show(sha, CONFIG)
        try:
            cache[sha] = Config.from_dict(yamlio.load(raw or b"", CONFIG).data)
        except (ManifestError, ValueError, GitError):
            cache[sha] = Config(promotion={"Production": Rule(via="pull_request")})
    return cache[sha]


def _through_pull_request(git: Git, c: LogEntry, path: str, stage: str) -> bool:
    if not recognise(c.message, c.parents).reviewed:
        return False
    return len(c.parents) < 2 or stage_of(git, c.parents[1], path) == stage
