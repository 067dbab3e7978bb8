"""The command line: parse, call the library, print, pick the exit status.

The only module that imports click and the only one that prints. Errors become one
sentence on stderr: exit 1 for GitregError, 2 for usage, 3 for a bug (details in a log).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from gitreg.errors import GitregError, UsageError
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.registry import Registry

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """A library error, shown as one line with the error's own exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it a ClassVar

    def show(self, file: Any = None) -> None:
        click.echo(f"gitreg: error: {self.message}", err=True)


class Cli(click.Group):
    """Turns every library error into one sentence and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GitregError as e:
            raise Failure(str(e), e.exit_code) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise Failure("interrupted", 130) from None
        except Exception as e:
            fd, log = tempfile.mkstemp(prefix="gitreg-crash-", suffix=".log")
            with os.fdopen(fd, "w") as f:
                traceback.print_exc(file=f)
            raise Failure(
                f"internal error ({type(e).__name__}: {e}); details in {log}", 3
            ) from None


def fail(message: str) -> NoReturn:
    raise UsageError(message)


# --- shared options --------------------------------------------------------------------


def open_registry(ctx: click.Context, ref: str | None = None, at: str | None = None) -> Registry:
    reg = Registry(ctx.obj["repo"])
    return reg.at(ref=ref, date=at) if (ref or at) else reg


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def as_of_options(f: F) -> F:
    f = click.option(
        "--at", metavar="DATE", help="Answer as of a date (YYYY-MM-DD, end of day UTC) or time."
    )(f)
    return click.option("--ref", metavar="REF", help="Answer as of a git commit, branch or tag.")(f)


def version_option(f: F) -> F:
    return click.option(
        "--version", "-v", "version", metavar="N", help="Act on version N instead of the model."
    )(f)


def pairs(values: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{what} {item!r} must look like KEY=VALUE")
        out[key] = value
    return out


def numbers(values: Sequence[str]) -> dict[str, float]:
    out = {}
    for key, value in pairs(values, "--metric").items():
        try:
            out[key] = float(value) if any(c in value.lower() for c in ".en") else int(value)
        except ValueError:
            fail(f"--metric {key}={value}: {value!r} is not a number")
    return out


def emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for r in [list(headers), *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def aliases_of(model: RegisteredModel) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for alias, v in sorted(model.aliases.items()):
        out.setdefault(v, []).append(alias)
    return out


def version_json(mv: ModelVersion, aliases: Sequence[str] = ()) -> dict[str, Any]:
    return {**mv.to_dict(), "aliases": list(aliases)}


def brief(text: str, width: int = 50) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


# --- commands --------------------------------------------------------------------------


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    envvar="GITREG_REPO",
    default=".",
    metavar="PATH",
    show_default=True,
    help="The registry repository (or set GITREG_REPO).",
)
@click.version_option(package_name="gitreg", message="gitreg %(version)s")
@click.pass_context
def cli(ctx: click.Context, repo: str) -> None:
    """gitreg: a model registry whose database is a git repository.

    Every change is a commit; `git log` is the audit trail.
    """
    ctx.obj = {"repo": repo}


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
    reg = open_registry(ctx, ref, at)
    models = reg.list_models()
    if as_json:
        emit([m.to_dict() for m in models])
        return
    rows = []
    for m in models:
        latest = reg.latest_versions(m.name)
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
    reg = open_registry(ctx, ref, at)
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

    Beyond MLflow: stage, metrics.K, params.K, aliases, OR and parentheses.

    \b
    Example:
      gitreg search "name LIKE 'fraud%' AND metrics.val_auc > 0.9" --order-by "version_number DESC"
    """
    reg = open_registry(ctx, ref, at)
    if models:
        found = reg.search_models(filter_string, order_by, max_results)
        if as_json:
            emit([m.to_dict() for m in found])
        else:
            table(
                ["NAME", "VERSIONS", "DESCRIPTION"],
                [[m.name, m.last_version, brief(m.description)] for m in found],
            )
        return
    versions = reg.search_versions(filter_string, order_by, max_results)
    aliases = {m: aliases_of(reg.get_model(m)) for m in {v.name for v in versions}}
    if as_json:
        emit([version_json(v, aliases[v.name].get(v.version, [])) for v in versions])
        return
    table(
        ["NAME", "VERSION", "STAGE", "ALIASES", "CREATED", "RUN"],
        [
            [
                v.name,
                v.version,
                v.stage,
                ",".join(aliases[v.name].get(v.version, [])),
                v.created_at,
                v.lineage.get("run_id", ""),
            ]
            for v in versions
        ],
    )


@cli.command()
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
    reg = open_registry(ctx, ref, at)
    mv = reg.resolve(uri)
    if as_json:
        emit(version_json(mv, aliases_of(reg.get_model(mv.name)).get(mv.version, [])))
    else:
        click.echo(mv.artifact.uri)


@cli.command()
@click.argument("uri")
@click.argument("dest", type=click.Path(path_type=Path))
@as_of_options
@click.pass_context
def download(ctx: click.Context, uri: str, dest: Path, ref: str | None, at: str | None) -> None:
    """Copy a version's artifact to DEST, verifying its size and sha256.

    \b
    Example:
      gitreg download models:/fraud-detector@champion ./model.pkl
    """
    mv = open_registry(ctx, ref, at).download(uri, dest)
    click.echo(f"Downloaded {mv.name} v{mv.version} to {dest} ({mv.artifact.digest})")


@cli.command()
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Validate every registry file; print each problem as path:line: message.

    \b
    Example:
      gitreg check
    """
    reg = open_registry(ctx)
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


def main() -> None:
    cli(prog_name="gitreg")
