"""The click group, error handling and output helpers every command module shares.

Errors become one sentence on stderr: exit 1 for GitregError, 2 for usage, 3 for a bug
(details in a log file).
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from gitreg.errors import GitregError, UsageError
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.registry.view import RegistryView

if TYPE_CHECKING:
    from gitreg.registry import Registry

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """A library error, shown as one line with the error's own exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it a ClassVar

    def show(self, file: Any = None) -> None:
        click.echo(f"gitreg: error: {self.message}", err=True)


# command -> the module of gitreg.cli that defines it, imported when the command runs (a
# read command then never loads the write, artifact or promotion code)
COMMANDS = {
    **dict.fromkeys(["check", "download", "list", "resolve", "search", "show"], "read"),
    **dict.fromkeys(["alias", "delete", "describe", "init", "register"], "write"),
    **dict.fromkeys(["rename", "tag", "transition"], "write"),
    **dict.fromkeys(["events", "history", "notify"], "audit_trail"),
    **dict.fromkeys(["audit", "rollback"], "promotion"),
    **dict.fromkeys(["cache", "gc", "pin"], "serving"),
    "import-mlflow": "mlflow_import",
    "push": "share",
    "site": "site",
    "verify": "artifacts",
}


class Cli(click.Group):
    """Turns every library error into one sentence and an exit status."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            import importlib  # noqa: PLC0415 (command modules load on first use)

            importlib.import_module(f"gitreg.cli.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

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
            import tempfile  # noqa: PLC0415 (only a crash writes a log)

            fd, log = tempfile.mkstemp(prefix="gitreg-crash-", suffix=".log")
            with os.fdopen(fd, "w") as f:
                traceback.print_exc(file=f)
            raise Failure(
                f"internal error ({type(e).__name__}: {e}); details in {log}", 3
            ) from None


# verify's exit statuses: the first of MISMATCH, MISSING, ERROR present decides
EXIT = {"OK": 0, "MISMATCH": 1, "MISSING": 4, "ERROR": 5}
_PRECEDENCE = ("MISMATCH", "MISSING", "ERROR")


def exit_status(statuses: list[str]) -> int:
    """``verify``'s exit status for these per-version results (see ``cli.artifacts``)."""
    return next((EXIT[s] for s in _PRECEDENCE if s in statuses), 0)


def verification(rows: list[dict[str, Any]], as_json: bool) -> NoReturn:
    """Print ``verify``'s rows (name, version, status, detail) and exit with their status."""
    if as_json:
        emit(rows)
    else:
        table(
            ["NAME", "VERSION", "STATUS", "DETAIL"],
            [[r["name"], r["version"], r["status"], r["detail"]] for r in rows],
        )
    click.get_current_context().exit(exit_status([str(r["status"]) for r in rows]))


def fail(message: str) -> NoReturn:
    raise UsageError(message)


# --- shared options --------------------------------------------------------------------


def open_registry(ctx: click.Context) -> Registry:
    """The registry named by --repo / GITREG_REPO, for commands that write."""
    # the writes load on first use; reads start without them
    from gitreg.registry import Registry  # noqa: PLC0415

    return Registry(ctx.obj["repo"])


def open_view(ctx: click.Context, ref: str | None = None, at: str | None = None) -> RegistryView:
    """The registry for commands that read: now, or as of --ref / --at."""
    reg = RegistryView(ctx.obj["repo"])
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
    cells = [list(headers), *([("" if c is None else str(c)) for c in r] for r in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for i in range(0, len(cells), 4096):  # an echo a line took a second for 100,000
        lines = ("  ".join(map(str.ljust, r, widths)).rstrip() for r in cells[i : i + 4096])
        click.echo("\n".join(lines))


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


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    envvar="GITREG_REPO",
    default=".",
    metavar="PATH",
    show_default=True,
    help="The registry repository (or set GITREG_REPO).",
)
@click.version_option(package_name="gitreg-ml", message="gitreg %(version)s")
@click.pass_context
def cli(ctx: click.Context, repo: str) -> None:
    """gitreg: a model registry whose database is a git repository.

    Every change is a commit; `git log` is the audit trail.
    """
    ctx.obj = {"repo": repo}
