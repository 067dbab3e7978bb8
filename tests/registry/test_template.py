"""registry-template/ and this repository's action.yml against the CI hardening rules:
actions pinned to full SHAs, read-only token, no pull_request_target, no event data inside
``run:``; the check reads the base SHA through env; CODEOWNERS covers the policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "registry-template"
WORKFLOW = TEMPLATE / ".github/workflows/registry.yml"
PINNED = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    if True in data:  # YAML 1.1 reads the key `on` as True
        data["on"] = data.pop(True)
    return data


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        return list(doc["runs"]["steps"])
    return [s for job in doc["jobs"].values() for s in job.get("steps", [])]


def hardening_problems(doc: dict[str, Any]) -> list[str]:
    """What the rules refuse, one line each (empty: the workflow passes)."""
    out = []
    triggers = doc.get("on", {})
    if "pull_request_target" in (triggers if isinstance(triggers, (dict, list)) else [triggers]):
        out.append("pull_request_target")
    if "jobs" in doc:
        if doc.get("permissions") != {"contents": "read"}:
            out.append(f"top-level permissions {doc.get('permissions')!r}")
        for name, job in doc["jobs"].items():
            perms = job.get("permissions", {})
            if perms == "write-all" or (isinstance(perms, dict) and "write" in perms.values()):
                out.append(f"job {name} asks for write permissions")
    for step in steps(doc):
        uses = step.get("uses")
        if uses and not uses.startswith("./") and not PINNED.fullmatch(uses):
            out.append(f"unpinned action {uses}")
        if "${{" in str(step.get("run", "")):
            out.append(f"expression inside run: {step['run'][:40]!r}")
    return out


def test_the_template_workflow_passes_the_hardening_rules() -> None:
    doc = load(WORKFLOW)
    assert hardening_problems(doc) == []
    assert set(doc["on"]) == {"pull_request", "pull_request_review", "push"}
    assert doc["on"]["pull_request_review"] == {"types": ["submitted", "dismissed"]}


def test_the_rules_catch_what_they_should() -> None:
    bad = {
        "on": {"pull_request_target": {}},
        "permissions": "write-all",
        "jobs": {
            "j": {
                "permissions": {"contents": "write"},
                "steps": [
                    {"uses": "actions/checkout@v4"},
                    {"run": "echo ${{ github.event.pull_request.title }}"},
                ],
            }
        },
    }
    assert hardening_problems(bad) == [
        "pull_request_target",
        "top-level permissions 'write-all'",
        "job j asks for write permissions",
        "unpinned action actions/checkout@v4",
        "expression inside run: 'echo ${{ github.event.pull_request.title'",
    ]


def test_pull_requests_run_check_base_and_pushes_run_audit() -> None:
    jobs = load(WORKFLOW)["jobs"]
    check = [s for s in jobs["check"]["steps"] if "gitreg check" in str(s.get("run", ""))]
    assert [s["run"] for s in check] == ['gitreg check --base "$BASE_SHA" --format github']
    assert check[0]["env"] == {
        "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
        "GITHUB_TOKEN": "${{ secrets.GITREG_FORGE_TOKEN || github.token }}",
    }
    assert jobs["check"]["if"] == (
        "github.event_name == 'pull_request' || github.event_name == 'pull_request_review'"
    )
    assert jobs["check"]["permissions"] == {"contents": "read", "pull-requests": "read"}
    audit = [s for s in jobs["audit"]["steps"] if "gitreg audit" in str(s.get("run", ""))]
    assert audit and jobs["audit"]["if"] == "github.event_name == 'push'"
    for job in ("check", "audit"):
        checkout = jobs[job]["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_codeowners_covers_the_policy_and_the_workflows() -> None:
    owned = {
        line.split()[0]
        for line in (TEMPLATE / ".github/CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"/gitreg.yaml", "/.github/", "/CODEOWNERS", "/models/", "/.gitreg/"} <= owned


def test_template_policy_sends_production_through_a_pull_request() -> None:
    from gitreg.config import Config
    from gitreg.files import schema, yamlio

    doc = yamlio.load((TEMPLATE / "gitreg.yaml").read_bytes(), "gitreg.yaml")
    schema.validate(doc, "config")
    rule = Config.from_dict(doc.data).rule("any-model", "Production")
    assert (rule.via, rule.from_stages, rule.exclusive) == ("pull_request", ("Staging",), True)
    assert {"description": "required"} in rule.gates and {"artifact": "verified"} in rule.gates


@pytest.mark.parametrize("name", ["pull_request_template.md"])
def test_template_files_exist(name: str) -> None:
    assert (TEMPLATE / ".github" / name).read_text().strip()
    readme = (TEMPLATE / "README.md").read_text()
    assert "gh api -X PUT repos/OWNER/REPO/branches/main/protection" in readme
    assert "require_code_owner_reviews" in readme and "pull_request_target" in readme


def test_gitlab_ci_runs_check_base_and_audit() -> None:
    doc = yaml.safe_load((TEMPLATE / ".gitlab-ci.yml").read_text())
    assert "gitreg check --base FETCH_HEAD" in doc["gitreg-check"]["script"]
    assert doc["gitreg-check"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert "gitreg audit --branch HEAD" in doc["gitreg-audit"]["script"]


def test_action_and_pre_commit_hooks() -> None:
    action = load(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    assert hardening_problems(action) == []
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"gitreg-check", "gitreg-check-base"}
    assert all(h["entry"].startswith("gitreg check") and h["language"] == "python" for h in hooks)
