"""Protected aliases: an alias named in ``promotion:`` as ``"@alias"`` is moved as a stage
is entered. Its gates judge the version it moves to (as the default branch has it); with
``via: pull_request`` the move is a branch (``alias/<name>-<alias>-v<N>``) and a pull
request, and the default branch is untouched. ``holders`` reads which versions held an
alias from the model's first-parent history, for ``rollback --alias``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from gitreg.config import Rule
from gitreg.errors import Conflict, ManifestError, NotFound, UsageError
from gitreg.files import yamlio
from gitreg.files.records import dump_record
from gitreg.layout import check_name, model_path, version_path
from gitreg.promotion import gates
from gitreg.promotion.gates import GateContext, GateResult
from gitreg.promotion.plan import verifier
from gitreg.promotion.propose import Proposal, at, base_commit, publish
from gitreg.query.reader import Reader
from gitreg.repo.git import Git
from gitreg.repo.log import read_log
from gitreg.repo.objects import commit_on_branch
from gitreg.trail.stays import hours_in, stays


def rule_for(reader: Reader, name: str, alias: str) -> Rule | None:
    """The rule for moving ``name``'s ``alias`` (under any name the model had), or None
    when the alias is not protected."""
    try:
        former = reader.get_model(name).former_names
    except NotFound:
        former = ()
    return reader.config.alias_rule(name, alias, former)


def aliases_at(git: Git, sha: str, name: str) -> dict[str, int]:
    """``name``'s aliases in commit ``sha`` (empty if the model or the file is unreadable)."""
    raw = git.show(sha, model_path(name))
    if raw is None:
        return {}
    try:
        data = yamlio.load(raw, model_path(name)).data
    except ManifestError:
        return {}
    found = data.get("aliases") if isinstance(data, dict) else None
    return {k: v for k, v in (found or {}).items() if isinstance(v, int)}


def holders(git: Git, ref: str, name: str, alias: str) -> list[int]:
    """The versions ``alias`` pointed at on ``ref``'s first-parent line, oldest first
    (each change once)."""
    found: list[int] = []
    for entry in read_log(git, [ref], [model_path(name)], diffs=False, reverse=True):
        v = aliases_at(git, entry.sha, name).get(alias)
        if v is not None and (not found or found[-1] != v):
            found.append(v)
    return found


def judge(  # noqa: PLR0913 (the facts one judgement needs)
    reader: Reader, ref: str, name: str, alias: str, version: int, *, verify: bool = True
) -> tuple[GateResult, ...]:
    """The alias rule's gates on moving ``alias`` to ``version``, as commit ``ref`` (read
    through ``reader``) has the registry. A version that held the alias before is a
    rollback: the gates that judge a first promotion are waived."""
    rule = rule_for(reader, name, alias)
    if rule is None or not rule.gates:
        return ()
    git = reader.git
    mv = reader.get_version(name, version)
    now = reader.get_model(name).aliases.get(alias)
    found = stays(git, ref, version_path(name, mv.version))
    ctx = GateContext(
        current=reader.get_version(name, now) if now and now != mv.version else None,
        stage_hours=lambda s: hours_in(found, s),
        verify=verifier(reader.config.storage_options) if verify else None,
        rollback=version in holders(git, ref, name, alias)[:-1],
    )
    return tuple(gates.evaluate(rule.gates, mv, ctx))


def previous(reg: Reader, name: str, alias: str) -> int:
    """The version ``alias`` pointed at before its current one, on the default branch."""
    base = base_commit(reg, False)
    seen = holders(reg.git, base, name, alias)
    now = at(reg, base).get_model(name).aliases.get(alias)
    earlier = [v for v in seen if v != now]
    if not earlier:
        raise NotFound(f"{name}@{alias} has no earlier version to roll back to")
    return earlier[-1]


def propose(  # noqa: PLR0913 (the facts one judgement needs)
    reg: Reader,
    name: str,
    alias: str,
    version: int | str | None,
    *,
    ignore_gates: bool = False,
    push: bool = True,
    open_pr: bool = True,
    env: Mapping[str, str] | None = None,
    rollback: bool = False,
) -> Proposal:
    """Move (``version`` None: delete) a protected alias on a new branch from the default
    branch, push it and open the pull request; the gates are judged first (GatesFailed)."""
    check_name(alias, "alias")
    base = base_commit(reg, push)
    view = at(reg, base)
    model = view.get_model(name)
    old = model.aliases.get(alias)
    results: tuple[GateResult, ...] = ()
    if version is None:
        if old is None:
            raise NotFound(f"{name} has no alias {alias!r}")
        aliases = {k: v for k, v in model.aliases.items() if k != alias}
        title, number, kind = f"{name}: delete alias {alias} (was v{old})", old, "delete"
    else:
        number = view.get_version(name, version).version
        if old == number:
            raise Conflict(f"{name}@{alias} already points at v{number}")
        results = judge(view, base, name, alias, number)
        failed = gates.failures(results)
        if failed and not ignore_gates:
            raise gates.GatesFailed(name, number, "@" + alias, failed)
        aliases = {**model.aliases, alias: number}
        was = f"v{old} -> " if old else ""
        title, kind = f"{name}: alias {alias} {was}v{number}", "alias"
        if rollback:
            title, kind = title + " (rollback)", "rollback"
    branch = f"{kind}/{name}-{alias}-v{number}"
    if not reg.git.is_branch_name(branch):
        raise UsageError(f"{branch!r} is not a valid branch name")
    files = {model_path(name): dump_record(model.evolve(aliases=aliases).to_dict(), "model")}
    message = f"{title}\n\nGitreg-Op: {uuid.uuid4().hex}"
    commit = commit_on_branch(reg.git, branch, base, files, message)
    body = _body(title, results, branch)
    pushed_to, url, notes = publish(reg, branch, title, body, push=push, open_pr=open_pr, env=env)
    return Proposal(
        name=name,
        version=number,
        from_stage=f"@{alias}={'v' + str(old) if old else '(unset)'}",
        stage="@" + alias if version is not None else f"@{alias} deleted",
        branch=branch,
        base=base,
        commit=commit,
        archived=(),
        results=results,
        pushed_to=pushed_to,
        url=url,
        notes=tuple(notes),
    )


def _body(title: str, results: tuple[GateResult, ...], branch: str) -> str:
    out = [f"## {title}", ""]
    for r in results:
        out.append(f"- {'✅' if r.ok else '❌'} {r}")
    out += ["", f"Prepared by `gitreg` on branch `{branch}`; CI runs `gitreg check --base`."]
    return "\n".join(out) + "\n"
