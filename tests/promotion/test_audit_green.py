"""Holes 6 and 7: teams keep the audit green (a reviewed merge with Approved-by passes;
``audit accept`` records a finding through review; a direct edit of the accepted list is a
finding), and break-glass rollbacks are reported as emergencies until accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from gitops_helpers import POLICY, make_registry, merge_branch, staged_version

from gitreg import Registry
from gitreg.cli import cli
from gitreg.errors import PolicyError
from gitreg.promotion.audit import audit

BREAK_GLASS = POLICY + "break_glass: {allowed: true}\n"


def run(reg: Registry, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), *args])
    return result.exit_code, result.output


def direct_production(reg: Registry, version: int) -> str:
    path = reg.root / f"models/m/versions/{version}.yaml"
    path.write_text(path.read_text().replace("stage: Staging", "stage: Production"))
    git(reg.root, "commit", "-qam", "hotfix: promote")
    return git(reg.root, "rev-parse", "HEAD").strip()


def test_a_merge_with_approved_by_is_reviewed(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    p = reg.propose_transition("m", staged_version(reg, tmp_path), "Production")
    merge_branch(reg, p.branch, f"Merge branch '{p.branch}'\n\nApproved-by: Lead <l@x.org>")
    assert audit(reg.git, "main").ok


def test_accepting_a_finding_goes_through_review_and_turns_green(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    sha = direct_production(reg, staged_version(reg, tmp_path))
    code, out = run(reg, "audit")
    assert code == 1 and "m v1 entered Production without a merged pull request" in out
    code, out = run(reg, "audit", "accept", sha, "--reason", "incident 42, reviewed after")
    assert code == 0, out
    assert f"branch: audit/accept-{sha[:12]}" in out
    assert run(reg, "audit")[0] == 1, "main is untouched until the acceptance is merged"
    merge_branch(reg, f"audit/accept-{sha[:12]}")
    code, out = run(reg, "audit")
    assert code == 0, out
    assert out.startswith(f"accepted: {sha[:12]}") and "(incident 42, reviewed after)" in out


def test_accepting_your_own_bypass_by_hand_is_itself_a_finding(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    sha = direct_production(reg, staged_version(reg, tmp_path))
    accepted = reg.root / ".gitreg/audit.yaml"
    accepted.write_text(f"accepted:\n- commit: {sha}\n  reason: trust me\n")
    git(reg.root, "add", ".gitreg/audit.yaml")
    git(reg.root, "commit", "-qm", "accept")
    report = audit(reg.git, "main")
    assert [(f.kind, f.accepted) for f in report.findings] == [
        ("direct", "trust me"),
        ("policy", None),
    ]
    assert report.exit_status == 1


def test_emergency_rollback_is_reported_until_accepted(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path, BREAK_GLASS)
    merge_branch(
        reg, reg.propose_transition("m", staged_version(reg, tmp_path), "Production").branch
    )
    v2 = staged_version(reg, tmp_path, auc=0.95)
    merge_branch(reg, reg.propose_transition("m", v2, "Production").branch)
    code, out = run(reg, "rollback", "m", "--emergency", "--reason", "v2 serves errors")
    assert code == 0, out
    assert reg.get_version("m", 1).stage == "Production"
    assert reg.get_version("m", 2).stage == "Archived"
    body = git(reg.root, "log", "-1", "--format=%B")
    assert "Gitreg-Emergency: v2 serves errors" in body
    code, out = run(reg, "audit")
    assert code == 4, out
    assert "emergency change awaiting review: m v1 entered Production (v2 serves errors)" in out
    sha = git(reg.root, "rev-parse", "HEAD").strip()
    run(reg, "audit", "accept", sha, "--reason", "post-incident review done", "--local")
    merge_branch(reg, f"audit/accept-{sha[:12]}")
    assert run(reg, "audit")[0] == 0


def test_break_glass_cannot_promote_a_new_version(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path, BREAK_GLASS)
    v = staged_version(reg, tmp_path)
    path = reg.root / f"models/m/versions/{v}.yaml"
    path.write_text(path.read_text().replace("stage: Staging", "stage: Production"))
    git(reg.root, "commit", "-qam", "promote\n\nGitreg-Emergency: trust me")
    [finding] = audit(reg.git, "main").findings
    assert finding.kind == "direct"


def test_break_glass_must_be_allowed(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    merge_branch(
        reg, reg.propose_transition("m", staged_version(reg, tmp_path), "Production").branch
    )
    with pytest.raises(PolicyError, match="does not allow break-glass"):
        reg.emergency_rollback("m", "why")
    code, out = run(reg, "rollback", "m", "--emergency", "--reason", "x")
    assert code == 1 and "does not allow break-glass" in out and "Traceback" not in out
