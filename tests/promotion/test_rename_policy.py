"""Hole 5: a rename does not escape a per-pattern override (the rule is the strictest
under every name the model has had); a rename of a Production model is no promotion."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from gitops_helpers import POLICY, make_registry, merge_branch, staged_version

from gitreg.cli import cli
from gitreg.promotion.audit import audit
from gitreg.promotion.gates import GatesFailed
from gitreg.promotion.review import check_diff

STRICT_FRAUD = (
    POLICY + 'overrides:\n  "fraud-*":\n    Production:\n      gates: [{metric: auc, min: 0.95}]\n'
)


def test_a_refused_model_stays_refused_after_a_rename(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path, STRICT_FRAUD)
    v = staged_version(reg, tmp_path, auc=0.9, name="fraud-x")
    with pytest.raises(GatesFailed, match=r"minimum 0\.95"):
        reg.propose_transition("fraud-x", v, "Production", push=False)
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "rename", "fraud-x", "x-fraud"])
    assert result.exit_code == 0, result.output
    assert reg.get_model("x-fraud").former_names == ("fraud-x",)
    with pytest.raises(GatesFailed, match=r"minimum 0\.95"):
        reg.propose_transition("x-fraud", v, "Production", push=False)
    # A hand-made pull request that promotes under the new name fails check --base too.
    p = reg.propose_transition("x-fraud", v, "Production", push=False, ignore_gates=True)
    git(reg.root, "checkout", "-q", p.branch)
    assert any("minimum 0.95" in f.message for f in check_diff(reg.git, "main").findings)


def test_dropping_former_names_in_a_pull_request_does_not_help(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path, STRICT_FRAUD)
    v = staged_version(reg, tmp_path, auc=0.9, name="fraud-x")
    reg.rename("fraud-x", "x-fraud")
    p = reg.propose_transition("x-fraud", v, "Production", push=False, ignore_gates=True)
    git(reg.root, "checkout", "-q", p.branch)
    path = reg.root / "models/x-fraud/model.yaml"
    path.write_text(path.read_text().replace("former_names:\n- fraud-x\n", ""))
    assert "fraud-x" not in path.read_text()
    git(reg.root, "commit", "-qam", "forget the old name")
    assert any("minimum 0.95" in f.message for f in check_diff(reg.git, "main").findings)


def test_renaming_a_production_model_is_not_a_promotion(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    merge_branch(
        reg, reg.propose_transition("m", staged_version(reg, tmp_path), "Production").branch
    )
    reg.rename("m", "m2")
    assert reg.get_version("m2", 1).stage == "Production"
    report = audit(reg.git, "main")
    assert report.ok, report.findings
    git(reg.root, "checkout", "-q", "-b", "back")
    reg.rename("m2", "m3")
    assert check_diff(reg.git, "main").ok, check_diff(reg.git, "main").findings
