"""``gitreg init`` ends with the next steps, and following them (with a bare repository on
disk standing in for GitHub) shares the registry."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import git

from gitreg.cli import cli


def steps_of(output: str) -> list[str]:
    """The commands under "Next steps:", without their comments."""
    block = output.split("Next steps:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split("    #", 1)[0].strip() for line in block.splitlines()]


def test_init_prints_the_next_steps(tmp_path: Path) -> None:
    path = tmp_path / "ml registry"
    result = CliRunner().invoke(cli, ["init", str(path)])
    assert result.exit_code == 0, result.output
    quoted = shlex.quote(str(path))
    assert steps_of(result.stdout) == [
        f"cd {quoted}",
        "git remote add origin URL",
        "git push -u origin main",
        "gitreg register MODEL ./model.pkl --metric val_auc=0.91",
    ]
    assert f"or: export GITREG_REPO={quoted}" in result.stdout
    assert f'{path / "README.md"} says how ("Turn on branch protection")' in result.stdout
    assert "### Turn on branch protection" in (path / "README.md").read_text()


def test_following_the_steps_shares_the_registry(tmp_path: Path) -> None:
    """Run the printed git steps in a shell, URL replaced by a bare remote on disk."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    proc = subprocess.run(
        [sys.executable, "-m", "gitreg", "init", str(tmp_path / "reg")],
        capture_output=True,
        text=True,
        check=True,
    )
    commands = [s.replace(" URL", f" {shlex.quote(str(bare))}") for s in steps_of(proc.stdout)]
    script = " && ".join(c for c in commands if not c.startswith("gitreg "))
    subprocess.run(["sh", "-c", script], check=True, env=os.environ, capture_output=True)
    assert git(bare, "rev-parse", "main") == git(tmp_path / "reg", "rev-parse", "HEAD")


def test_a_repository_with_a_remote_is_not_told_to_add_one(tmp_path: Path) -> None:
    path = tmp_path / "reg"
    path.mkdir()
    git(path, "init", "-q", "-b", "trunk")
    git(path, "remote", "add", "origin", str(tmp_path / "elsewhere.git"))
    result = CliRunner().invoke(cli, ["init", str(path)])
    assert result.exit_code == 0, result.output
    steps = steps_of(result.stdout)
    assert "git push -u origin trunk" in steps
    assert not [s for s in steps if s.startswith("git remote add")]
