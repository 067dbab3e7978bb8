"""Approvals that ``gitreg check`` counts itself, from the forge's API, in the manner of
policy bots: a rule's ``approvals: {min: N, from: [user, "@org/team"]}`` is met when N
different allowed people approved the pull request's *current head*. Never counted: the
author's own approval; an approval of an older head (GitHub: the review's ``commit_id``;
GitLab: approvals are only trusted when the project resets them on every push); a user
whose latest review is not an approval. The commit being checked must be that head (or
the forge's merge of it), so a stale run cannot vouch for a newer push.

The pull request comes from ``--pull-request N`` or the CI environment:
``GITHUB_EVENT_PATH`` (``pull_request.number``), ``GITHUB_REF`` (``refs/pull/N/merge``)
or ``CI_MERGE_REQUEST_IID``. Without one, or without a forge and a token, a rule that
asks for approvals fails: closed, with a sentence saying what is missing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gitreg.config import Approvals, Config
from gitreg.repo.git import Git


@dataclass(frozen=True, slots=True)
class Need:
    """One change that asks for approvals: where it is, what it is, what it needs."""

    path: str
    what: str  # "m v3 -> Production"
    approvals: Approvals


def pull_request_number(env: Mapping[str, str]) -> int | None:
    """The pull request CI runs for, from GitHub's or GitLab's environment."""
    event = env.get("GITHUB_EVENT_PATH")
    if event:
        try:
            with open(event, encoding="utf-8") as f:
                data = json.load(f)
            number = (data.get("pull_request") or {}).get("number")
            if isinstance(number, int):
                return number
        except (OSError, ValueError, AttributeError):
            pass
    m = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", env.get("GITHUB_REF", ""))
    if m:
        return int(m.group(1))
    iid = env.get("CI_MERGE_REQUEST_IID", "")
    return int(iid) if iid.isdigit() else None


def judge(  # noqa: PLR0913 (the change, and where its pull request is)
    git: Git,
    cfg: Config,
    needs: Iterable[Need],
    head: str,
    *,
    pull_request: int | None = None,
    env: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """(path, problem) for each need the forge's approvals do not meet; ``head`` is the
    commit being checked."""
    needs = list(needs)
    if not needs:
        return []
    env = os.environ if env is None else env
    number = pull_request if pull_request is not None else pull_request_number(env)
    if number is None:
        why = "no pull request to count them on (pass --pull-request N, or run in CI)"
        return [(n.path, f"{n.what} needs {_wanted(n.approvals)}; {why}") for n in needs]
    # the forge client loads only when approvals are counted
    from gitreg.promotion import forge  # noqa: PLC0415

    remote = str(cfg.remote.get("name", "origin"))
    url = git.configured_url(remote)
    target = forge.find_target(cfg.remote, url, env)
    if target is None:
        why = "no forge is configured to count them on (remote: in gitreg.yaml)"
        return [(n.path, f"{n.what} needs {_wanted(n.approvals)}; {why}") for n in needs]
    try:
        facts = _facts(forge.client(target, env), target.repository, number)
        problem = _head_problem(git, head, facts, number)
        if problem:
            return [(n.path, f"{n.what}: {problem}") for n in needs]
        out = []
        for n in needs:
            problem = _count(forge.client(target, env), facts, n.approvals)
            if problem:
                out.append((n.path, f"{n.what} needs {_wanted(n.approvals)}; {problem}"))
        return out
    except forge.ForgeError as e:
        return [(n.path, f"{n.what}: approvals could not be counted: {e}") for n in needs]


@dataclass(frozen=True, slots=True)
class _Facts:
    author: str
    head: str
    approvers: dict[str, int]  # login -> user id (0 on GitHub) of approvals of ``head``
    stale: tuple[str, ...]  # approvals that do not count, with why
    kind: str


def _facts(api: object, repository: str, number: int) -> _Facts:
    from gitreg.promotion.forges.gitlab import GitLab  # noqa: PLC0415 (with forge, above)

    if isinstance(api, GitLab):
        mr = api.mr(number)
        author = str((mr.get("author") or {}).get("username", ""))
        if api.settings().get("reset_approvals_on_push") is not True:
            raise _forge_error(
                "the project keeps approvals when commits are pushed, so an approval may be "
                "of an older head; turn on 'Remove all approvals when commits are added to "
                "the source branch'"
            )
        got = api.approvals(number).get("approved_by") or []
        users = [a.get("user") or {} for a in got if isinstance(a, dict)]
        approvers = {str(u.get("username")): int(u.get("id") or 0) for u in users}
        return _Facts(author, str(mr.get("sha", "")), approvers, (), "gitlab")
    from gitreg.promotion.forges.github import GitHub  # noqa: PLC0415 (with forge, above)

    assert isinstance(api, GitHub)
    pr = api.pull(repository, number)
    author = str((pr.get("user") or {}).get("login", ""))
    head = str((pr.get("head") or {}).get("sha", ""))
    latest: dict[str, tuple[str, str]] = {}  # login -> (state, commit) of the latest review
    for r in api.reviews(repository, number):
        login = str((r.get("user") or {}).get("login", ""))
        state = str(r.get("state", ""))
        if login and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[login] = (state, str(r.get("commit_id", "")))
    approvers = {u: 0 for u, (s, c) in latest.items() if s == "APPROVED" and c == head}
    stale = tuple(
        f"{u}'s approval is of an older head {c[:12]}"
        for u, (s, c) in latest.items()
        if s == "APPROVED" and c != head
    )
    return _Facts(author, head, approvers, stale, "github")


def _head_problem(git: Git, head: str, facts: _Facts, number: int) -> str | None:
    """The checked commit must be the pull request's head, or the forge's merge of it."""
    if not facts.head:
        return f"the forge did not say what pull request {number}'s head is"
    if head == facts.head:
        return None
    parents = git.parents(head)
    if len(parents) > 1 and facts.head in parents[1:]:
        return None
    return (
        f"the checked commit {head[:12]} is not pull request {number}'s head "
        f"{facts.head[:12]}; approvals count only for the head they approved"
    )


def _count(api: object, facts: _Facts, rule: Approvals) -> str | None:
    """None when ``rule`` is met, else what is missing."""
    why = list(facts.stale)
    counted = []
    for user, uid in sorted(facts.approvers.items()):
        if user.lower() == facts.author.lower():
            why.append(f"{user} is the author")
        elif _allowed(api, facts.kind, rule.allowed, user, uid):
            counted.append(user)
        else:
            why.append(f"{user} is not among the allowed approvers")
    if len(counted) >= rule.min:
        return None
    have = ", ".join(counted) if counted else "none"
    return f"approvals of the head {facts.head[:12]}: {have}" + "".join(f"; {w}" for w in why)


def _allowed(api: object, kind: str, allowed: tuple[str, ...], user: str, uid: int) -> bool:
    if not allowed:
        return True
    if user.lower() in {a.lower() for a in allowed if not a.startswith("@")}:
        return True
    for entry in (a[1:] for a in allowed if a.startswith("@")):
        if kind == "gitlab":
            if uid and api.in_group(entry, uid):  # type: ignore[attr-defined]
                return True
        else:
            org, _, team = entry.partition("/")
            if team and api.in_team(org, team, user):  # type: ignore[attr-defined]
                return True
    return False


def _wanted(rule: Approvals) -> str:
    who = f" from {', '.join(rule.allowed)}" if rule.allowed else ""
    return f"{rule.min} approval{'s' if rule.min != 1 else ''}{who} (never the author's)"


def _forge_error(message: str) -> Exception:
    from gitreg.promotion.forges.http import ForgeError  # noqa: PLC0415 (with forge, above)

    return ForgeError(message)
