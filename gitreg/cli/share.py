"""Sharing from the command line: the ``--push`` option every write command takes, the
helper that runs a write with or without it, and ``gitreg push``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitreg.cli.app import F, cli, emit, json_option, open_registry
from gitreg.manifest import ModelVersion
from gitreg.registry import Registry

T = TypeVar("T")


def push_option(f: F) -> F:
    """``--push``, and ``--wait`` / ``--wait-timeout`` for writes that travel as pull
    requests (``writes: {via: pull_request}``); the latter two are kept in ``ctx.meta``."""

    def keep(ctx: click.Context, param: click.Parameter, value: object) -> None:
        ctx.meta[f"gitreg.{param.name}"] = value

    f = click.option(
        "--wait-timeout",
        type=click.FloatRange(min=0),
        default=600,
        show_default=True,
        metavar="SECONDS",
        expose_value=False,
        callback=keep,
        help="With --wait: give up after this long (the pull request stays open).",
    )(f)
    f = click.option(
        "--wait",
        is_flag=True,
        expose_value=False,
        callback=keep,
        help="writes via pull_request: wait for the merge and print what landed.",
    )(f)
    return click.option(
        "--push",
        is_flag=True,
        help="Also push to origin: fetch, re-apply on its tip, push fast-forward only "
        "(writes via pull_request: a branch of its own and a pull request).",
    )(f)


def apply(ctx: click.Context, push: bool, op: Callable[[Registry], T]) -> tuple[T, str]:
    """Run the write ``op``; with ``push``, on origin's tip and pushed. Returns its result
    and the suffix for the confirmation line (`` (pushed to origin/main)``). With
    ``writes: {via: pull_request}`` the write goes to a branch and a pull request instead
    (``ctx.meta["gitreg.shared"]`` keeps what happened, for ``--json``)."""
    reg = open_registry(ctx)
    if not push:
        return op(reg), ""
    if reg.config.writes.via == "pull_request":
        return _via_pull_request(ctx, reg, op)
    from gitreg.repo import sync  # noqa: PLC0415 (GitPython loads only for --push)

    result, report = sync.push_op(reg, op)
    already = " (it had already landed)" if report.landed and not report.pushed else ""
    moved = "".join(
        f"; earlier local {r.name} version {r.was} was renumbered to {r.now}"
        for r in report.renumbered
    )
    return result, f" (pushed to {report.where}){already}{moved}"


def _via_pull_request(
    ctx: click.Context, reg: Registry, op: Callable[[Registry], T]
) -> tuple[T, str]:
    # the pull-request path loads the forge client
    from gitreg.promotion import writes  # noqa: PLC0415

    result, shared = writes.share(reg, op)
    if shared is None:
        return result, " (nothing changed, so no pull request)"
    if ctx.meta.get("gitreg.wait"):
        timeout = float(ctx.meta.get("gitreg.wait_timeout") or writes.WAIT_TIMEOUT)
        shared = writes.wait(reg, shared, timeout=timeout)
        if shared.version is not None and isinstance(result, ModelVersion):
            result = result.evolve(version=shared.version)  # type: ignore[assignment]
    ctx.meta["gitreg.shared"] = shared
    where = f"{reg.config.remote.get('name', 'origin')}/{reg.config.default_branch}"
    parts = [f"branch {shared.write.branch}"]
    if shared.url:
        parts.append(f"pull request {shared.url}")
    if shared.landed:
        if shared.renumbered:
            parts.insert(0, f"renumbered from v{shared.renumbered[0]}")
        parts.append(f"merged into {where} as {shared.landed[:12]}")
    elif shared.auto_merge == "auto-merge":
        parts.append("auto-merge requested")
    lines = [f" ({'; '.join(parts)})", *shared.notes]
    return result, "\n".join(lines)


def shared_json(ctx: click.Context) -> dict[str, Any]:
    """What a write via pull request did, for ``--json`` (empty otherwise)."""
    shared = ctx.meta.get("gitreg.shared")
    return shared.to_dict() if shared is not None else {}


@cli.command("push")
@click.option("--remote", default="origin", show_default=True, help="The remote to push to.")
@json_option
@click.pass_context
def push_cmd(ctx: click.Context, remote: str, as_json: bool) -> None:
    """Push local gitreg commits the remote lacks, re-applying them on its tip if it moved.

    Never forces: a version number someone else took meanwhile is renumbered, and a change
    to a file the remote changed too is refused. Only commits gitreg made are moved.

    \b
    Example:
      gitreg push
    """
    from gitreg.repo import sync  # noqa: PLC0415 (GitPython loads only for --push)

    report = sync.push(open_registry(ctx), remote=remote)
    if as_json:
        emit(
            {
                "remote": report.remote,
                "branch": report.branch,
                "pushed": report.pushed,
                "already_landed": report.landed,
                "retries": report.retries,
                "renumbered": [
                    {"name": r.name, "was": r.was, "now": r.now} for r in report.renumbered
                ],
            }
        )
        return
    if report.pushed:
        s = "" if report.pushed == 1 else "s"
        click.echo(f"Pushed {report.pushed} commit{s} to {report.where}")
    else:
        click.echo(f"{report.where} is up to date")
    for r in report.renumbered:
        click.echo(
            f"{r.name} version {r.was} was renumbered to {r.now}: {report.where} already had a "
            f"version {r.was}; use models:/{r.name}/{r.now}"
        )
