"""Lineage (``register --run-id/--source-commit/--data-version``) is searchable as
``lineage.KEY``, and the template's data-version gate reads what ``--data-version`` writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import git

from gitreg.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "reg"
    assert CliRunner().invoke(cli, ["init", str(path)]).exit_code == 0
    monkeypatch.setenv("GITREG_REPO", str(path))
    model = tmp_path / "model.bin"
    for data_version in ("2026-10", "2026-11"):
        model.write_bytes(data_version.encode() * 100)
        run_ok("register", "fraud", str(model), "--data-version", data_version, "--run-id", "r")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def run_ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_search_by_lineage(repo: Path) -> None:
    found = json.loads(run_ok("search", "lineage.data_version = '2026-11'", "--json"))
    assert [(v["name"], v["version"]) for v in found] == [("fraud", 2)]
    assert found[0]["lineage"]["data_version"] == "2026-11"
    both = json.loads(run_ok("search", "lineage.data_version LIKE '2026-%'", "--json"))
    assert len(both) == 2
    assert json.loads(run_ok("search", "lineage.source_commit IS NULL", "--json")) != []
    ordered = json.loads(
        run_ok("search", "lineage.run_id = 'r'", "--order-by", "lineage.data_version", "--json")
    )
    assert [v["version"] for v in ordered] == [1, 2]


def test_a_lineage_field_compares_strings(repo: Path) -> None:
    result = run("search", "lineage.data_version > 3")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "'>' applies only to numeric fields; lineage.data_version holds strings" in (
        result.stderr
    )


def test_the_template_gate_reads_what_data_version_writes(repo: Path) -> None:
    """Uncomment the template's data-version gate, as its comment says; a version registered
    with --data-version then passes it, and `gitreg check` accepts the policy's form."""
    template = (ROOT / "registry-template/gitreg.yaml").read_text()
    assert "      # - lineage: [data_version]\n" in template
    assert "tags: [data_version]" not in template
    policy = repo / "gitreg.yaml"
    text = policy.read_text().replace("# - lineage: [data_version]", "- lineage: [data_version]")
    text = text.replace("time_in_stage: {stage: Staging, min_hours: 24}", "description: required")
    policy.write_text(text)
    git(repo, "commit", "-qam", "require a data version")
    assert run_ok("check").startswith("ok")
    run_ok("describe", "fraud", "--version", "2", "Trained on November.")
    run_ok("transition", "fraud", "2", "Staging")
    out = run_ok("transition", "fraud", "2", "Production", "--local")
    assert "  ok   gate lineage data_version: every required lineage key is set" in out
    (repo.parent / "bare.bin").write_bytes(b"no lineage")
    run_ok("register", "fraud", str(repo.parent / "bare.bin"), "--description", "x")
    run_ok("transition", "fraud", "3", "Staging")
    refused = run("transition", "fraud", "3", "Production", "--local")
    assert refused.exit_code == 1
    assert "gate lineage data_version: missing lineage.data_version" in refused.stderr
