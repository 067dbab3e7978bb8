"""Opening a pull request on the forge that hosts the registry (GitHub).

``find_target`` decides where: ``remote:`` in gitreg.yaml (``forge``, ``repository``,
``api_url``), else a github.com remote URL. ``open_pull_request`` uses the REST API
(``POST /repos/{owner}/{repo}/pulls``) with ``GITHUB_TOKEN`` or ``GH_TOKEN``; without a
token it falls back to the ``gh`` CLI when one is on PATH. If the pull request already
exists, the existing one is returned. stdlib only (urllib), imported by the CLI lazily.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitreg.errors import GitregError

DEFAULT_API = "https://api.github.com"
TIMEOUT = 30.0
_GITHUB_URL = re.compile(
    r"(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)


class ForgeError(GitregError):
    """The forge refused or could not be reached; the branch is still there."""


@dataclass(frozen=True, slots=True)
class Target:
    repository: str  # owner/name
    api_url: str


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    url: str
    created: bool  # False: it already existed


def find_target(
    remote: Mapping[str, Any], remote_url: str | None, env: Mapping[str, str] | None = None
) -> Target | None:
    """Where pull requests go, or None when no forge is configured or recognisable."""
    env = os.environ if env is None else env
    if remote.get("forge") == "none":
        return None
    repository = remote.get("repository")
    if not repository and remote_url:
        m = _GITHUB_URL.match(remote_url.strip())
        repository = m.group(1) if m else None
    if not repository:
        return None
    api = remote.get("api_url") or env.get("GITHUB_API_URL") or DEFAULT_API
    return Target(str(repository), str(api).rstrip("/"))


def token(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None


def open_pull_request(  # noqa: PLR0913 (a pull request's fields)
    target: Target,
    head: str,
    base: str,
    title: str,
    body: str,
    env: Mapping[str, str] | None = None,
) -> PullRequest:
    """Open (or find the open) pull request of ``head`` into ``base``."""
    tok = token(env)
    if tok:
        return GitHub(target.api_url, tok).create_pull(target.repository, head, base, title, body)
    if shutil.which("gh"):
        return _gh(target, head, base, title, body)
    raise ForgeError("no GITHUB_TOKEN or GH_TOKEN is set and the gh CLI is not installed")


class GitHub:
    """The two GitHub REST calls gitreg makes."""

    def __init__(self, api_url: str, token: str, timeout: float = TIMEOUT) -> None:
        if urllib.parse.urlsplit(api_url).scheme not in ("https", "http"):
            raise ForgeError(f"the forge API URL must be http(s): {api_url}")
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "gitreg",
                **({"Content-Type": "application/json"} if data else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                answer = json.loads(e.read() or b"null")
            except ValueError:
                answer = None
            return e.code, answer
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise ForgeError(f"could not reach {self.api_url}: {reason}") from None

    def create_pull(
        self, repository: str, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        owner = repository.split("/", maxsplit=1)[0]
        status, answer = self._call(
            "POST",
            f"/repos/{repository}/pulls",
            {
                "title": title,
                "head": head,
                "base": base,
                "body": body,
                "maintainer_can_modify": False,
            },
        )
        if status == 201 and isinstance(answer, dict):
            return PullRequest(int(answer["number"]), str(answer["html_url"]), True)
        if status == 422:
            query = urllib.parse.urlencode(
                {"head": f"{owner}:{head}", "base": base, "state": "open"}
            )
            found_status, found = self._call("GET", f"/repos/{repository}/pulls?{query}")
            if found_status == 200 and isinstance(found, list) and found:
                return PullRequest(int(found[0]["number"]), str(found[0]["html_url"]), False)
        raise ForgeError(f"GitHub refused the pull request ({status}): {_message(answer)}")


def _message(answer: Any) -> str:
    if not isinstance(answer, dict):
        return "no details"
    msg = str(answer.get("message", "no details"))
    errors = answer.get("errors")
    if isinstance(errors, list):
        msg += "; " + "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return msg


def _gh(target: Target, head: str, base: str, title: str, body: str) -> PullRequest:
    args = ["gh", "pr", "create", "--repo", target.repository, "--head", head, "--base", base]
    args += ["--title", title, "--body-file", "-"]
    try:
        proc = subprocess.run(
            args, input=body, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ForgeError(f"gh pr create failed: {e}") from None
    url = next((w for w in proc.stdout.split() if w.startswith("http")), "")
    if proc.returncode != 0 or not url:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise ForgeError(f"gh pr create failed: {lines[-1] if lines else proc.returncode}")
    m = re.search(r"/pull/(\d+)", url)
    return PullRequest(int(m.group(1)) if m else 0, url, True)
