"""``gitreg import-mlflow``: move an MLflow model registry into this one (mlflow extra)."""

from __future__ import annotations

import click

from gitreg.cli.app import cli, emit, fail, json_option, open_registry


@cli.command("import-mlflow")
@click.option(
    "--from", "tracking_uri", required=True, metavar="URI", help="MLflow tracking URI to read."
)
@click.option(
    "--registry-uri", metavar="URI", help="MLflow registry URI, if not the tracking URI's."
)
@click.option("--models", default="*", show_default=True, help="Only models matching this glob.")
@json_option
@click.pass_context
def import_mlflow(
    ctx: click.Context, tracking_uri: str, registry_uri: str | None, models: str, as_json: bool
) -> None:
    """Import an MLflow registry's models, one commit per model (re-run: what is new).

    Versions keep their numbers, stages, aliases, tags, descriptions, run ids, sources,
    creation times and users; artifacts stay in place, with their digest computed.

    \b
    Example:
      gitreg import-mlflow --from sqlite:///mlflow.db --models 'fraud-*'
    """
    try:
        import mlflow  # noqa: F401
    except ImportError:
        fail("import-mlflow needs MLflow: pip install 'gitreg-ml[mlflow]'")
    from gitreg.mlflow.importer import import_mlflow as run_import

    report = run_import(open_registry(ctx), tracking_uri, models, registry_uri)
    if as_json:
        emit({"imported": report.imported, "updated": report.updated, "skipped": report.skipped})
        return
    for name, numbers in report.imported.items():
        click.echo(f"Imported {name}: versions {', '.join(map(str, numbers))}")
    for name in report.updated:
        click.echo(f"Updated {name}: aliases and tags")
    for name, why in report.skipped.items():
        click.echo(f"Skipped {name}: {why}", err=True)
    if not (report.imported or report.updated):
        click.echo("Nothing new to import")
