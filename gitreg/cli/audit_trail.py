"""The audit trail as commands: ``history`` (one model's changes), ``events`` (the changes
between two commits, typed) and ``notify`` (deliver those to gitreg.yaml's webhooks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from gitreg.cli.app import as_of_options, cli, emit, json_option, open_view

if TYPE_CHECKING:
    from gitreg.trail.changes import Change  # the parser itself is loaded only when used


def _who(ident: str) -> str:
    return ident.split(" <", 1)[0]


def _pr(c: Change) -> str:
    return f"#{c.pull_request}" if c.pull_request is not None else ""


def _rows(changes: Sequence[Change]) -> list[list[str]]:
    return [
        [
            c.timestamp,
            _who(c.author),
            c.text,
            c.commit[:12],
            _pr(c),
            ", ".join(map(_who, c.approvers)),
        ]
        for c in changes
    ]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for r in [list(headers), *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@cli.command()
@click.argument("name")
@click.option("--version", "-v", "version", metavar="N", help="Only changes to version N.")
@click.option("--stage", metavar="STAGE", help="Only versions entering or leaving STAGE.")
@click.option("--since", metavar="DATE", help="Only changes on or after DATE (UTC).")
@as_of_options
@json_option
@click.pass_context
def history(
    ctx: click.Context,
    name: str,
    version: str | None,
    stage: str | None,
    since: str | None,
    ref: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Show every change to a model: when, who, what, the commit and pull request.

    Read from git (a renamed model is followed to its old name); a change merged
    through a pull request shows its number and the merge commit's approvers.

    \b
    Example:
      gitreg history fraud-detector --stage Production
      gitreg history fraud-detector --version 3 --json
    """
    changes = open_view(ctx, ref, at).history(name, version=version, stage=stage, since=since)
    if as_json:
        emit([c.to_dict() for c in changes])
        return
    _table(["WHEN", "WHO", "WHAT", "COMMIT", "PR", "APPROVED BY"], _rows(changes))


@cli.command()
@click.option("--from", "from_ref", required=True, metavar="REF", help="The commit before.")
@click.option("--to", "to_ref", default="HEAD", show_default=True, metavar="REF")
@json_option
@click.pass_context
def events(ctx: click.Context, from_ref: str, to_ref: str, as_json: bool) -> None:
    """List the changes between two commits as typed events (MLflow webhook names).

    \b
    Example:
      gitreg events --from origin/main~5 --to origin/main --json
    """
    found = open_view(ctx).events(from_ref, to_ref)
    if as_json:
        emit([e.to_dict() for e in found])
        return
    rows = [
        [
            e.timestamp,
            e.type,
            e.name,
            "" if e.version is None else str(e.version),
            e.text,
            e.commit[:12],
            _pr(e),
        ]
        for e in found
    ]
    _table(["WHEN", "EVENT", "MODEL", "VERSION", "WHAT", "COMMIT", "PR"], rows)


@cli.command()
@click.option("--from", "from_ref", required=True, metavar="REF", help="The commit before.")
@click.option("--to", "to_ref", default="HEAD", show_default=True, metavar="REF")
@click.option("--dry-run", is_flag=True, help="Show what would be delivered; send nothing.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per attempt.")
@click.option(
    "--attempts", default=3, show_default=True, type=click.IntRange(1, 10), help="Tries per event."
)
@click.option("--backoff", default=1.0, show_default=True, help="Seconds before the first retry.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["gitreg", "mlflow"]),
    help="Send every hook this body and signature (default: each hook's own format: key).",
)
@click.pass_context
def notify(
    ctx: click.Context,
    from_ref: str,
    to_ref: str,
    dry_run: bool,
    timeout: float,
    attempts: int,
    backoff: float,
    fmt: str | None,
) -> None:
    """Deliver the events between two commits to the webhooks in gitreg.yaml.

    Each event is one signed JSON POST (X-Gitreg-Signature: sha256=HMAC of the body,
    keyed with the secret from the hook's secret_env variable; with token_env, also
    Authorization: Bearer). A hook's events, stages and models narrow what it gets. With
    --format mlflow (or a
    hook's format: mlflow) each POST is what MLflow's webhooks send: {entity, action,
    timestamp, data} with X-MLflow-Delivery-Id, X-MLflow-Timestamp and X-MLflow-Signature
    (v1,<base64 HMAC-SHA256 of "delivery_id.timestamp.body">), so receivers written for
    MLflow work unchanged. Exits 1 if a delivery finally failed after its retries.

    \b
    Example:
      GITREG_WEBHOOK_SECRET=... gitreg notify --from "$BEFORE" --to "$AFTER"
      gitreg notify --from "$BEFORE" --format mlflow
    """
    # HTTP delivery only for notify
    from gitreg.trail.webhooks import Delivery, WebhookError, notify  # noqa: PLC0415

    view = open_view(ctx)
    config = view.at(ref=to_ref).config
    found = view.events(from_ref, to_ref)
    if not config.webhooks:
        click.echo(f"No webhooks in gitreg.yaml; {len(found)} event(s) not sent.")
        return

    def show(d: Delivery) -> None:
        e = d.event
        what = f"{e.type} {e.name}" + ("" if e.version is None else f" v{e.version}")
        tries = f" after {d.attempts} attempt(s)" if d.attempts > 1 else ""
        extra = f": {d.detail}" if d.detail and d.status != "delivered" else ""
        click.echo(f"{d.status:<9}  {what} -> {d.url}{tries}{extra}")

    done = notify(
        config,
        found,
        timeout=timeout,
        attempts=attempts,
        backoff=backoff,
        dry_run=dry_run,
        on_delivery=show,
        fmt=fmt,
    )
    failed = [d for d in done if d.status in ("failed", "skipped")]
    if failed:
        raise WebhookError(f"{len(failed)} of {len(done)} deliveries failed")
    if not done:
        click.echo(f"No webhook wants any of the {len(found)} event(s).")
