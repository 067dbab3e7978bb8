"""Promotion through a pull request: plan a transition against the default branch, judge
its gates, commit it on a new branch (``promote/<name>-v<N>-<stage>``) with plumbing so
the user's checkout is untouched, push the branch, and open the pull request.

``Registry.propose_transition`` and ``Registry.propose_rollback`` are the public entry
points; they call ``propose`` and ``previous_holder`` here with a Reader of the work tree.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitreg.errors import Conflict, GitError, NotFound, UsageError
from gitreg.files.records import version_files
from gitreg.layout import version_path
from gitreg.promotion import gates
from gitreg.promotion.gates import GateResult
from gitreg.promotion.plan import Plan, plan
from gitreg.query.reader import Reader
from gitreg.repo.objects import commit_on_branch
from gitreg.repo.sync import default_timeout
from gitreg.repo.tree import CommitTree
from gitreg.trail.stays import stays


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """What ``propose_*`` did: the branch and commit, whether it was pushed, the pull
    request's link (or why there is none)."""

    name: str
    version: int
    from_stage: str
    stage: str
    branch: str
    base: str  # the default-branch commit the branch starts from
    commit: str
    archived: tuple[int, ...]
    results: tuple[GateResult, ...]
    pushed_to: str | None = None
    url: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    body: str = ""  # the pull request's Markdown (also when no pull request was opened)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "from_stage": self.from_stage,
            "stage": self.stage,
            "branch": self.branch,
            "base": self.base,
            "commit": self.commit,
            "archived": list(self.archived),
            "gates": [r.to_dict() for r in self.results],
            "pushed_to": self.pushed_to,
            "pull_request": self.url,
            "notes": list(self.notes),
        }


def branch_name(name: str, version: int, stage: str, rollback: bool = False) -> str:
    kind = "rollback" if rollback else "promote"
    return f"{kind}/{name}-v{version}-{stage.lower()}"


def propose(  # noqa: PLR0913 (keyword-only switches)
    reg: Reader,
    name: str,
    version: int | str,
    stage: str,
    *,
    ignore_gates: bool = False,
    push: bool = True,
    open_pr: bool = True,
    env: Mapping[str, str] | None = None,
    message: str = "",
) -> Proposal:
    """Commit the transition on a new branch from the default branch, push it, open the
    pull request. Refuses (GatesFailed) if a gate fails, unless ``ignore_gates``. ``reg``
    reads the work tree whose repository gets the branch; ``message`` goes into the commit
    body and the pull request's body."""
    git = reg.git
    base = base_commit(reg, push)
    view = at(reg, base)
    p = plan(view, base, name, version, stage, message)
    failed = gates.failures(p.results)
    if failed and not ignore_gates:
        raise gates.GatesFailed(name, p.version.version, p.stage, failed)
    branch = branch_name(name, p.version.version, p.stage, p.rollback)
    if not git.is_branch_name(branch):
        raise UsageError(f"{branch!r} is not a valid branch name")
    message = f"{p.message}\n\nGitreg-Op: {uuid.uuid4().hex}"
    commit = commit_on_branch(git, branch, base, version_files(p.changed), message)
    body = pr_body(p, branch)
    pushed_to, url, notes = publish(
        reg,
        branch,
        p.message.splitlines()[0],
        body,
        push=push,
        open_pr=open_pr,
        env=env,
    )
    return Proposal(
        name=name,
        version=p.version.version,
        from_stage=p.version.stage,
        stage=p.stage,
        branch=branch,
        base=base,
        commit=commit,
        archived=tuple(v.version for v in p.changed[1:]),
        results=p.results,
        pushed_to=pushed_to,
        url=url,
        notes=tuple(notes),
        body=body,
    )


def publish(  # noqa: PLR0913 (the facts one judgement needs)
    reg: Reader,
    branch: str,
    title: str,
    body: str,
    *,
    push: bool,
    open_pr: bool,
    env: Mapping[str, str] | None = None,
) -> tuple[str | None, str | None, list[str]]:
    """Push ``branch`` and open its pull request into the default branch, where a remote
    and a forge are configured: (the remote pushed to, the link, notes on what was not done)."""
    cfg, git = reg.config, reg.git
    remote = str(cfg.remote.get("name", "origin"))
    has_remote = git.has_remote(remote)
    notes: list[str] = []
    pushed_to = url = None
    if push and has_remote:
        # the forge client loads only when a PR is opened
        from gitreg.promotion import forge  # noqa: PLC0415

        remote_url = git.remote_url(remote)
        pushed = git.push_branch(remote, branch, default_timeout())
        if pushed.status != "ok":
            raise GitError(f"could not push {branch} to {remote}: {pushed.detail}")
        pushed_to = remote
        target = forge.find_target(cfg.remote, remote_url, env) if open_pr else None
        if target is None:
            notes.append(f"open a pull request from {branch} into {cfg.default_branch}")
        else:
            try:
                pr = forge.open_pull_request(target, branch, cfg.default_branch, title, body, env)
                url = pr.url
                if not pr.created:
                    notes.append("the pull request already existed")
            except forge.ForgeError as e:
                notes.append(f"pull request not opened: {e}")
    elif push:
        notes.append(f"no remote {remote!r}: push {branch} and open a pull request yourself")
    return pushed_to, url, notes


def base_commit(reg: Reader, push: bool) -> str:
    """The default branch's tip to branch from: with ``push`` and a remote, fetched first."""
    cfg, git = reg.config, reg.git
    remote = str(cfg.remote.get("name", "origin"))
    has_remote = git.has_remote(remote)
    return _base_commit(reg, cfg.default_branch, remote if has_remote and push else None)


def previous_holder(reg: Reader, name: str, stage: str = "Production") -> int:
    """The version that held ``stage`` most recently before the current holder(s), on the
    default branch's first-parent history."""
    cfg = reg.config
    stage = cfg.canonical_stage(stage)
    base = _base_commit(reg, cfg.default_branch, None)
    view = at(reg, base)
    best: tuple[int, int] | None = None  # (left at, version)
    for mv in view.versions(name):
        if mv.stage == stage:
            continue
        for s in stays(reg.git, base, version_path(name, mv.version)):
            if s.stage == stage and s.until is not None and (best is None or s.until >= best[0]):
                best = (s.until, mv.version)
    if best is None:
        raise NotFound(f"{name} has no earlier {stage} version to roll back to")
    return best[1]


def at(reg: Reader, sha: str) -> Reader:
    return Reader(reg.root, _tree=CommitTree(reg.git, sha))


def _base_commit(reg: Reader, branch: str, remote: str | None) -> str:
    """The default branch's tip; with a remote, the newer of the local and remote tips."""
    git = reg.git
    local = git.branch_tip(branch)
    if remote is not None:
        try:
            git.fetch(remote, branch, default_timeout())
        except GitError as e:
            raise GitError(f"could not fetch {branch} from {remote}: {e}") from None
        theirs = git.rev_parse(f"refs/remotes/{remote}/{branch}")
        if not local or git.is_ancestor(local, theirs):
            return theirs
        if not git.is_ancestor(theirs, local):
            raise Conflict(
                f"{branch} and {remote}/{branch} have diverged; bring {branch} up to date first"
            )
    if not local:
        raise NotFound(f"the default branch {branch!r} does not exist")
    return local


def pr_body(p: Plan, branch: str) -> str:
    """The pull request's Markdown: metrics against the current holder, gates, lineage."""
    mv, cur = p.version, p.current
    out = [f"## {mv.name} v{mv.version}: {mv.stage} → {p.stage}", ""]
    if p.rollback:
        out += [f"A **rollback**: v{mv.version} held {p.stage} before.", ""]
    if cur is not None:
        out += [f"Replaces v{cur.version} in {p.stage}.", ""]
    if len(p.changed) > 1:
        archived = ", ".join(f"v{v.version}" for v in p.changed[1:])
        out += [f"Archived in the same commit: {archived}.", ""]
    if p.note:
        out += ["**Note from the proposer:**", ""] + ["> " + line for line in p.note.splitlines()]
        out.append("")
    if mv.description.strip():
        out += ["> " + line for line in mv.description.strip().splitlines()] + [""]
    keys = sorted(set(mv.metrics) | set(cur.metrics if cur else {}))
    if keys:
        head = f"v{cur.version} ({p.stage})" if cur else "current"
        out += [f"| metric | v{mv.version} | {head} | change |", "|---|---:|---:|---:|"]
        for k in keys:
            new, old = mv.metrics.get(k), cur.metrics.get(k) if cur else None
            delta = f"{new - old:+.4g}" if new is not None and old is not None else ""
            out.append(f"| {_cell(k)} | {_num(new)} | {_num(old)} | {delta} |")
        out.append("")
    if p.results:
        out += ["| gate | | result |", "|---|:-:|---|"]
        for r in p.results:
            what = f"{r.gate} {r.subject}".strip()
            out.append(f"| {_cell(what)} | {'✅' if r.ok else '❌'} | {_cell(r.detail)} |")
        out.append("")
    else:
        out += ["No gates are configured for this stage.", ""]
    a = mv.artifact
    out += ["**Artifact:** `" + a.uri + f"` ({a.size} bytes, `{a.digest}`)", ""]
    if mv.lineage:
        out += ["**Lineage:**"] + [f"- {k}: `{v}`" for k, v in sorted(mv.lineage.items())] + [""]
    if mv.params:
        params = ", ".join(f"`{k}={v}`" for k, v in sorted(mv.params.items()))
        out += [f"**Params:** {params}", ""]
    out.append(f"Prepared by `gitreg` on branch `{branch}`; CI runs `gitreg check --base`.")
    return "\n".join(out) + "\n"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.6g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
