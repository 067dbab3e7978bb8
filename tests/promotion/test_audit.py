"""``gitreg audit`` over real histories: merged pull requests pass, a direct commit that
sets Production is flagged, a rewrite of history is flagged, and unsigned commits are
flagged when the policy requires signatures (offline SSH signing)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git
from gitops_helpers import POLICY, make_registry, merge_branch, staged_version

from gitreg import Registry
from gitreg.cli import cli
from gitreg.promotion.audit import audit


def direct_production(reg: Registry, version: int) -> str:
    """Set Production by hand and commit straight to main, as a bypass would."""
    path = reg.root / f"models/m/versions/{version}.yaml"
    path.write_text(path.read_text().replace("stage: Staging", "stage: Production"))
    git(reg.root, "commit", "-qam", "hotfix: promote")
    return git(reg.root, "rev-parse", "HEAD").strip()


def test_merged_pull_requests_pass_and_a_direct_commit_is_flagged(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    merge_branch(
        reg, reg.propose_transition("m", staged_version(reg, tmp_path), "Production").branch
    )
    v2 = staged_version(reg, tmp_path, auc=0.95)
    squash = reg.propose_transition("m", v2, "Production").branch
    git(reg.root, "merge", "-q", "--squash", squash)
    git(reg.root, "commit", "-qm", "m v2: Staging -> Production (#8)")
    report = audit(reg.git, "main")
    assert report.ok, report.findings
    assert report.commits == len(git(reg.root, "rev-list", "--first-parent", "main").split())

    v3 = staged_version(reg, tmp_path, auc=0.96)
    sha = direct_production(reg, v3)
    [finding] = audit(reg.git, "main").findings
    assert (finding.kind, finding.commit, finding.author) == (
        "direct",
        sha,
        "Test User <test@example.com>",
    )
    assert finding.message == "m v3 entered Production without a merged pull request"
    assert finding.date and finding.subject == "hotfix: promote"
    git(reg.root, "commit", "-q", "--allow-empty", "-m", "later work")
    assert len(audit(reg.git, "main").findings) == 1, "the whole history is walked, not the tip"


def test_a_local_merge_is_not_a_pull_request(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    p = reg.propose_transition("m", staged_version(reg, tmp_path), "Production")
    merge_branch(reg, p.branch, message=f"Merge branch '{p.branch}'")
    [finding] = audit(reg.git, "main").findings
    assert finding.kind == "direct" and finding.subject == f"Merge branch '{p.branch}'"


def test_a_commit_cannot_relax_the_policy_it_is_judged_by(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    cfg = reg.root / "gitreg.yaml"
    cfg.write_text(cfg.read_text().replace("via: pull_request", "via: commit"))
    path = reg.root / f"models/m/versions/{v}.yaml"
    path.write_text(path.read_text().replace("stage: Staging", "stage: Production"))
    git(reg.root, "commit", "-qam", "relax and promote")
    assert [f.kind for f in audit(reg.git, "main").findings] == ["policy", "direct"]


def test_since_and_rewritten_history(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    checkpoint = git(reg.root, "rev-parse", "HEAD").strip()
    direct_production(reg, v)
    assert [f.kind for f in audit(reg.git, "main", since=checkpoint).findings] == ["direct"]
    assert audit(reg.git, "main", since="HEAD").ok
    git(reg.root, "reset", "-q", "--hard", "HEAD~2")
    git(reg.root, "commit", "-q", "--allow-empty", "-m", "rewritten")
    report = audit(reg.git, "main", since=checkpoint)
    assert [f.kind for f in report.findings] == ["rewritten"]
    assert "history was rewritten" in str(report.findings[0])
    report = audit(reg.git, "main", since="0" * 40)
    assert [f.kind for f in report.findings] == ["rewritten"]


def test_cli_exit_status_and_json(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "audit"])
    assert result.exit_code == 0 and result.stdout.startswith("ok: ")
    sha = direct_production(reg, v)
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "audit"])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{sha[:12]} ") and "m v1 entered Production" in result.stdout
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "audit", "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["ok"] is False
    assert data["findings"][0]["commit"] == sha


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_require_signed_flags_unsigned_commits(tmp_path: Path) -> None:
    key = tmp_path / "bot_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bot", "-f", str(key)], check=True
    )
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
    p = reg.propose_transition("m", staged_version(reg, tmp_path), "Production")
    merge_branch(reg, p.branch)
    assert git(reg.root, "log", "-1", "--format=%G?", p.branch).strip() == "G"
    assert audit(reg.git, "main").ok
    git(reg.root, "commit", "-q", "--no-gpg-sign", "--allow-empty", "-m", "unsigned")
    [finding] = audit(reg.git, "main").findings
    assert (finding.kind, finding.message) == ("unsigned", "the commit is not signed")
    assert audit(reg.git, "main", require_signed=False).ok
