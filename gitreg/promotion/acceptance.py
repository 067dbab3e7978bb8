"""``gitreg audit accept COMMIT --reason TEXT``: record that a team reviewed an audit
finding after the fact. The record lives in ``.gitreg/audit.yaml``, itself a protected
file, so accepting is a pull request like a promotion (a direct edit of the file is a
finding of its own, and a commit cannot accept itself).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from gitreg import dates
from gitreg.errors import Conflict, NotFound, UsageError
from gitreg.files import yamlio
from gitreg.layout import ACCEPTED
from gitreg.promotion.audit import accepted_entries
from gitreg.promotion.propose import Proposal, base_commit, publish
from gitreg.query.reader import Reader
from gitreg.repo.objects import commit_on_branch

_HEADER = "# Audit findings a team reviewed and accepted (gitreg audit accept); protected.\n"


def accept(  # noqa: PLR0913 (the facts one judgement needs)
    reg: Reader,
    commit: str,
    reason: str,
    *,
    push: bool = True,
    open_pr: bool = True,
    env: Mapping[str, str] | None = None,
) -> Proposal:
    """A branch ``audit/accept-<sha12>`` adding ``commit`` with ``reason`` to the accepted
    findings, pushed, with its pull request."""
    reason = reason.strip()
    if not reason:
        raise UsageError("give a --reason: why the finding is acceptable")
    git = reg.git
    base = base_commit(reg, push)
    sha = git.rev_parse(commit)
    if not git.is_ancestor(sha, base):
        raise NotFound(f"{commit} is not on {reg.config.default_branch}")
    entries = accepted_entries(git, base)
    if any(e["commit"] == sha for e in entries):
        raise Conflict(f"{sha[:12]} is already accepted")
    entries.append({"commit": sha, "reason": reason, "by": git.ident(), "at": dates.now()})
    data = (_HEADER + yamlio.dump({"accepted": entries})).encode()
    branch = f"audit/accept-{sha[:12]}"
    title = f"audit: accept {sha[:12]}"
    message = f"{title}\n\n{reason}\n\nGitreg-Op: {uuid.uuid4().hex}"
    new = commit_on_branch(git, branch, base, {ACCEPTED: data}, message)
    body = f"Accept audit finding `{sha}`:\n\n> {reason}\n"
    pushed_to, url, notes = publish(reg, branch, title, body, push=push, open_pr=open_pr, env=env)
    return Proposal(
        name="audit",
        version=0,
        from_stage="finding",
        stage="accepted",
        branch=branch,
        base=base,
        commit=new,
        archived=(),
        results=(),
        pushed_to=pushed_to,
        url=url,
        notes=tuple(notes),
    )
