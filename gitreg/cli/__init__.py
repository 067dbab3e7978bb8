"""The command line: the only package that imports click, and the only code that prints.

Each module holds a family of commands on the shared ``cli`` group; ``_base.COMMANDS``
says which, and the group imports a module when one of its commands runs.
"""

from gitreg.cli.app import cli


def main() -> None:
    cli(prog_name="gitreg")


__all__ = ["cli", "main"]
