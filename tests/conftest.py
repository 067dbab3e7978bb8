"""Shared fixtures: an isolated git identity, and real repositories in temporary folders."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitreg import Registry
from gitreg.registry.template import init_registry

pytest_plugins = ["webhook_receiver"]  # its receiver fixture, for the webhook tests


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's git config, and every test commits as the same person."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    monkeypatch.delenv("GITREG_REPO", raising=False)
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)


def git(cwd: Path, *args: str) -> str:
    """Run real git in ``cwd`` and return its stdout."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=os.environ
    ).stdout


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    """A new registry (from the template) in a temporary folder."""
    init_registry(tmp_path / "reg")
    return Registry(tmp_path / "reg")


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    """A small model file to register."""
    p = tmp_path / "model.pkl"
    p.write_bytes(b"weights" * 1000)
    return p
