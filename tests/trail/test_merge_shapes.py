"""History and audit read merges with one recogniser, so they agree on every shape: a
GitHub merge commit, a GitHub squash, GitLab's merge commit, a reviewed local merge with
``Approved-by:`` trailers, and (the negative case) a plain local merge or direct commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git
from gitops_helpers import make_registry, staged_version

from gitreg.promotion.audit import audit

SHAPES = {
    "github-merge": ("merge", "Merge pull request #5 from acme/{branch}", 5, ()),
    "github-squash": ("squash", "m v1: Staging -> Production (#6)", 6, ()),
    "edited-squash": ("squash", "Promote the fraud model (#9)\n\n* tuned", 9, ()),
    "gitlab-merge": (
        "merge",
        "Merge branch '{branch}' into 'main'\n\nPromote m\n\nSee merge request risk/registry!7",
        7,
        (),
    ),
    "reviewed-merge": (
        "merge",
        "Merge branch '{branch}'\n\nApproved-by: Lead <lead@example.com>",
        None,
        ("Lead <lead@example.com>",),
    ),
    "local-merge": ("merge", "Merge branch '{branch}'", None, ()),
    "direct": ("direct", "hotfix: promote", None, ()),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_history_and_audit_agree(tmp_path: Path, shape: str) -> None:
    how, message, number, approvers = SHAPES[shape]
    reg, _ = make_registry(tmp_path)
    version = staged_version(reg, tmp_path)
    branch = reg.propose_transition("m", version, "Production").branch
    message = message.format(branch=branch)
    if how == "merge":
        git(reg.root, "merge", "-q", "--no-ff", "-m", message, branch)
    elif how == "squash":
        git(reg.root, "merge", "-q", "--squash", branch)
        git(reg.root, "commit", "-qm", message)
    else:
        git(reg.root, "cherry-pick", branch)
        git(reg.root, "commit", "-q", "--amend", "-m", message)
    [row] = reg.history("m", stage="Production")
    findings = audit(reg.git, "main").findings
    reviewed = row.pull_request is not None or bool(row.approvers)
    assert (row.pull_request, row.approvers) == (number, approvers)
    assert reviewed == (not findings), (shape, row, findings)
    assert reviewed == (shape not in ("local-merge", "direct"))
