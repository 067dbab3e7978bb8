"""Holes 3 and 4: the policy is itself protected (relax-promote-restore is flagged, and
``require_signed`` is the strictest seen, not the tip's); time is trusted (a backdated
stage change does not count as time in stage; future dates are findings)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import git
from gitops_helpers import POLICY, make_registry, merge_branch, staged_version

from gitreg.promotion.audit import audit
from gitreg.promotion.gates import GatesFailed


def _relax_promote_restore(reg_root: Path, version: int) -> None:
    cfg = reg_root / "gitreg.yaml"
    strict = cfg.read_text()
    cfg.write_text(strict.replace("via: pull_request", "via: commit"))
    git(reg_root, "commit", "-q", "--no-gpg-sign", "-am", "relax")
    path = reg_root / f"models/m/versions/{version}.yaml"
    path.write_text(path.read_text().replace("stage: Staging", "stage: Production"))
    git(reg_root, "commit", "-q", "--no-gpg-sign", "-am", "promote")
    cfg.write_text(strict)
    git(reg_root, "commit", "-q", "--no-gpg-sign", "-am", "restore")


def test_relax_promote_restore_is_flagged(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, auc=0.5)
    _relax_promote_restore(reg.root, v)
    report = audit(reg.git, "main")
    assert [(f.kind, f.subject) for f in report.findings] == [
        ("policy", "relax"),
        ("direct", "promote"),
        ("policy", "restore"),
    ]
    assert report.exit_status == 1


@pytest.mark.parametrize(
    "path", [".github/workflows/registry.yml", ".github/CODEOWNERS", ".gitreg/schemas/x.json"]
)
def test_a_direct_change_to_rule_files_is_flagged(tmp_path: Path, path: str) -> None:
    reg, _ = make_registry(tmp_path)
    (reg.root / path).parent.mkdir(parents=True, exist_ok=True)
    (reg.root / path).write_text("anything\n")
    git(reg.root, "add", path)
    git(reg.root, "commit", "-qm", "quiet edit")
    [finding] = audit(reg.git, "main").findings
    assert finding.kind == "policy" and path in finding.message


def test_a_reviewed_policy_change_and_a_harmless_edit_pass(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    git(reg.root, "checkout", "-q", "-b", "policy")
    cfg = reg.root / "gitreg.yaml"
    cfg.write_text(cfg.read_text().replace("min: 0.8", "min: 0.85"))
    git(reg.root, "commit", "-qam", "tighten")
    git(reg.root, "checkout", "-q", "main")
    merge_branch(reg, "policy")
    cfg.write_text(cfg.read_text().replace("store: file://../store", "store: file://../s2"))
    git(reg.root, "commit", "-qam", "move the store: not a protection key")
    assert audit(reg.git, "main").ok


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_require_signed_is_the_strictest_seen_not_the_tips(tmp_path: Path) -> None:
    key = tmp_path / "bot_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"test@example.com {key.with_suffix('.pub').read_text()}")
    for k, v in {
        "gpg.format": "ssh",
        "user.signingkey": str(key),
        "commit.gpgsign": "true",
        "gpg.ssh.allowedSignersFile": str(signers),
    }.items():
        git(tmp_path, "config", "--global", k, v)
    reg, _ = make_registry(tmp_path, POLICY + "require_signed: true\n")
    v = staged_version(reg, tmp_path, auc=0.5)
    assert audit(reg.git, "main").ok
    cfg = reg.root / "gitreg.yaml"
    cfg.write_text(cfg.read_text().replace("require_signed: true\n", ""))
    git(reg.root, "commit", "-q", "--no-gpg-sign", "-am", "drop signing")
    _relax_promote_restore(reg.root, v)
    kinds = [f.kind for f in audit(reg.git, "main").findings]
    assert kinds.count("unsigned") == 4 and "direct" in kinds


def test_a_backdated_stage_change_does_not_count_as_time_in_stage(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    (tmp_path / "w.bin").write_bytes(b"weights")
    mv = reg.register("m", tmp_path / "w.bin", metrics={"auc": 0.9})
    reg.describe("m", "d", version=mv.version)
    reg.set_tag("m", "data_version", "1", version=mv.version)
    os.environ["GIT_COMMITTER_DATE"] = f"@{int(time.time()) - 2 * 86400} +0000"  # 2 days ago
    try:
        reg.transition("m", mv.version, "Staging")
    finally:
        del os.environ["GIT_COMMITTER_DATE"]
    with pytest.raises(GatesFailed) as e:
        reg.propose_transition("m", mv.version, "Production", push=False)
    assert "in Staging for 0.0 h; needs 24 h; eligible at " in str(e.value)


def test_an_honestly_old_stay_still_counts(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, hours_ago=48)
    p = reg.propose_transition("m", v, "Production", push=False)
    assert any(r.gate == "time_in_stage" and r.ok for r in p.results)


def test_a_future_dated_commit_is_a_finding(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    os.environ["GIT_COMMITTER_DATE"] = f"@{int(time.time()) + 7 * 86400} +0000"
    try:
        git(reg.root, "commit", "-q", "--allow-empty", "-m", "from the future")
    finally:
        del os.environ["GIT_COMMITTER_DATE"]
    [finding] = audit(reg.git, "main").findings
    assert finding.kind == "future" and "dated in the future" in finding.message
