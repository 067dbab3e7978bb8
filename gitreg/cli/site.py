"""``gitreg site``: render the static browse site, and optionally serve it on 127.0.0.1."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import click

from gitreg.cli.app import as_of_options, cli, emit, fail, json_option, open_view


@cli.command()
@click.option(
    "--output", "-o", "out", required=True, metavar="DIR", help="The folder to render into."
)
@click.option("--commit-url", metavar="TEMPLATE", help="Commit link, with {sha} in it.")
@click.option("--pr-url", metavar="TEMPLATE", help="Pull request link, with {number} in it.")
@click.option("--serve", is_flag=True, help="Then serve DIR on http://127.0.0.1:PORT/.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@as_of_options
@json_option
@click.pass_context
def site(
    ctx: click.Context,
    out: str,
    commit_url: str | None,
    pr_url: str | None,
    serve: bool,
    port: int,
    ref: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Render a static HTML site to browse the registry (index, models, versions).

    Only pages whose bytes changed are rewritten. Commit and pull request links point
    at GitHub when gitreg.yaml has remote.repository, or wherever --commit-url and
    --pr-url say.

    \b
    Example:
      gitreg site -o public
      gitreg site -o public --serve --port 8080
      gitreg site -o public --commit-url 'https://git.example.com/r/commit/{sha}'
    """
    from gitreg.site import Links, build_site  # noqa: PLC0415 (only the site command renders)

    view = open_view(ctx, ref, at)
    links = None
    if commit_url or pr_url:
        base = Links.from_remote(view.config.remote)
        links = Links(commit=commit_url or base.commit, pull=pr_url or base.pull)
    t0 = time.perf_counter()
    report = build_site(view, out, links)
    seconds = time.perf_counter() - t0
    if as_json:
        emit({**report.to_dict(), "seconds": round(seconds, 3)})
    else:
        click.echo(
            f"{report.pages} pages in {Path(out)}: {len(report.written)} files written, "
            f"{report.unchanged} unchanged, {len(report.removed)} removed ({seconds:.2f} s)"
        )
    if serve:
        _serve(Path(out), port, quiet=as_json)


def _serve(root: Path, port: int, quiet: bool) -> None:
    import functools  # noqa: PLC0415 (only --serve needs it)
    import http.server  # noqa: PLC0415 (only --serve needs it)

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e:
        fail(f"cannot serve on 127.0.0.1:{port}: {e.strerror or e}")
    with server:
        if not quiet:
            click.echo(f"serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
