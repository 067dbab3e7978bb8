"""Sharing from the command line: the ``--push`` option every write command takes, the
helper that runs a write with or without it, and ``gitreg push``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from gitreg.cli.app import F, cli, emit, json_option, open_registry
from gitreg.registry import Registry

T = TypeVar("T")


def push_option(f: F) -> F:
    return click.option(
        "--push",
        is_flag=True,
        help="Also push to origin: fetch, re-apply on its tip, push fast-forward only.",
    )(f)


def apply(ctx: click.Context, push: bool, op: Callable[[Registry], T]) -> tuple[T, str]:
    """Run the write ``op``; with ``push``, on origin's tip and pushed. Returns its result
    and the suffix for the confirmation line (`` (pushed to origin/main)``)."""
    reg = open_registry(ctx)
    if not push:
        return op(reg), ""
    from gitreg.repo import sync  # noqa: PLC0415 (GitPython loads only for --push)

    result, report = sync.push_op(reg, op)
    already = " (it had already landed)" if report.landed and not report.pushed else ""
    moved = "".join(
        f"; earlier local {r.name} version {r.was} was renumbered to {r.now}"
        for r in report.renumbered
    )
    return result, f" (pushed to {report.where}){already}{moved}"


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
