"""Commands that change the registry: each is one commit."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gitreg.cli._base import (
    cli,
    emit,
    fail,
    json_option,
    numbers,
    open_registry,
    pairs,
    version_json,
    version_option,
)


@cli.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--store", metavar="URI", help="Artifact store (default file://../registry-artifacts)."
)
def init(path: Path, store: str | None) -> None:
    """Create a new registry repository at PATH.

    \b
    Example:
      gitreg init ./ml-registry
    """
    from gitreg.template import init_registry

    sha = init_registry(path, store=store)
    click.echo(f"Initialized gitreg registry in {path.resolve()} ({sha[:12]})")


@cli.command()
@click.argument("name")
@click.argument("artifact")
@click.option(
    "--metric", "-m", multiple=True, metavar="K=V", help="A training metric (repeatable)."
)
@click.option(
    "--param", "-p", multiple=True, metavar="K=V", help="A training parameter (repeatable)."
)
@click.option("--tag", "-t", multiple=True, metavar="K=V", help="A tag (repeatable).")
@click.option("--description", "-d", default="", help="Markdown description of the version.")
@click.option("--run-id", help="The training run's id (lineage).")
@click.option("--source-commit", help="The git commit the model was trained from (lineage).")
@click.option("--data-version", help="The training data's version (lineage).")
@json_option
@click.pass_context
def register(
    ctx: click.Context,
    name: str,
    artifact: str,
    metric: tuple[str, ...],
    param: tuple[str, ...],
    tag: tuple[str, ...],
    description: str,
    run_id: str | None,
    source_commit: str | None,
    data_version: str | None,
    as_json: bool,
) -> None:
    """Register ARTIFACT (a local file or folder, or an fsspec URI) as a new version of NAME.

    A local artifact is copied into the registry's artifact store; a URI is referenced in
    place. Its sha256 and size are recorded either way.

    \b
    Example:
      gitreg register fraud-detector ./model.pkl -m val_auc=0.91 -t owner=ml-team
    """
    reg = open_registry(ctx)
    lineage = {"run_id": run_id, "source_commit": source_commit, "data_version": data_version}
    mv = reg.register(
        name,
        artifact,
        metrics=numbers(metric),
        params=pairs(param, "--param"),
        tags=pairs(tag, "--tag"),
        description=description,
        lineage={k: v for k, v in lineage.items() if v},
    )
    if as_json:
        emit(version_json(mv))
    else:
        click.echo(f"Registered {mv.name} version {mv.version}")


@cli.command()
@click.argument("name")
@click.argument("version")
@click.argument("stage")
@click.option("--archive-existing", is_flag=True, help="Archive the versions now in STAGE.")
@json_option
@click.pass_context
def transition(
    ctx: click.Context, name: str, version: str, stage: str, archive_existing: bool, as_json: bool
) -> None:
    """Move version VERSION of NAME to STAGE, as gitreg.yaml's policy allows.

    \b
    Example:
      gitreg transition fraud-detector 3 Staging
    """
    before = open_registry(ctx).get_version(name, version).stage
    mv = open_registry(ctx).transition(name, version, stage, archive_existing=archive_existing)
    if as_json:
        emit(version_json(mv))
    else:
        click.echo(f"{name} v{mv.version}: {before} -> {mv.stage}")


@cli.group()
def alias() -> None:
    """Point an alias (champion, challenger ...) at a version, or remove it."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version")
@click.pass_context
def alias_set(ctx: click.Context, name: str, alias_name: str, version: str) -> None:
    """Point ALIAS of NAME at VERSION.

    \b
    Example:
      gitreg alias set fraud-detector champion 3
    """
    model = open_registry(ctx).set_alias(name, alias_name, version)
    click.echo(f"{name}@{alias_name} -> v{model.aliases[alias_name]}")


@alias.command("delete")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.pass_context
def alias_delete(ctx: click.Context, name: str, alias_name: str) -> None:
    """Remove ALIAS from NAME.

    \b
    Example:
      gitreg alias delete fraud-detector challenger
    """
    open_registry(ctx).delete_alias(name, alias_name)
    click.echo(f"Deleted alias {name}@{alias_name}")


@cli.group()
def tag() -> None:
    """Set or delete a tag on a model or one of its versions."""


@tag.command("set")
@click.argument("name")
@click.argument("assignment", metavar="KEY=VALUE")
@version_option
@click.pass_context
def tag_set(ctx: click.Context, name: str, assignment: str, version: str | None) -> None:
    """Set tag KEY to VALUE on NAME (or on one version with --version).

    \b
    Example:
      gitreg tag set fraud-detector --version 3 validated=yes
    """
    [(key, value)] = pairs([assignment], "tag").items()
    open_registry(ctx).set_tag(name, key, value, version)
    click.echo(f"Set tag {key} on {name}" + (f" v{version}" if version else ""))


@tag.command("delete")
@click.argument("name")
@click.argument("key")
@version_option
@click.pass_context
def tag_delete(ctx: click.Context, name: str, key: str, version: str | None) -> None:
    """Delete tag KEY from NAME (or from one version with --version).

    \b
    Example:
      gitreg tag delete fraud-detector --version 3 validated
    """
    open_registry(ctx).delete_tag(name, key, version)
    click.echo(f"Deleted tag {key} from {name}" + (f" v{version}" if version else ""))


@cli.command()
@click.argument("name")
@click.argument("text")
@version_option
@click.pass_context
def describe(ctx: click.Context, name: str, text: str, version: str | None) -> None:
    """Set the Markdown description of NAME (or of one version). TEXT '-' reads stdin.

    \b
    Example:
      gitreg describe fraud-detector --version 3 "Retrained on October data."
    """
    if text == "-":
        text = sys.stdin.read()
    open_registry(ctx).describe(name, text, version)
    click.echo(f"Updated the description of {name}" + (f" v{version}" if version else ""))


@cli.command()
@click.argument("old")
@click.argument("new")
@click.pass_context
def rename(ctx: click.Context, old: str, new: str) -> None:
    """Rename registered model OLD to NEW, with all its versions.

    \b
    Example:
      gitreg rename fraud-detector fraud-model
    """
    open_registry(ctx).rename(old, new)
    click.echo(f"Renamed {old} to {new}")


@cli.command()
@click.argument("name")
@version_option
@click.option("--yes", is_flag=True, help="Confirm the deletion.")
@click.pass_context
def delete(ctx: click.Context, name: str, version: str | None, yes: bool) -> None:
    """Delete a model, or one version. Numbers are never reused; git keeps the history.

    \b
    Example:
      gitreg delete fraud-detector --version 2 --yes
    """
    what = f"{name} v{version}" if version else name
    if not yes:
        fail(f"deleting {what} needs --yes")
    reg = open_registry(ctx)
    if version:
        reg.delete_version(name, version)
    else:
        reg.delete_model(name)
    click.echo(f"Deleted {what}")
