"""Commands for serving without the registry: ``pin`` (write a lock file), ``cache ls|prune``,
and the ``--lock`` / ``--api`` options that ``download``, ``verify`` and ``resolve`` take.

Those options are decorators (``lock_download``, ``lock_verify``, ``api_resolve``) so the
commands' own modules change by one line each; with the option absent the command runs
exactly as before. Nothing heavy is imported here at module level: ``resolve`` loads this.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gitreg.cli.app import (
    as_of_options,
    cli,
    emit,
    fail,
    json_option,
    open_registry,
    open_view,
    table,
    verification,
    version_json,
)
from gitreg.errors import GitregError

F = TypeVar("F", bound=Callable[..., Any])


def _optional_arguments(f: Callable[..., Any]) -> None:
    for p in getattr(f, "__click_params__", []):
        if isinstance(p, click.Argument):
            p.required = False


def _no_past(kw: dict[str, Any], option: str) -> None:
    if kw.get("ref") or kw.get("at"):
        fail(f"{option} answers as its file or site says; --ref and --at do not apply")


# --- download --lock ------------------------------------------------------------------------


def lock_download(f: F) -> F:
    """``download --lock FILE DIR``: fetch every version the lock pins into DIR."""
    _optional_arguments(f)

    @functools.wraps(f)
    def wrapper(*args: Any, lock: str | None, **kw: Any) -> Any:
        if lock is None:
            if kw.get("uri") is None or kw.get("dest") is None:
                fail("name a models:/ URI and a destination (or use --lock FILE DIR)")
            return f(*args, **kw)
        if kw.get("uri") is None or kw.get("dest") is not None:
            fail("with --lock, name one folder: gitreg download --lock models.lock DIR")
        _no_past(kw, "--lock")
        if kw.get("force"):
            fail("--lock never overwrites: fetch into a new or empty folder")
        fetch_into(lock, Path(kw["uri"]), cache=not kw.get("no_cache"), quiet=kw.get("quiet"))
        return None

    wrapper.__doc__ = (f.__doc__ or "") + (
        "\n    With --lock FILE, the only argument is a folder: every version the lock pins"
        "\n    is fetched into DIR/NAME/VERSION/, verified, with no registry needed.\n"
        "\n    \b\n      gitreg download --lock models.lock /srv/models\n"
    )
    option = click.option(
        "--lock", metavar="FILE", help="Fetch what a lock file (gitreg pin) pins into one folder."
    )
    return option(wrapper)  # type: ignore[return-value]


def fetch_into(lock_file: str, folder: Path, *, cache: bool, quiet: bool | None) -> None:
    from gitreg.cli.progress import progress  # noqa: PLC0415 (module docstring)
    from gitreg.store.lockfile import fetch_lock, load_lock  # noqa: PLC0415 (module docstring)

    lock = load_lock(lock_file)
    total = sum(e.artifact.size for e in lock.entries)
    with progress(f"download {folder.name}", total, bool(quiet)) as bar:
        paths = fetch_lock(lock, folder, cache=cache, progress=bar)
    for e in lock.entries:
        click.echo(f"{e.resolved_from}: {e.name} v{e.version} -> {paths[e.resolved_from]}")
    click.echo(f"Fetched {len(lock.entries)} pinned versions into {folder}")


# --- verify --lock --------------------------------------------------------------------------


def lock_verify(f: F) -> F:
    """``verify --lock FILE [DIR]``: the pinned artifacts in their store, or the copies in
    DIR that ``download --lock`` made."""

    @functools.wraps(f)
    def wrapper(*args: Any, lock: str | None, **kw: Any) -> Any:
        if lock is None:
            return f(*args, **kw)
        uris = kw.get("uris") or ()
        if kw.get("every") or len(uris) > 1:
            fail("with --lock, name at most one folder (filled by download --lock)")
        _no_past(kw, "--lock")
        verify_locked(lock, uris[0] if uris else None, bool(kw.get("as_json")))
        return None

    wrapper.__doc__ = (f.__doc__ or "") + (
        "\n    With --lock FILE: check what the lock pins, in the store, or in the folder DIR"
        "\n    that download --lock filled.\n"
        "\n    \b\n      gitreg verify --lock models.lock /srv/models\n"
    )
    option = click.option("--lock", metavar="FILE", help="Check the versions a lock file pins.")
    return option(wrapper)  # type: ignore[return-value]


def verify_locked(lock_file: str, folder: str | None, as_json: bool) -> None:
    from gitreg.store import redact  # noqa: PLC0415 (fsspec loads only when bytes move)
    from gitreg.store.lockfile import load_lock, verify_lock  # noqa: PLC0415 (module docstring)

    lock = load_lock(lock_file)
    rows = [
        {
            "uri": e.resolved_from,
            "name": e.name,
            "version": e.version,
            "artifact": redact(e.artifact.uri),
            "status": v.status,
            "detail": v.detail,
        }
        for e, v in verify_lock(lock, folder)
    ]
    verification(rows, as_json)


# --- resolve --api --------------------------------------------------------------------------


def api_resolve(f: F) -> F:
    """``resolve --api URL``: answer from a site's static API instead of the repository."""

    @functools.wraps(f)
    def wrapper(*args: Any, api: str | None, **kw: Any) -> Any:
        if api is None:
            return f(*args, **kw)
        _no_past(kw, "--api")
        from gitreg.serving.client import StaticAPI  # noqa: PLC0415 (module docstring)

        mv, aliases = StaticAPI(api).resolve_with_aliases(kw["uri"])
        if kw.get("as_json"):
            emit(version_json(mv, aliases))
        else:
            click.echo(mv.artifact.uri)
        return None

    wrapper.__doc__ = (f.__doc__ or "") + (
        "\n    With --api URL: resolve from the JSON API `gitreg site` published there.\n"
        "\n    \b\n      gitreg resolve --api https://registry.example.com models:/fraud@champion\n"
    )
    option = click.option(
        "--api", metavar="URL", help="Resolve through a published site's api/v1/ (no git)."
    )
    return option(wrapper)  # type: ignore[return-value]


# --- pin ------------------------------------------------------------------------------------


@cli.command()
@click.argument("uris", nargs=-1, metavar="[URI]...")
@click.option(
    "--output", "-o", "out", default="models.lock", show_default=True, metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path), help="The lock file to write.",
)  # fmt: skip
@click.option("--update", is_flag=True, help="Re-resolve every URI the lock already pins.")
@click.option("--api", metavar="URL", help="Resolve through a published site's api/v1/.")
@as_of_options
@json_option
@click.pass_context
def pin(
    ctx: click.Context, uris: tuple[str, ...], out: Path, update: bool, api: str | None,
    ref: str | None, at: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Pin models:/ URIs to exact versions and artifacts in a lock file.

    The lock records, per URI, the version, artifact URI, digest, size, file listing and
    registry commit, sorted and canonical so it diffs well. `download --lock` fetches
    exactly those with no registry; `verify --lock` checks them. Prints what moved.

    \b
    Example:
      gitreg pin models:/fraud-detector@champion models:/ranker/Production -o models.lock
      gitreg pin --update -o models.lock
    """

    from gitreg.serving.pin import moves  # noqa: PLC0415 (module docstring)
    from gitreg.store.lockfile import Lock, load_lock, write_lock  # noqa: PLC0415 (module docstring)

    if update and not os.path.lexists(out):
        fail(f"nothing to update: {out} does not exist (pin some URIs first)")
    try:
        old = load_lock(out) if os.path.lexists(out) else Lock()
    except GitregError:
        if update:
            raise
        old = Lock()  # replaced wholesale: a broken lock must not stop a fresh pin
    wanted = [*(e.resolved_from for e in old.entries if update), *uris]
    if not wanted:
        fail("name models:/ URIs to pin, or pass --update to re-resolve a lock")
    if api is not None:
        _no_past({"ref": ref, "at": at}, "--api")
        from gitreg.serving.client import StaticAPI  # noqa: PLC0415 (module docstring)

        new = StaticAPI(api).pin(wanted)
    else:
        from gitreg.serving.pin import pin as pin_view  # noqa: PLC0415 (module docstring)

        new = pin_view(open_view(ctx, ref or "HEAD", at), wanted)
    write_lock(new, out)
    changes = moves(old, new)
    if as_json:
        emit({"lock": str(out), "moves": [m.to_dict() for m in changes]})
        return
    for m in changes:
        click.echo(str(m))
    commits = sorted({e.commit[:12] for e in new.entries})
    click.echo(f"Wrote {out}: {len(new.entries)} pinned at {', '.join(commits)}")


# --- cache ----------------------------------------------------------------------------------


@cli.group()
def cache() -> None:
    """The local artifact cache ($GITREG_CACHE_DIR, bounded by $GITREG_CACHE_MAX).

    \b
    Example:
      gitreg cache ls
      gitreg cache prune --max 20G
    """


def _human(n: int) -> str:
    """Bytes for people: 512 B, 3.4 MB, 1.2 GB."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@cache.command("ls")
@json_option
def cache_ls(as_json: bool) -> None:
    """List cache entries, least recently used first, with any problem found.

    \b
    Example:
      gitreg cache ls --json
    """
    from gitreg.store.cache_admin import entries  # noqa: PLC0415 (module docstring)
    from gitreg.store.cache_root import cache_dir, cache_max  # noqa: PLC0415 (module docstring)

    found = entries()
    total = sum(e.size for e in found)
    if as_json:
        emit({"dir": str(cache_dir()), "max": cache_max(), "total": total,
              "entries": [e.to_dict() for e in found]})  # fmt: skip
        return
    table(
        ["DIGEST", "KIND", "SIZE", "LAST USED", "PROBLEM"],
        [
            [
                e.digest[:19],
                e.kind,
                _human(e.size),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used)),
                e.problem,
            ]
            for e in found
        ],
    )
    bound = cache_max()
    limit = f" of {_human(bound)}" if bound is not None else ""
    click.echo(f"{len(found)} entries, {_human(total)}{limit} in {cache_dir()}")


@cache.command("prune")
@click.option("--max", "max_size", metavar="SIZE", help="Evict LRU entries down to SIZE (10G).")
@click.option("--all", "everything", is_flag=True, help="Remove every entry.")
@json_option
def cache_prune(max_size: str | None, everything: bool, as_json: bool) -> None:
    """Drop damaged, linked or foreign entries and stale staging; then evict the least
    recently used entries down to --max (default $GITREG_CACHE_MAX), or all with --all.

    \b
    Example:
      gitreg cache prune --max 20G
    """
    from gitreg.store.cache_admin import entries, prune  # noqa: PLC0415 (module docstring)
    from gitreg.store.cache_root import cache_max, parse_size  # noqa: PLC0415 (module docstring)

    bound = parse_size(max_size, "--max") if max_size is not None else cache_max()
    dropped = prune(max_bytes=bound, everything=everything)
    left = sum(e.size for e in entries())
    if as_json:
        emit({"removed": [e.to_dict() for e in dropped], "total": left})
        return
    for e in dropped:
        click.echo(f"removed {e.digest} ({_human(e.size)}){': ' + e.problem if e.problem else ''}")
    click.echo(f"Removed {len(dropped)} entries; the cache holds {_human(left)}")


# --- gc -------------------------------------------------------------------------------------


@cli.command()
@click.option("--store", "store_", is_flag=True,
              help="Collect the artifact store (the only collection gitreg does).")  # fmt: skip
@click.option("--delete", is_flag=True, help="Delete the orphans (default: only list them).")
@click.option("--grace", default="24h", show_default=True, metavar="DURATION",
              help="Keep anything modified this recently (30m, 24h, 7d).")  # fmt: skip
@json_option
@click.pass_context
def gc(ctx: click.Context, store_: bool, delete: bool, grace: str, as_json: bool) -> None:
    """List (or with --delete, remove) store objects that no version references.

    Never touches an object referenced by any commit on any branch, tag or remote branch
    (so --ref and --at keep working), one younger than --grace (an upload in flight), or
    anything outside gitreg's layout. A dry run unless --delete.

    \b
    Example:
      gitreg gc --store
      gitreg gc --store --delete --grace 7d
    """

    from gitreg.registry.store_gc import collect  # noqa: PLC0415 (module docstring)
    from gitreg.store.gc import parse_duration  # noqa: PLC0415 (module docstring)

    if not store_:
        fail("say what to collect: gitreg gc --store (git's own objects are git gc's job)")
    seconds = parse_duration(grace)
    found = collect(open_registry(ctx), seconds, delete=delete)
    if as_json:
        emit({"deleted": delete, "objects": [o.to_dict() for o in found]})
        return
    counts: dict[str, int] = {}
    for o in found:
        counts[o.status] = counts.get(o.status, 0) + 1
        if o.status == "orphan":
            click.echo(f"{'deleted' if delete else 'would delete'} {o.to_dict()['uri']} "
                       f"({_human(o.size)})")  # fmt: skip
        elif o.status != "referenced":
            click.echo(f"kept ({o.status}) {o.to_dict()['uri']}")
    freed = sum(o.size for o in found if o.status == "orphan")
    verb = "deleted" if delete else "to delete (dry run: pass --delete)"
    kept = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("referenced", "young", "unknown"))
    click.echo(f"{counts.get('orphan', 0)} orphans, {_human(freed)} {verb}; kept {kept}")
