"""``gitreg audit``: walk the default branch's whole first-parent history and flag every
change into a ``via: pull_request`` stage that did not arrive through a merged pull
request, and (with ``require_signed: true``) every commit without a good signature.

What counts as "arrived through a merged pull request" (the forge's own conventions):

- a merge commit whose message is GitHub's ``Merge pull request #N from ...`` or carries
  GitLab's ``See merge request ...!N``, and whose second parent already has the change;
- a single-parent commit whose subject ends with `` (#N)``, GitHub's squash-merge title.

Commit messages can be forged by anyone who can push, so this is tamper evidence behind
branch protection, not a replacement for it; ``require_signed`` (GitHub signs the commits
its merge button makes) makes it much harder to fake. The policy that applies to a change
is the one its first parent had, so a commit cannot relax the rule it is judged by.
With ``since``, only commits after it are walked, and ``since`` must still be an ancestor
of the branch: if it is not, history was rewritten (a force push), which is a finding too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gitreg.config import Config, Rule
from gitreg.errors import GitError, ManifestError, NotFound
from gitreg.files import yamlio
from gitreg.repo.git import Git
from gitreg.repo.objects import is_ancestor
from gitreg.trail.stays import stage_of

_VERSION = re.compile(r"models/([^/]+)/versions/([1-9][0-9]*)\.yaml")
_MERGE_MESSAGE = re.compile(r"^Merge pull request #\d+ from |^See merge request \S*!\d+$", re.M)
_SQUASH_SUBJECT = re.compile(r"\(#\d+\)$")
_GOOD_SIGNATURE = ("G", "U")  # good; good with unknown trust (GPG)
_SEP = "\x1f"


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


@dataclass(frozen=True, slots=True)
class _Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    date: str
    subject: str
    body: str
    signature: str | None  # %G?, or None when not asked for


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
        if start and is_ancestor(git, start, tip):
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
    commits = _commits(git, walk, signatures=_signed(git, tip, require_signed))
    report.commits = len(commits)
    changed = _changed_versions(git, walk)
    policies: dict[str, Config] = {}
    for c in commits:
        if c.signature is not None and c.signature not in _GOOD_SIGNATURE:
            why = (
                "is not signed" if c.signature == "N" else f"has no good signature ({c.signature})"
            )
            report.findings.append(_finding("unsigned", c, f"the commit {why}"))
        if not changed.get(c.sha):
            continue
        parent = c.parents[0] if c.parents else None
        cfg = _policy(git, parent or c.sha, policies)
        for path in changed[c.sha]:
            name = _VERSION.fullmatch(path)
            assert name is not None
            new = stage_of(git, c.sha, path)
            old = stage_of(git, parent, path) if parent else None
            if new is None or new == old or cfg.rule(name.group(1), new).via != "pull_request":
                continue
            if not _through_pull_request(git, c, path, new):
                report.findings.append(
                    _finding(
                        "direct",
                        c,
                        f"{name.group(1)} v{name.group(2)} entered {new} without a merged pull "
                        "request",
                    )
                )
    return report


def _finding(kind: str, c: _Commit, message: str) -> AuditFinding:
    return AuditFinding(kind, c.sha, c.author, c.date, c.subject, message)


def _signed(git: Git, tip: str, require_signed: bool | None) -> bool:
    if require_signed is not None:
        return require_signed
    return _policy(git, tip, {}).require_signed


def _commits(git: Git, walk: str, *, signatures: bool) -> list[_Commit]:
    fmt = _SEP.join(["%H", "%P", "%an <%ae>", "%cI", "%s", "%b", "%G?" if signatures else ""])
    out = git.run("log", "--first-parent", "-z", f"--format={fmt}", walk, "--")
    commits = []
    for record in out.split("\0"):
        if not record.strip():
            continue
        sha, parents, author, date, subject, body, sig = record.lstrip("\n").split(_SEP)
        commits.append(
            _Commit(sha, tuple(parents.split()), author, date, subject, body, sig or None)
        )
    return commits


def _changed_versions(git: Git, walk: str) -> dict[str, list[str]]:
    """commit -> version files it changed against its first parent."""
    out = git.run(
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--no-renames",
        "--name-only",
        "--format=%x01%H",
        walk,
        "--",
        "models/",
    )
    changed: dict[str, list[str]] = {}
    for block in out.split("\x01")[1:]:
        sha, *paths = block.split("\n")
        changed[sha.strip()] = [p for p in paths if _VERSION.fullmatch(p.strip())]
    return changed


def _policy(git: Git, sha: str, cache: dict[str, Config]) -> Config:
    """The policy at ``sha``; if it is missing or unreadable, Production is protected."""
    if sha not in cache:
        raw = git.show(sha, "gitreg.yaml")
        try:
            cache[sha] = Config.from_dict(yamlio.load(raw or b"", "gitreg.yaml").data)
        except (ManifestError, ValueError, GitError):
            cache[sha] = Config(promotion={"Production": Rule(via="pull_request")})
    return cache[sha]


def _through_pull_request(git: Git, c: _Commit, path: str, stage: str) -> bool:
    message = f"{c.subject}\n{c.body}"
    if len(c.parents) >= 2:
        return bool(_MERGE_MESSAGE.search(message)) and stage_of(git, c.parents[1], path) == stage
    return bool(_SQUASH_SUBJECT.search(c.subject.strip()))
