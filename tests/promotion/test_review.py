"""``gitreg check --base``: what CI runs on a pull request, on real branches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import git
from gitops_helpers import make_registry, merge_branch, staged_version

from gitreg import Registry
from gitreg.cli import cli
from gitreg.promotion.review import check_diff


def check(reg: Registry, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--repo", str(reg.root), "check", "--base", "main", *args])


def on_branch(reg: Registry, branch: str) -> None:
    git(reg.root, "checkout", "-q", branch)


def test_a_good_promotion_passes_and_a_bad_one_names_gate_and_metric(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    good = reg.propose_transition("m", staged_version(reg, tmp_path, auc=0.9), "Production")
    on_branch(reg, good.branch)
    result = check(reg)
    assert result.exit_code == 0, result.output
    assert "m v1: Staging -> Production (6/6 gates pass)" in result.stdout
    assert result.stdout.rstrip().endswith("changed files since " + good.base[:12])
    on_branch(reg, "main")

    weak = staged_version(reg, tmp_path, auc=0.6)
    bad = reg.propose_transition("m", weak, "Production", ignore_gates=True, push=False)
    on_branch(reg, bad.branch)
    result = check(reg)
    assert result.exit_code == 1
    assert (
        "models/m/versions/2.yaml:4: m v2 -> Production: "
        "gate metric auc: auc = 0.6 is below the minimum 0.8"
    ) in result.stdout


def test_lowering_the_gate_in_the_same_pull_request_still_fails(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path, auc=0.6)
    p = reg.propose_transition("m", v, "Production", ignore_gates=True, push=False)
    on_branch(reg, p.branch)
    cfg = reg.root / "gitreg.yaml"
    cfg.write_text(cfg.read_text().replace("min: 0.8", "min: 0.5"))
    git(reg.root, "commit", "-qam", "relax the gate")
    report = check_diff(reg.git, "main")
    rules = {f.rule for f in report.findings}
    assert rules == {"gate", "policy"}
    gate = next(f for f in report.findings if f.rule == "gate")
    assert "gate metric auc: auc = 0.6 is below the minimum 0.8" in gate.message
    policy = next(f for f in report.findings if f.rule == "policy")
    assert "edits gitreg.yaml and also moves m v1 into Production" in policy.message


def test_editing_a_digest_fails_naming_digest(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    staged_version(reg, tmp_path)
    git(reg.root, "checkout", "-q", "-b", "tamper")
    path = reg.root / "models/m/versions/1.yaml"
    text = path.read_text()
    digest = reg.get_version("m", 1).artifact.digest
    text = text.replace(digest, "sha256:" + "0" * 64).replace("auc: 0.9", "auc: 0.99")
    path.write_text(text.replace("run_id: run-1", "run_id: run-2"))
    git(reg.root, "commit", "-qam", "tamper")
    result = check(reg, "--format", "json")
    assert result.exit_code == 1
    found = {(f["rule"], f["message"]) for f in json.loads(result.stdout)["findings"]}
    assert ("immutable", "artifact.digest is immutable once merged and was changed") in found
    assert ("immutable", "metrics.auc is immutable once merged and was changed") in found
    assert ("immutable", "lineage.run_id is immutable once merged and was changed") in found
    lines = {f["line"] for f in json.loads(result.stdout)["findings"]}
    assert None not in lines


def test_new_metric_keys_tags_and_descriptions_may_change(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    staged_version(reg, tmp_path)
    git(reg.root, "checkout", "-q", "-b", "edit")
    path = reg.root / "models/m/versions/1.yaml"
    path.write_text(path.read_text().replace("  auc: 0.9", "  auc: 0.9\n  f1: 0.7"))
    git(reg.root, "commit", "-qam", "add a metric")
    reg.set_tag("m", "owner", "risk", version=1)
    reg.describe("m", "Better words.", version=1)
    assert check_diff(reg.git, "main").ok


def test_numbering_symlinks_and_deletes(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    staged_version(reg, tmp_path)
    reg.delete_version("m", 1)
    git(reg.root, "push", "-q", "origin", "main")
    git(reg.root, "checkout", "-q", "-b", "sneaky")
    old = git(reg.root, "show", "main~1:models/m/versions/1.yaml")
    (reg.root / "models/m/versions").mkdir(parents=True, exist_ok=True)
    (reg.root / "models/m/versions/1.yaml").write_text(old)
    os.symlink("/etc/passwd", reg.root / "models/m/versions/3.yaml")
    git(reg.root, "add", "-A")
    git(reg.root, "commit", "-qm", "reuse a number, add a link")
    report = check_diff(reg.git, "main", verify=False)
    messages = [f"{f.rule}: {f.path}: {f.message}" for f in report.findings]
    assert any(
        m.startswith("numbering: models/m/versions/1.yaml: m v1 is new but the base already "
                     "issued numbers up to 1") for m in messages
    ), messages  # fmt: skip
    assert (
        "file: models/m/versions/3.yaml: a symbolic link; only regular files may be under models/"
        in messages
    )


def test_numbering_reads_retired_numbers_when_history_was_squashed(
    reg: Registry, artifact: Path
) -> None:
    reg.register("m", artifact)
    reg.register("m", artifact)
    files = ["models/m/model.yaml", "models/m/versions/1.yaml"]
    old = {rel: git(reg.root, "show", f"HEAD:{rel}") for rel in files}
    reg.delete_model("m")
    git(reg.root, "checkout", "-q", "--orphan", "squashed")  # no history shows m v1, v2
    git(reg.root, "commit", "-qm", "squashed")
    git(reg.root, "branch", "-M", "main")
    git(reg.root, "checkout", "-q", "-b", "again")
    for rel, text in old.items():
        (reg.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (reg.root / rel).write_text(text)
    git(reg.root, "add", "-A")
    git(reg.root, "commit", "-qm", "re-create m with v1 by hand")
    report = check_diff(reg.git, "main", verify=False)
    assert [f"{f.rule}: {f.message}" for f in report.findings] == [
        "numbering: m v1 is new but the base already issued numbers up to 2; number it 3 or above"
    ]


def test_deleting_a_production_version_fails(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    merge_branch(
        reg, reg.propose_transition("m", staged_version(reg, tmp_path), "Production").branch
    )
    git(reg.root, "checkout", "-q", "-b", "drop")
    git(reg.root, "rm", "-q", "models/m/versions/1.yaml")
    git(reg.root, "commit", "-qm", "drop")
    [finding] = check_diff(reg.git, "main").findings
    assert finding.message == "m v1 is in Production and cannot be deleted"


def test_a_transition_the_base_policy_forbids(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    mv = reg.register("m", reg.root / "gitreg.yaml", metrics={"auc": 0.9})
    git(reg.root, "push", "-q", "origin", "main")
    git(reg.root, "checkout", "-q", "-b", "skip")
    path = reg.root / "models/m/versions/1.yaml"
    path.write_text(path.read_text().replace("stage: None", "stage: Production"))
    git(reg.root, "commit", "-qam", "straight to prod")
    messages = [f.message for f in check_diff(reg.git, "main", verify=False).findings]
    assert (
        f"m v{mv.version}: None -> Production is not allowed; the base policy allows "
        "Production only from Staging"
    ) in messages


def test_github_format_and_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg, _ = make_registry(tmp_path)
    p = reg.propose_transition(
        "m", staged_version(reg, tmp_path, auc=0.6), "Production", ignore_gates=True, push=False
    )
    on_branch(reg, p.branch)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = check(reg, "--format", "github")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "::error file=models/m/versions/1.yaml,line=4,title=gitreg gate::m v1 -> Production: "
        "gate metric auc: auc = 0.6 is below the minimum 0.8\n"
    )
    text = summary.read_text()
    assert text.startswith("### gitreg check: ❌ 1 problem(s)")
    assert "| m | v1 | Staging → Production | metric auc | ❌ | auc = 0.6 is below" in text


def test_plain_check_and_its_json_flag_still_work(tmp_path: Path) -> None:
    reg, _ = make_registry(tmp_path)
    staged_version(reg, tmp_path)
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "check"])
    assert result.exit_code == 0 and result.stdout == "ok: every registry file is valid\n"
    result = CliRunner().invoke(cli, ["--repo", str(reg.root), "check", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_only_the_files_the_change_touched_are_judged(tmp_path: Path) -> None:
    """A broken file the pull request did not touch (it is broken at base and at head)
    is not the pull request's to answer for; once the change touches it, it is."""
    reg, _ = make_registry(tmp_path)
    v = staged_version(reg, tmp_path)
    staged_version(reg, tmp_path, name="other")
    broken = reg.root / "models/other/versions/1.yaml"
    broken.write_text(broken.read_text().replace("stage: Staging", "stage: [not, a, stage]"))
    (reg.root / "models/other/notes.txt").write_text("not a registry file\n")
    git(reg.root, "add", "-A")
    git(reg.root, "commit", "-qm", "break another model behind the checks' back")
    git(reg.root, "push", "-q", "origin", "main")
    whole = CliRunner().invoke(cli, ["--repo", str(reg.root), "check"])
    assert whole.exit_code == 1 and "models/other/versions/1.yaml" in whole.stdout

    p = reg.propose_transition("m", v, "Production", push=False)
    on_branch(reg, p.branch)
    report = check_diff(reg.git, "main")
    assert report.ok, report.findings
    assert report.changed == ["models/m/versions/1.yaml"]
    assert [(t.name, t.to_stage) for t in report.transitions] == [("m", "Production")]

    git(reg.root, "checkout", "-q", "-b", "touch-the-broken-one", "main")
    broken.write_text(broken.read_text().replace("A good model.", "Reworded."))
    git(reg.root, "commit", "-qam", "edit the broken file")
    report = check_diff(reg.git, "main", verify=False)
    assert {(f.path, f.rule) for f in report.findings} == {
        ("models/other/versions/1.yaml", "schema")
    }, report.findings
