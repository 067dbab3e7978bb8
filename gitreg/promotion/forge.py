"""The forge that hosts the registry, behind one front: where pull requests go
(``find_target``), opening one (``open_pull_request``), asking for auto-merge
(``request_auto_merge``) and a client for reading reviews (``client``). The clients live
in ``promotion.forges`` (GitHub, GitLab, one HTTP client); this module only picks one.

``find_target``: ``remote:`` in gitreg.yaml (``forge``, ``repository``, ``api_url``),
else the CI environment (GitLab's ``CI_API_V4_URL`` and ``CI_PROJECT_PATH``), else the
remote URL (github.com; a host named gitlab.*). Tokens: GitHub ``GITHUB_TOKEN`` or
``GH_TOKEN`` (else the ``gh`` CLI); GitLab ``GITLAB_TOKEN``, else ``CI_JOB_TOKEN``.
Imported lazily: only commands that talk to a forge load it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitreg.promotion.forges.github import DEFAULT_API, GitHub, PullRequest, gh_create
from gitreg.promotion.forges.gitlab import GitLab
from gitreg.promotion.forges.http import ForgeError

_GITHUB_URL = re.compile(
    r"(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)
_ANY_URL = re.compile(
    r"(?:https?://(?:[^@/]+@)?|ssh://(?:[^@/]+@)?|[^@/:]+@)([^/:]+)(?::\d+)?[:/]"
    r"([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+?)(?:\.git)?/?$"
)


@dataclass(frozen=True, slots=True)
class Target:
    repository: str  # owner/name (GitHub) or group/.../project (GitLab)
    api_url: str
    kind: str = "github"  # github | gitlab


def find_target(
    remote: Mapping[str, Any], remote_url: str | None, env: Mapping[str, str] | None = None
) -> Target | None:
    """Where pull requests go, or None when no forge is configured or recognisable."""
    env = os.environ if env is None else env
    kind = remote.get("forge")
    if kind == "none":
        return None
    repository = remote.get("repository")
    host = None
    if remote_url:
        m = _ANY_URL.match(remote_url.strip())
        host = m.group(1) if m else None
        if kind is None and _GITHUB_URL.match(remote_url.strip()):
            kind = "github"
        elif (
            kind is None
            and host
            and (host.startswith("gitlab.") or host == env.get("CI_SERVER_HOST"))
        ):
            kind = "gitlab"
        if not repository and m and kind in ("github", "gitlab"):
            repository = m.group(2).removesuffix(".git")
    if kind is None and env.get("CI_API_V4_URL"):
        kind = "gitlab"
    if kind == "gitlab":
        repository = repository or env.get("CI_PROJECT_PATH")
        api = (
            remote.get("api_url") or env.get("CI_API_V4_URL") or (host and f"https://{host}/api/v4")
        )
        if not repository or not api:
            return None
        return Target(str(repository), str(api).rstrip("/"), "gitlab")
    if not repository:
        return None
    api = remote.get("api_url") or env.get("GITHUB_API_URL") or DEFAULT_API
    return Target(str(repository), str(api).rstrip("/"))


def token(env: Mapping[str, str] | None = None) -> str | None:
    """GitHub's token from the environment."""
    env = os.environ if env is None else env
    return env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None


def client(target: Target, env: Mapping[str, str] | None = None) -> GitHub | GitLab:
    """An API client for ``target`` with the environment's token."""
    env = os.environ if env is None else env
    if target.kind == "gitlab":
        if env.get("GITLAB_TOKEN"):
            header = ("PRIVATE-TOKEN", env["GITLAB_TOKEN"])
        elif env.get("CI_JOB_TOKEN"):
            header = ("JOB-TOKEN", env["CI_JOB_TOKEN"])
        else:
            raise ForgeError("no GITLAB_TOKEN or CI_JOB_TOKEN is set")
        return GitLab(target.api_url, target.repository, header)
    tok = token(env)
    if not tok:
        raise ForgeError("no GITHUB_TOKEN or GH_TOKEN is set")
    return GitHub(target.api_url, tok)


def open_pull_request(  # noqa: PLR0913 (a pull request's fields)
    target: Target,
    head: str,
    base: str,
    title: str,
    body: str,
    env: Mapping[str, str] | None = None,
) -> PullRequest:
    """Open (or find the open) pull request or merge request of ``head`` into ``base``."""
    if target.kind == "github" and not token(env) and shutil.which("gh"):
        return gh_create(target.repository, head, base, title, body)
    if target.kind == "github" and not token(env):
        raise ForgeError("no GITHUB_TOKEN or GH_TOKEN is set and the gh CLI is not installed")
    api = client(target, env)
    if isinstance(api, GitLab):
        return api.create_mr(head, base, title, body)
    return api.create_pull(target.repository, head, base, title, body)


def request_auto_merge(
    target: Target, pr: PullRequest, head_sha: str, env: Mapping[str, str] | None = None
) -> str:
    """Ask the forge to merge once checks pass: "auto-merge", or "merged" if it merged at
    once. Raises ForgeError when it refuses (auto-merge off in the repository's settings)."""
    api = client(target, env)
    if isinstance(api, GitLab):
        return api.auto_merge(pr.number, head_sha)
    return api.enable_auto_merge(target.repository, pr)


__all__ = [
    "ForgeError",
    "GitHub",
    "GitLab",
    "PullRequest",
    "Target",
    "client",
    "find_target",
    "open_pull_request",
    "request_auto_merge",
    "token",
]
