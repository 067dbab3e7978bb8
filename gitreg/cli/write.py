"""Commands that change the registry: each is one commit."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from gitreg.cli.app import (
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
from gitreg.cli.progress import progress, quiet_option, tree_size
from gitreg.cli.promotion import body_file_option
from gitreg.cli.share import apply, push_option, shared_json


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
    from gitreg.registry.template import init_registry  # noqa: PLC0415 (only init needs it)
    from gitreg.repo.git import Git  # noqa: PLC0415 (only init needs it)

    sha = init_registry(path, store=store)
    where = path.resolve()
    click.echo(f"Initialized gitreg registry in {where} ({sha[:12]})")
    git = Git(where)
    branch = git.current_branch() or "main"
    has_remote = bool(git.remotes())
    quoted = shlex.quote(str(where))
    steps = [f"cd {quoted}    # or: export GITREG_REPO={quoted}"]
    if not has_remote:
        steps.append("git remote add origin URL    # an empty repository on GitHub or GitLab")
    steps += [
        f"git push -u origin {branch}",
        "gitreg register MODEL ./model.pkl --metric val_auc=0.91    # your first version",
    ]
    click.echo("\nNext steps:\n" + "".join(f"  {s}\n" for s in steps), nl=False)
    click.echo(
        f"\nThen protect {branch} so Production arrives only through reviewed pull requests:\n"
        f'{where / "README.md"} says how ("Turn on branch protection"), and gitreg.yaml\n'
        "holds the stages, gates and artifact store."
    )


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
@quiet_option
@push_option
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
    quiet: bool,
    push: bool,
    as_json: bool,
) -> None:
    """Register ARTIFACT (a local file or folder, or an fsspec URI) as a new version of NAME.

    A local artifact is copied into the registry's artifact store; a URI is referenced in
    place. Its sha256 and size are recorded either way.

    \b
    Example:
      gitreg register fraud-detector ./model.pkl -m val_auc=0.91 -t owner=ml-team
    """
    lineage = {"run_id": run_id, "source_commit": source_commit, "data_version": data_version}
    # a local artifact is hashed, then sent: its bytes are counted twice
    total = 0 if "://" in artifact else 2 * tree_size(artifact)
    with progress(f"register {name}", total, quiet) as bar:
        mv, pushed = apply(ctx, push, lambda reg: reg.register(
            name,
            artifact,
            metrics=numbers(metric),
            params=pairs(param, "--param"),
            tags=pairs(tag, "--tag"),
            description=description,
            lineage={k: v for k, v in lineage.items() if v},
            progress=bar,
        ))  # fmt: skip
    if as_json:
        emit({**version_json(mv), **shared_json(ctx)})
    else:
        click.echo(f"Registered {mv.name} version {mv.version}{pushed}")


@cli.command()
@click.argument("name")
@click.argument("version")
@click.argument("stage")
@click.option("--archive-existing", is_flag=True, help="Archive the versions now in STAGE.")
@click.option(
    "--ignore-gates", is_flag=True, help="Pull-request stages: propose despite failing gates."
)
@click.option("--local", is_flag=True, help="Pull-request stages: make the branch; no push, no PR.")
@click.option(
    "-m", "--message", default="", metavar="TEXT",
    help="A note for reviewers: the commit body (and the pull request's body).",
)  # fmt: skip
@body_file_option
@push_option
@json_option
@click.pass_context
def transition(
    ctx: click.Context, name: str, version: str, stage: str, archive_existing: bool,
    ignore_gates: bool, local: bool, message: str, push: bool, as_json: bool,
) -> None:  # fmt: skip
    """Move version VERSION of NAME to STAGE, as gitreg.yaml's policy allows.

    A stage that policy sends through a pull request (Production, by default) is prepared
    on a branch promote/NAME-vN-STAGE from the default branch, after the gates are checked
    here; the branch is pushed and the pull request opened. Your checkout is untouched.

    \b
    Example:
      gitreg transition fraud-detector 3 Staging -m "Validated on the November holdout."
      gitreg transition fraud-detector 3 Production --body-file pr.md
    """
    reg = open_registry(ctx)
    # only transitions read the promotion rules
    from gitreg.promotion.plan import rule_for  # noqa: PLC0415

    if rule_for(reg, name, reg.config.canonical_stage(stage)).via == "pull_request":
        from gitreg.cli.promotion import propose  # noqa: PLC0415 (only promotions need it)

        propose(
            ctx, name, version, stage,
            ignore_gates=ignore_gates, local=local, as_json=as_json, message=message,
        )  # fmt: skip
        return
    before = reg.get_version(name, version).stage
    mv, pushed = apply(
        ctx,
        push,
        lambda r: r.transition(
            name, version, stage, archive_existing=archive_existing, message=message
        ),
    )
    if as_json:
        emit({**version_json(mv), **shared_json(ctx)})
    else:
        click.echo(f"{name} v{mv.version}: {before} -> {mv.stage}{pushed}")


@cli.group()
def alias() -> None:
    """Point an alias (champion, challenger ...) at a version, or remove it.

    \b
    Example:
      gitreg alias set fraud-detector champion 3
      gitreg alias delete fraud-detector challenger
    """


_LOCAL = "Protected aliases: make the branch; no push, no pull request."


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version")
@push_option
@click.option("--local", is_flag=True, help=_LOCAL)
@click.pass_context
def alias_set(
    ctx: click.Context, name: str, alias_name: str, version: str, push: bool, local: bool
) -> None:
    """Point ALIAS of NAME at VERSION.

    An alias gitreg.yaml protects ("@ALIAS" under promotion) with via: pull_request is
    moved on a new branch with a pull request, its gates judged first; main is untouched.

    \b
    Example:
      gitreg alias set fraud-detector champion 3
    """
    reg = open_registry(ctx)
    if reg.alias_protected(name, alias_name):
        # only the pull-request path needs it
        from gitreg.cli.promotion import check_command, show_proposal  # noqa: PLC0415

        p = reg.propose_alias(name, alias_name, version, push=not local)
        show_proposal(p, False, check_command(reg, p))
        return
    model, pushed = apply(ctx, push, lambda r: r.set_alias(name, alias_name, version))
    click.echo(f"{name}@{alias_name} -> v{model.aliases[alias_name]}{pushed}")


@alias.command("delete")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@push_option
@click.option("--local", is_flag=True, help=_LOCAL)
@click.pass_context
def alias_delete(ctx: click.Context, name: str, alias_name: str, push: bool, local: bool) -> None:
    """Remove ALIAS from NAME (a protected alias: through a pull request).

    \b
    Example:
      gitreg alias delete fraud-detector challenger
    """
    reg = open_registry(ctx)
    if reg.alias_protected(name, alias_name):
        # only the pull-request path needs it
        from gitreg.cli.promotion import check_command, show_proposal  # noqa: PLC0415

        p = reg.propose_alias(name, alias_name, None, push=not local)
        show_proposal(p, False, check_command(reg, p))
        return
    _, pushed = apply(ctx, push, lambda r: r.delete_alias(name, alias_name))
    click.echo(f"Deleted alias {name}@{alias_name}{pushed}")


@cli.group()
def tag() -> None:
    """Set or delete a tag on a model or one of its versions.

    \b
    Example:
      gitreg tag set fraud-detector team=risk
      gitreg tag delete fraud-detector validated --version 3
    """


@tag.command("set")
@click.argument("name")
@click.argument("assignment", metavar="KEY=VALUE")
@version_option
@push_option
@click.pass_context
def tag_set(
    ctx: click.Context, name: str, assignment: str, version: str | None, push: bool
) -> None:
    """Set tag KEY to VALUE on NAME (or on one version with --version).

    \b
    Example:
      gitreg tag set fraud-detector --version 3 validated=yes
    """
    [(key, value)] = pairs([assignment], "tag").items()
    _, pushed = apply(ctx, push, lambda r: r.set_tag(name, key, value, version))
    click.echo(f"Set tag {key} on {name}" + (f" v{version}" if version else "") + pushed)


@tag.command("delete")
@click.argument("name")
@click.argument("key")
@version_option
@push_option
@click.pass_context
def tag_delete(ctx: click.Context, name: str, key: str, version: str | None, push: bool) -> None:
    """Delete tag KEY from NAME (or from one version with --version).

    \b
    Example:
      gitreg tag delete fraud-detector --version 3 validated
    """
    _, pushed = apply(ctx, push, lambda r: r.delete_tag(name, key, version))
    click.echo(f"Deleted tag {key} from {name}" + (f" v{version}" if version else "") + pushed)


@cli.command()
@click.argument("name")
@click.argument("text")
@version_option
@push_option
@click.pass_context
def describe(ctx: click.Context, name: str, text: str, version: str | None, push: bool) -> None:
    """Set the Markdown description of NAME (or of one version). TEXT '-' reads stdin.

    \b
    Example:
      gitreg describe fraud-detector --version 3 "Retrained on October data."
    """
    if text == "-":
        text = sys.stdin.read()
    _, pushed = apply(ctx, push, lambda r: r.describe(name, text, version))
    click.echo(f"Updated the description of {name}" + (f" v{version}" if version else "") + pushed)


@cli.command()
@click.argument("old")
@click.argument("new")
@push_option
@click.pass_context
def rename(ctx: click.Context, old: str, new: str, push: bool) -> None:
    """Rename registered model OLD to NEW, with all its versions.

    \b
    Example:
      gitreg rename fraud-detector fraud-model
    """
    _, pushed = apply(ctx, push, lambda r: r.rename(old, new))
    click.echo(f"Renamed {old} to {new}{pushed}")


@cli.command()
@click.argument("name")
@version_option
@click.option("--yes", is_flag=True, help="Confirm the deletion.")
@push_option
@click.pass_context
def delete(ctx: click.Context, name: str, version: str | None, yes: bool, push: bool) -> None:
    """Delete a model, or one version. Numbers are never reused; git keeps the history.

    \b
    Example:
      gitreg delete fraud-detector --version 2 --yes
    """
    what = f"{name} v{version}" if version else name
    if not yes:
        fail(f"deleting {what} needs --yes")
    _, pushed = apply(
        ctx, push, lambda r: r.delete_version(name, version) if version else r.delete_model(name)
    )
    click.echo(f"Deleted {what}{pushed}")
