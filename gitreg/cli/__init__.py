"""The command line: the only package that imports click, and the only code that prints.

Each module holds a family of commands on the shared ``cli`` group; importing them here
registers them.
"""

from gitreg.cli import artifacts, audit_trail, mlflow_import, promotion, read, share, site, write  # noqa: F401  (registers the commands)
from gitreg.cli._base import cli


def main() -> None:
    cli(prog_name="gitreg")


__all__ = ["cli", "main"]
