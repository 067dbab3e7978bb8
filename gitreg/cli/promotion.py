"""GitOps commands: a transition into a ``via: pull_request`` stage (called by
``gitreg transition``), ``gitreg rollback``, ``gitreg check --base`` (what CI runs) and
``gitreg audit``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gitreg.cli.app import F, cli, emit, json_option, open_registry
from gitreg.errors import UsageError

if TYPE_CHECKING:
    from gitreg.promotion.propose import Proposal
    from gitreg.promotion.report import Report
    from gitreg.registry import Registry


def propose(
    ctx: click.Context,
    name: str,
    version: str,
    stage: str,
    *,
    ignore_gates: bool,
    local: bool,
    as_json: bool,
    message: str = "",
) -> None:
    """``gitreg transition`` into a stage that policy sends through a pull request."""
    reg = open_registry(ctx)
    p = reg.propose_transition(
        name,
        version,
        stage,
        ignore_gates=ignore_gates,
        push=not local,
        open_pr=not local,
        message=message,
    )
    show_proposal(p, as_json, check_command(reg, p), ctx.meta.get("gitreg.body_file"))


def check_command(reg: Registry, p: Proposal) -> str:
    """The check CI runs on the proposal's pull request, as a command that inspects the
    branch from this clone (``--head`` names it: the checkout itself is untouched)."""
    cfg = reg.config
    if p.pushed_to:
        base = f"{p.pushed_to}/{cfg.default_branch}"
        return f"gitreg check --base {base} --head {p.pushed_to}/{p.branch}"
    return f"gitreg check --base {cfg.default_branch} --head {p.branch}"


def body_file_option(f: F) -> F:
    """``--body-file PATH``: write the pull request's Markdown there (kept in ctx.meta)."""

    def keep(ctx: click.Context, param: click.Parameter, value: object) -> None:
        ctx.meta["gitreg.body_file"] = value

    return click.option(
        "--body-file",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        expose_value=False,
        callback=keep,
        help="Write the pull request's body (metrics, gates, lineage) to this file.",
    )(f)


def show_branch(p: Proposal) -> None:
    """Where a proposal went: its branch and commit, the pull request, and any notes."""
    where = f", pushed to {p.pushed_to}" if p.pushed_to else ""
    click.echo(f"branch: {p.branch} ({p.commit[:12]}{where})")
    if p.url:
        click.echo(f"pull request: {p.url}")
    for note in p.notes:
        click.echo(note)


def show_proposal(
    p: Proposal, as_json: bool, check: str | None = None, body_file: Path | None = None
) -> None:
    if body_file is not None:
        try:
            body_file.write_text(p.body, encoding="utf-8")
        except OSError as e:
            raise UsageError(
                f"could not write the pull request body to {body_file}: {e.strerror}"
            ) from None
    if as_json:
        emit({**p.to_dict(), **({"check": check} if check else {})})
        return
    for r in p.results:
        click.echo(f"  {'ok  ' if r.ok else 'FAIL'} {r}")
    archived = "".join(f"; v{v} -> Archived" for v in p.archived)
    click.echo(f"{p.name} v{p.version}: {p.from_stage} -> {p.stage}{archived}")
    show_branch(p)
    if check:
        click.echo(f"CI runs: {check}")


@cli.command()
@click.argument("name")
@click.option("--stage", default="Production", show_default=True, help="The stage to restore.")
@click.option("--alias", "alias_name", metavar="ALIAS", help="Restore this alias instead.")
@click.option("--local", is_flag=True, help="Prepare the branch only: no push, no pull request.")
@click.option("--emergency", is_flag=True, help="Break-glass: commit on the default branch.")
@click.option("--reason", default="", help="With --emergency: why (recorded in a trailer).")
@body_file_option
@json_option
@click.pass_context
def rollback(
    ctx: click.Context,
    name: str,
    stage: str,
    alias_name: str | None,
    local: bool,
    emergency: bool,
    reason: str,
    as_json: bool,
) -> None:
    """Prepare a pull request that brings back the previous Production version.

    The branch (rollback/NAME-vN-production) starts from the default branch and archives
    the current holder; your checkout is untouched. With --alias, the alias goes back to
    the version it pointed at before.

    \b
    Example:
      gitreg rollback fraud-detector
      gitreg rollback fraud-detector --alias champion
      gitreg rollback fraud-detector --emergency --reason "v7 is serving errors"
      gitreg rollback fraud-detector --body-file pr.md

    With --emergency (gitreg.yaml: break_glass: {allowed: true}) the previous holder is
    restored straight on the default branch; gitreg audit reports it until accepted.
    """
    reg = open_registry(ctx)
    if emergency:
        sha = reg.emergency_rollback(name, reason, stage=stage, alias=alias_name)
        if as_json:
            emit({"commit": sha, "emergency": True})
        else:
            click.echo(
                f"emergency rollback committed: {sha[:12]}; gitreg audit reports it "
                "until a reviewer accepts it (gitreg audit accept)"
            )
        return
    if alias_name is not None:
        p = reg.propose_alias_rollback(name, alias_name, push=not local, open_pr=not local)
    else:
        p = reg.propose_rollback(name, stage, push=not local, open_pr=not local)
    show_proposal(p, as_json, check_command(reg, p), ctx.meta.get("gitreg.body_file"))


def check_base(
    ctx: click.Context, base: str, head: str, fmt: str, verify_artifacts: bool,
    pull_request: int | None = None,
) -> None:  # fmt: skip
    """``gitreg check --base``: judge base...head; exit 1 on any finding."""
    from gitreg.promotion.review import check_diff  # noqa: PLC0415 (only check --base needs it)

    report = check_diff(
        open_registry(ctx).git, base, head, verify=verify_artifacts, pull_request=pull_request
    )
    if fmt == "json":
        emit(report.to_dict())
    elif fmt == "github":
        _github(report)
    else:
        for f in report.findings:
            click.echo(str(f))
        for t in report.transitions:
            passed = sum(r.ok for r in t.results)
            gates = f" ({passed}/{len(t.results)} gates pass)" if t.results else ""
            click.echo(f"{t.name} v{t.version}: {t.from_stage} -> {t.to_stage}{gates}")
        if report.ok and not report.changed:
            click.echo(
                f"nothing to judge: {head} has no changes since {report.merge_base[:12]}; "
                "name the pull request's branch with --head"
            )
        elif report.ok:
            click.echo(f"ok: {len(report.changed)} changed files since {report.merge_base[:12]}")
    if not report.ok:
        ctx.exit(1)


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _github(report: Report) -> None:
    """Workflow commands (one ``::error`` per finding) and a step summary table."""
    for f in report.findings:
        where = f"file={_escape(f.path, True)}" + (f",line={f.line}" if f.line else "")
        click.echo(
            f"::error {where},title={_escape('gitreg ' + f.rule, True)}::{_escape(f.message)}"
        )
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    verdict = "✅ passed" if report.ok else f"❌ {len(report.findings)} problem(s)"
    lines = [f"### gitreg check: {verdict}", ""]
    if report.transitions:
        lines += ["| model | version | transition | gate | | result |", "|---|---|---|---|:-:|---|"]
        for t in report.transitions:
            for r in t.results or ():
                lines.append(
                    f"| {t.name} | v{t.version} | {t.from_stage} → {t.to_stage} | "
                    f"{_cell(f'{r.gate} {r.subject}'.strip())} | {'✅' if r.ok else '❌'} | "
                    f"{_cell(r.detail)} |"
                )
            if not t.results:
                lines.append(
                    f"| {t.name} | v{t.version} | {t.from_stage} → {t.to_stage} | (none) | | |"
                )
        lines.append("")
    if report.findings:
        lines += ["| file | line | rule | problem |", "|---|---:|---|---|"]
        for f in report.findings:
            lines.append(f"| {_cell(f.path)} | {f.line or ''} | {f.rule} | {_cell(f.message)} |")
        lines.append("")
    with open(summary, "a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@cli.group(invoke_without_command=True)
@click.option("--since", metavar="REF", help="Audit only commits after REF (must be an ancestor).")
@click.option("--branch", metavar="BRANCH", help="The branch to audit (default: gitreg.yaml's).")
@json_option
@click.pass_context
def audit(ctx: click.Context, since: str | None, branch: str | None, as_json: bool) -> None:
    """Flag protected changes that skipped a pull request, and unsigned commits.

    Walks the default branch's first-parent history: stage and protected alias moves, the
    policy itself (gitreg.yaml's protection keys, schemas, CODEOWNERS, workflows), future
    dates. Exits 1 on an open finding, 4 when only emergency changes await review, 0
    when every finding is accepted (gitreg audit accept).

    \b
    Example:
      gitreg audit --since v1.0 --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from gitreg.promotion.audit import audit as run_audit  # noqa: PLC0415 (only audit needs it)

    reg = open_registry(ctx)
    report = run_audit(reg.git, branch or reg.config.default_branch, since=since)
    if as_json:
        emit(report.to_dict())
    else:
        for f in report.findings:
            click.echo(str(f))
        if report.ok:
            click.echo(f"ok: {report.commits} commits on {report.branch} audited")
    ctx.exit(report.exit_status)


@audit.command("accept")
@click.argument("commit")
@click.option("--reason", required=True, help="Why the finding is acceptable (recorded).")
@click.option("--local", is_flag=True, help="Prepare the branch only: no push, no pull request.")
@click.pass_context
def audit_accept(ctx: click.Context, commit: str, reason: str, local: bool) -> None:
    """Accept the finding(s) of COMMIT: a pull request adding it to .gitreg/audit.yaml.

    \b
    Example:
      gitreg audit accept 1a2b3c4d --reason "hotfix during incident 42, reviewed after"
    """
    reg = open_registry(ctx)
    p = reg.accept_finding(commit, reason, push=not local, open_pr=not local)
    show_branch(p)
