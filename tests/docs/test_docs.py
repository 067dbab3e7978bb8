"""The CLI documents itself and the README keeps up: every command and subcommand has an
``Example:`` in its ``--help``, every command appears in the README, and ``--version``
names the installed distribution (``gitreg-ml``)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gitreg.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found = []
    for name in sorted(cli.list_commands(ctx)):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        found.append((name, cmd))
        if isinstance(cmd, click.Group):
            found += [(f"{name} {s}", cmd.get_command(ctx, s)) for s in cmd.list_commands(ctx)]
    return found


@pytest.mark.parametrize(("name", "cmd"), commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_has_an_example(name: str, cmd: click.Command) -> None:
    out = CliRunner().invoke(cli, [*name.split(), "--help"]).output
    assert "Example" in out, f"gitreg {name} --help shows no example"
    assert f"gitreg {name}" in out.split("Example", 1)[1], f"gitreg {name}'s example is not of it"


@pytest.mark.parametrize("name", [n for n, _ in commands() if " " not in n])
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"gitreg {name}" in README, f"the README never shows 'gitreg {name}'"


def test_version_names_the_distribution() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("gitreg "), result.output


def test_the_tours_check_names_the_branch_transition_made() -> None:
    """The tour's `check --base` after a Production transition must judge that branch: the
    checkout is untouched, so without --head it would judge nothing (issue 16)."""
    from gitreg.promotion.propose import branch_name

    tour = README.split("## A tour", 1)[1].split("\n## ", 1)[0].splitlines()
    [at] = [i for i, line in enumerate(tour) if "gitreg transition card-fraud 1 Production" in line]
    command = tour[at + 1].split("#")[0].strip()
    branch = branch_name("card-fraud", 1, "Production")
    assert command == f"gitreg check --base origin/main --head origin/{branch}"
