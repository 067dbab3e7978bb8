"""``gitreg verify``: are the bytes behind versions still the ones their manifests name?

Exit status: 0 every artifact OK, 1 a MISMATCH (bytes or size differ), 4 a MISSING
artifact, 5 an ERROR (the store could not be asked: unreachable, denied ...). With several
versions the first of MISMATCH, MISSING, ERROR present decides: wrong bytes are the worst
news. A models:/ URI that does not resolve is an ordinary error (1, one sentence).
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from gitreg.cli.app import (
    as_of_options,
    cli,
    fail,
    json_option,
    open_view,
    verification,
)
from gitreg.cli.progress import progress, quiet_option
from gitreg.cli.serving import lock_verify
from gitreg.errors import GitregError
from gitreg.manifest import ModelVersion
from gitreg.registry import RegistryView


def _versions(view: RegistryView, uris: tuple[str, ...], every: bool) -> Iterator[ModelVersion]:
    if every:
        for model in view.list_models():
            yield from view.versions(model.name)
    else:
        for uri in uris:
            yield view.resolve(uri)


@cli.command()
@lock_verify
@click.argument("uris", nargs=-1, metavar="[URI]...")
@click.option("--all", "every", is_flag=True, help="Check every version of every model.")
@as_of_options
@quiet_option
@json_option
@click.pass_context
def verify(
    ctx: click.Context,
    uris: tuple[str, ...],
    every: bool,
    ref: str | None,
    at: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Check versions' artifacts against their manifests: size first, then sha256.

    Prints NAME VERSION STATUS DETAIL per version. Exit status: 0 all OK, 1 MISMATCH,
    4 MISSING, 5 ERROR (store unreachable); with several, MISMATCH beats MISSING beats ERROR.

    \b
    Example:
      gitreg verify models:/fraud-detector/Production
      gitreg verify --all --json
    """
    if every == bool(uris):
        fail("name versions to verify (models:/NAME/VERSION ...) or pass --all, not both")
    view = open_view(ctx, ref, at)
    rows = []
    for mv in _versions(view, uris, every):
        try:
            label = f"verify {mv.name} v{mv.version}"
            with progress(label, mv.artifact.size, quiet) as bar:
                status, detail = view.verify(mv, bar)
        except GitregError as e:
            status, detail = "ERROR", str(e)
        from gitreg.store import redact  # noqa: PLC0415 (fsspec loads only when bytes move)

        uri = redact(mv.artifact.uri)
        rows.append(
            {"name": mv.name, "version": mv.version, "uri": uri, "status": status, "detail": detail}
        )
    verification(rows, as_json)
