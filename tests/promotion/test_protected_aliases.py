"""Hole 2: a protected alias ("@champion" under promotion) moves only through a pull
request whose gates judge the version it moves to; check --base judges a hand-edited move,
audit flags a direct one, rollback --alias restores the previous one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from gitops_helpers import POLICY, make_registry, merge_branch, staged_version

from gitreg.cli import cli
from gitreg.errors import PolicyError
from gitreg.promotion.audit import audit
from gitreg.promotion.gates import GatesFailed
from gitreg.promotion.review import check_diff

CHAMPION = POLICY + '  "@champion":\n    via: pull_request\n    gates: [{metric: auc, min: 0.8}]\n'


def test_a_protected_alias_cannot_be_set_directly(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path, CHAMPION)
    weak = staged_version(reg, tmp_path, auc=0.5)
    with pytest.raises(PolicyError, match="protects @champion"):
        reg.set_alias("m", "champion", weak)
    with pytest.raises(GatesFailed, match=r"auc = 0\.5 is below the minimum 0\.8"):
        reg.propose_alias("m", "champion", weak)
    reg.set_alias("m", "challenger", weak)  # not protected: a plain commit


def test_check_and_audit_catch_a_hand_edited_alias_move(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path, CHAMPION)
    weak = staged_version(reg, tmp_path, auc=0.5)
    git(reg.root, "checkout", "-q", "-b", "sneak")
    path = reg.root / "models/m/model.yaml"
    path.write_text(path.read_text().replace("aliases: {}", f"aliases:\n  champion: {weak}"))
    git(reg.root, "commit", "-qam", "point champion")
    report = check_diff(reg.git, "main")
    assert any(
        f.rule == "gate" and "m@champion -> v1: gate metric auc" in f.message
        for f in report.findings
    ), report.findings
    git(reg.root, "checkout", "-q", "main")
    git(reg.root, "merge", "-q", "--ff-only", "sneak")
    [finding] = audit(reg.git, "main").findings
    assert finding.kind == "direct"
    assert finding.message == "m@champion moved to v1 without a merged pull request"


def test_the_good_path_and_rollback_alias(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path, CHAMPION)
    v1 = staged_version(reg, tmp_path, auc=0.9)
    v2 = staged_version(reg, tmp_path, auc=0.92)
    main_before = git(reg.root, "rev-parse", "main").strip()
    result = CliRunner().invoke(
        cli, ["--repo", str(reg.root), "alias", "set", "m", "champion", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "branch: alias/m-champion-v1" in result.stdout
    check = "CI runs: gitreg check --base origin/main --head origin/alias/m-champion-v1"
    assert check in result.stdout
    assert git(reg.root, "rev-parse", "main").strip() == main_before
    git(reg.root, "checkout", "-q", "alias/m-champion-v1")
    assert check_diff(reg.git, "main").ok
    git(reg.root, "checkout", "-q", "main")
    merge_branch(reg, "alias/m-champion-v1")
    p = reg.propose_alias("m", "champion", v2)
    merge_branch(reg, p.branch, message="Merge pull request #9 from acme/x")
    assert audit(reg.git, "main").ok
    assert reg.get_model("m").aliases["champion"] == v2
    result = CliRunner().invoke(
        cli, ["--repo", str(reg.root), "rollback", "m", "--alias", "champion", "--local"]
    )
    assert result.exit_code == 0, result.output
    assert f"branch: rollback/m-champion-v{v1}" in result.stdout
