"""Workflow hygiene: every checkout drops its credentials, and the linters ``make lint`` runs
(zizmor offline, check-jsonschema's vendored GitHub and GitLab schemas) pass on this
repository's and the template's workflows and catch what they should."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted(
    [*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob("registry-template/.github/workflows/*.yml")]
)
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The dev extra's linter beside this interpreter (the Makefile's $(BIN)), else PATH."""
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return str(found)


def checkouts(path: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    steps = [s for job in doc["jobs"].values() for s in job.get("steps", [])]
    return [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_checkout_sets_persist_credentials_false(path: Path) -> None:
    for step in checkouts(path):
        assert (step.get("with") or {}).get("persist-credentials") is False, step


def test_zizmor_offline_passes_and_catches_a_persisted_credential(tmp_path: Path) -> None:
    files = [str(p) for p in WORKFLOWS] + [str(ROOT / "action.yml")]
    ok = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--quiet", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / ".github" / "workflows" / "registry.yml"
    bad.parent.mkdir(parents=True)
    source = (ROOT / "registry-template/.github/workflows/registry.yml").read_text()
    dropped = [line for line in source.splitlines() if "persist-credentials: false" not in line]
    bad.write_text("\n".join(dropped) + "\n")  # the checkouts as they were before the fix
    found = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--quiet", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode != 0 and "artipacked" in found.stdout, found.stdout


@pytest.mark.parametrize(
    ("schema", "paths"),
    [
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.github-actions", [ROOT / "action.yml"]),
        ("vendor.gitlab-ci", [ROOT / "registry-template/.gitlab-ci.yml"]),
    ],
)
def test_the_workflows_match_their_schemas(schema: str, paths: list[Path]) -> None:
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "ci.yml"
    bad.write_text("name: ci\non: push\njobs:\n  test:\n    steps: [{run: make}]\n")  # no runs-on
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and "runs-on" in proc.stdout + proc.stderr
