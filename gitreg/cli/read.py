"""Commands that read the registry: every one has --json, and --ref/--at for the past."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from gitreg.cli.app import (
    aliases_of,
    as_of_options,
    brief,
    cli,
    emit,
    json_option,
    open_view,
    table,
    version_json,
)
from gitreg.cli.progress import progress, quiet_option
from gitreg.cli.serving import api_resolve, lock_download
from gitreg.manifest import ModelVersion
from gitreg.query.jsontext import write_texts
from gitreg.registry.view import RegistryView


@cli.command("list")
@as_of_options
@json_option
@click.pass_context
def list_(ctx: click.Context, ref: str | None, at: str | None, as_json: bool) -> None:
    """List registered models with their newest version per stage.

    \b
    Example:
      gitreg list --json
    """
    reg = open_view(ctx, ref, at)
    if as_json:
        emit([m.to_dict() for m in reg.list_models()])
        return
    rows = []
    for m, latest in reg.stage_heads():
        stages = ", ".join(f"{v.stage}: v{v.version}" for v in latest if v.stage != "None")
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(m.aliases.items()))
        rows.append([m.name, m.last_version, stages, aliases, brief(m.description, 40)])
    table(["NAME", "VERSIONS", "STAGES", "ALIASES", "DESCRIPTION"], rows)


@cli.command()
@click.argument("name")
@click.argument("version", required=False)
@as_of_options
@json_option
@click.pass_context
def show(
    ctx: click.Context,
    name: str,
    version: str | None,
    ref: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Show a model and its versions, or one version in full.

    \b
    Example:
      gitreg show fraud-detector 3
    """
    reg = open_view(ctx, ref, at)
    model = reg.get_model(name)
    by_version = aliases_of(model)
    if version is not None:
        mv = reg.get_version(name, version)
        if as_json:
            emit(version_json(mv, by_version.get(mv.version, [])))
        else:
            show_version(mv, by_version.get(mv.version, []))
        return
    versions = reg.versions(name)
    if as_json:
        emit(
            {
                **model.to_dict(),
                "versions": [version_json(v, by_version.get(v.version, [])) for v in versions],
            }
        )
        return
    click.echo(f"{model.name}  (created {model.created_at} by {model.created_by})")
    if model.description:
        click.echo(f"\n{model.description.rstrip()}\n")
    for k, v in sorted(model.tags.items()):
        click.echo(f"tag {k}: {v}")
    rows = [
        [
            v.version,
            v.stage,
            ",".join(by_version.get(v.version, [])),
            v.created_at,
            " ".join(f"{k}={m:g}" for k, m in sorted(v.metrics.items())),
            v.artifact.uri,
        ]
        for v in versions
    ]
    table(["VERSION", "STAGE", "ALIASES", "CREATED", "METRICS", "ARTIFACT"], rows)


def show_version(mv: ModelVersion, aliases: Sequence[str]) -> None:
    rows: list[tuple[str, Any]] = [
        ("name", mv.name),
        ("version", mv.version),
        ("stage", mv.stage),
        ("aliases", ", ".join(aliases)),
        ("artifact", mv.artifact.uri),
        ("digest", mv.artifact.digest),
        ("size", f"{mv.artifact.size} bytes"),
        ("created", f"{mv.created_at} by {mv.created_by}"),
    ]
    rows += [(f"metric {k}", f"{v:g}") for k, v in sorted(mv.metrics.items())]
    rows += [(f"param {k}", v) for k, v in sorted(mv.params.items())]
    rows += [(f"tag {k}", v) for k, v in sorted(mv.tags.items())]
    rows += [(f"lineage {k}", v) for k, v in sorted(mv.lineage.items())]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k.ljust(width)}  {v}")
    if mv.description:
        click.echo(f"\n{mv.description.rstrip()}")


def hint_versions(reg: RegistryView, filter_string: str) -> None:
    """After a model search found nothing: say so if versions match the same filter (a tag
    set with ``tag set NAME --version N`` is the version's, not the model's)."""
    hits = reg.search_versions(filter_string)
    if hits:
        many = f"{len(hits)} versions match" if len(hits) > 1 else "1 version matches"
        click.echo(
            f"gitreg: no model matches, but {many} (model tags and version tags are separate):"
            f" drop --models to search versions",
            err=True,
        )


@cli.command("search")
@click.argument("filter_string", metavar="[FILTER]", default="")
@click.option("--models", is_flag=True, help="Search registered models instead of versions.")
@click.option("--order-by", multiple=True, metavar="CLAUSE", help="e.g. 'metrics.val_auc DESC'.")
@click.option("--max-results", type=click.IntRange(min=1), help="Return at most N results.")
@as_of_options
@json_option
@click.pass_context
def search_(
    ctx: click.Context,
    filter_string: str,
    models: bool,
    order_by: tuple[str, ...],
    max_results: int | None,
    ref: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Search versions (or models) with an MLflow filter string.

    Beyond MLflow: stage, metrics.K, params.K, lineage.K (run_id, data_version ...),
    aliases, OR and parentheses. --models searches the models' own tags and descriptions.

    \b
    Example:
      gitreg search "name LIKE 'fraud%' AND metrics.val_auc > 0.9" --order-by "version_number DESC"
      gitreg search "lineage.data_version = '2026-11'"
    """
    reg = open_view(ctx, ref, at)
    if models:
        found = reg.search_models(filter_string, order_by, max_results)
        if not found and filter_string.strip():
            hint_versions(reg, filter_string)
        if as_json:
            emit([m.to_dict() for m in found])
        else:
            table(
                ["NAME", "VERSIONS", "DESCRIPTION"],
                [[m.name, m.last_version, brief(m.description)] for m in found],
            )
        return
    if as_json:  # version_json's text of each, rendered once per blob, streamed
        write_texts(reg.search_version_texts(filter_string, order_by, max_results), _echo)
        return
    records = reg.each_version_record(filter_string, order_by, max_results)
    table(
        ["NAME", "VERSION", "STAGE", "ALIASES", "CREATED", "RUN"],
        [
            [
                v.name,
                v.version,
                v.stage,
                ",".join(a),
                v.created_at,
                v.lineage.get("run_id", ""),
            ]
            for v, a in records
        ],
    )


def _echo(text: str) -> None:
    click.echo(text, nl=False)


@cli.command()
@api_resolve
@click.argument("uri")
@as_of_options
@json_option
@click.pass_context
def resolve(ctx: click.Context, uri: str, ref: str | None, at: str | None, as_json: bool) -> None:
    """Print the artifact URI a models:/ URI names, now or as of a ref or date.

    \b
    Example:
      gitreg resolve models:/fraud-detector/Production --at 2026-03-01
    """
    reg = open_view(ctx, ref, at)
    mv = reg.resolve(uri)
    if as_json:
        emit(version_json(mv, aliases_of(reg.get_model(mv.name)).get(mv.version, [])))
    else:
        click.echo(mv.artifact.uri)


@cli.command()
@lock_download
@click.argument("uri")
@click.argument("dest", type=click.Path(path_type=Path))
@as_of_options
@click.option("--no-cache", is_flag=True, help="Neither read nor fill the local cache.")
@click.option("--force", is_flag=True, help="Replace DEST, only once the new bytes verified.")
@quiet_option
@click.pass_context
def download(
    ctx: click.Context, uri: str, dest: Path, ref: str | None, at: str | None, no_cache: bool,
    force: bool, quiet: bool,
) -> None:  # fmt: skip
    """Copy a version's artifact to DEST, verifying its size and sha256.

    Remote artifacts go through a local cache keyed by digest ($GITREG_CACHE_DIR, else
    ~/.cache/gitreg), so a second download is local and works offline.

    \b
    Example:
      gitreg download models:/fraud-detector@champion ./model.pkl
      gitreg download models:/fraud-detector/Production ./model.pkl --force
    """
    view = open_view(ctx, ref, at)
    with progress(f"download {dest.name}", view.resolve(uri).artifact.size, quiet) as bar:
        mv = view.download(uri, dest, bar, cache=not no_cache, replace=force)
    click.echo(f"Downloaded {mv.name} v{mv.version} to {dest} ({mv.artifact.digest})")


@cli.command()
@click.option("--base", metavar="REF", help="Judge the change base...HEAD, as CI does.")
@click.option("--head", default="HEAD", show_default=True, metavar="REF", help="With --base.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "github", "json"]), default="text",
    help="With --base: github = ::error annotations plus $GITHUB_STEP_SUMMARY.",
)  # fmt: skip
@click.option("--no-verify-artifacts", is_flag=True, help="With --base: skip artifact gates' I/O.")
@click.option(
    "--pull-request", type=click.IntRange(min=1), metavar="N",
    help="With --base: the pull/merge request whose approvals count (default: from CI's env).",
)  # fmt: skip
@json_option
@click.pass_context
def check(
    ctx: click.Context, base: str | None, head: str, fmt: str, no_verify_artifacts: bool,
    pull_request: int | None, as_json: bool,
) -> None:  # fmt: skip
    """Validate every registry file; print each problem as path:line: message.

    With --base, judge a pull request: schema, immutable fields, numbering, file types,
    transitions and gates, all under the policy of the BASE commit.

    \b
    Example:
      gitreg check
      gitreg check --base origin/main --format github
      gitreg check --base origin/main --head origin/promote/m-v3-production
    """
    if base is not None:
        # only the pull-request path needs it
        from gitreg.cli.promotion import check_base  # noqa: PLC0415

        fmt = "json" if as_json else fmt
        check_base(ctx, base, head, fmt, not no_verify_artifacts, pull_request)
        return
    reg = open_view(ctx)
    problems = reg.check()
    if as_json:
        emit([{"path": p.path, "line": p.line, "message": p.message} for p in problems])
    else:
        for p in problems:
            click.echo(str(p))
        if not problems:
            click.echo("ok: every registry file is valid")
    if problems:
        ctx.exit(1)
