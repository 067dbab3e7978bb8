"""Hole 1: a pull request cannot satisfy its own gate. For a version the base already has,
the gates judge the base's immutable fields (metrics, params, lineage, artifact)."""

from __future__ import annotations

from pathlib import Path

from conftest import git
from gitops_helpers import make_registry, staged_version

from gitreg.promotion.review import check_diff


def test_a_metric_added_in_the_promoting_change_does_not_count(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, auc="none")  # registered without an auc
    p = reg.propose_transition("m", v, "Production", ignore_gates=True, push=False)
    git(reg.root, "checkout", "-q", p.branch)
    path = reg.root / f"models/m/versions/{v}.yaml"
    text = path.read_text()
    assert "auc" not in text
    path.write_text(text.replace("metrics: {}", "metrics:\n  auc: 0.99"))
    assert "auc: 0.99" in path.read_text()
    git(reg.root, "commit", "-qam", "add the metric the gate wants")
    report = check_diff(reg.git, "main")
    gates = [f.message for f in report.findings if f.rule == "gate"]
    assert any("gate metric auc: auc is missing" in m for m in gates), report.findings
    [t] = report.transitions
    assert not all(r.ok for r in t.results)


def test_raising_an_existing_metric_in_the_promoting_change_is_judged_on_the_base(
    tmp_path: Path,
) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, auc=0.5)
    p = reg.propose_transition("m", v, "Production", ignore_gates=True, push=False)
    git(reg.root, "checkout", "-q", p.branch)
    path = reg.root / f"models/m/versions/{v}.yaml"
    path.write_text(path.read_text().replace("auc: 0.5", "auc: 0.99"))
    git(reg.root, "commit", "-qam", "better numbers")
    found = {(f.rule, f.message) for f in check_diff(reg.git, "main").findings}
    assert ("immutable", "metrics.auc is immutable once merged and was changed") in found
    assert any("auc = 0.5 is below the minimum 0.8" in m for r, m in found if r == "gate")


def test_mutable_fields_written_with_the_promotion_still_count(tmp_path: Path) -> None:
    """The good path: description and tags may be completed in the promoting change."""
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, auc=0.9, description="")
    p = reg.propose_transition("m", v, "Production", ignore_gates=True, push=False)
    git(reg.root, "checkout", "-q", p.branch)
    reg.describe("m", "Reviewed in the pull request.", version=v)
    report = check_diff(reg.git, "main")
    assert report.ok, report.findings
