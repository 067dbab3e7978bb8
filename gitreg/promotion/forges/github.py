"""GitHub: open a pull request, ask for auto-merge, and read what ``gitreg check`` needs
to count approvals (the pull request, its reviews, team membership).

Auto-merge has no REST endpoint; it is the GraphQL mutation ``enablePullRequestAutoMerge``
(on the pull request's ``node_id``). GitHub refuses it when the pull request can already be
merged ("clean status": every requirement met); then the REST merge endpoint merges it,
pinned to the head gitreg pushed (``sha``), which is what auto-merge would have done.
Without a token, the ``gh`` CLI opens the pull request if it is installed.
"""

from __future__ import annotations

import re
import subprocess
import urllib.parse
from dataclasses import dataclass
from typing import Any

from gitreg.promotion.forges.http import ForgeError, Http, message

DEFAULT_API = "https://api.github.com"
_AUTO_MERGE = """\
mutation($id: ID!, $method: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) {
    pullRequest { number }
  }
}"""


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    url: str
    created: bool  # False: it already existed
    node_id: str = ""


class GitHub:
    """The GitHub REST (and one GraphQL) calls gitreg makes."""

    def __init__(self, api_url: str, token: str, **http: Any) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = Http(
            self.api_url,
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            **http,
        )

    def create_pull(
        self, repository: str, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        """Open the pull request of ``head`` into ``base``, or find the open one."""
        owner = repository.split("/", maxsplit=1)[0]
        payload = {
            "title": title,
            "head": head,
            "base": base,
            "body": body,
            "maintainer_can_modify": False,
        }
        answer = self.http.call("POST", f"/repos/{repository}/pulls", payload)
        if answer.status == 201 and isinstance(answer.data, dict):
            return _pull(answer.data, True)
        if answer.status == 422:
            query = {"head": f"{owner}:{head}", "base": base, "state": "open"}
            found = self.http.call("GET", f"/repos/{repository}/pulls", query=query)
            if found.status == 200 and isinstance(found.data, list) and found.data:
                return _pull(found.data[0], False)
        raise ForgeError(
            f"GitHub refused the pull request ({answer.status}): {message(answer.data)}"
        )

    def enable_auto_merge(self, repository: str, pr: PullRequest, method: str = "MERGE") -> str:
        """Ask GitHub to merge once the required checks pass; returns "auto-merge" or
        "merged" (it could be merged at once)."""
        node = pr.node_id or str(self.pull(repository, pr.number).get("node_id", ""))
        answer = self.http.call(
            "POST",
            _graphql_url(self.api_url),
            {"query": _AUTO_MERGE, "variables": {"id": node, "method": method}},
        )
        errors = answer.data.get("errors") if isinstance(answer.data, dict) else None
        if answer.status == 200 and not errors:
            return "auto-merge"
        text = "; ".join(str(e.get("message", e)) for e in errors or [] if isinstance(e, dict))
        if "clean status" in text:
            return self.merge(repository, pr.number)
        raise ForgeError(
            f"GitHub did not enable auto-merge ({answer.status}): {text or 'no details'}"
        )

    def merge(self, repository: str, number: int, method: str = "merge") -> str:
        """Merge now, pinned to the head the pull request has this moment."""
        sha = str((self.pull(repository, number).get("head") or {}).get("sha", ""))
        answer = self.http.call(
            "PUT", f"/repos/{repository}/pulls/{number}/merge", {"merge_method": method, "sha": sha}
        )
        if answer.status == 200:
            return "merged"
        raise ForgeError(
            f"GitHub did not merge #{number} ({answer.status}): {message(answer.data)}"
        )

    def pull(self, repository: str, number: int) -> dict[str, Any]:
        answer = self.http.call("GET", f"/repos/{repository}/pulls/{number}")
        if answer.status != 200 or not isinstance(answer.data, dict):
            raise ForgeError(
                f"GitHub has no pull request #{number} in {repository} ({answer.status})"
            )
        return answer.data

    def reviews(self, repository: str, number: int) -> list[dict[str, Any]]:
        """Every review of the pull request, oldest first."""
        return [
            r
            for r in self.http.pages(f"/repos/{repository}/pulls/{number}/reviews")
            if isinstance(r, dict)
        ]

    def in_team(self, org: str, team: str, user: str) -> bool:
        """Is ``user`` an active member of ``org/team``? (the token needs members: read)."""
        path = "/orgs/{}/teams/{}/memberships/{}".format(
            *(urllib.parse.quote(x, safe="") for x in (org, team, user))
        )
        answer = self.http.call("GET", path)
        if answer.status == 404:
            return False
        if answer.status != 200 or not isinstance(answer.data, dict):
            raise ForgeError(
                f"could not read the membership of @{org}/{team} ({answer.status}): "
                f"{message(answer.data)}; the token needs the members: read permission"
            )
        return answer.data.get("state") == "active"


def _pull(data: dict[str, Any], created: bool) -> PullRequest:
    return PullRequest(
        int(data["number"]), str(data["html_url"]), created, str(data.get("node_id", ""))
    )


def _graphql_url(api_url: str) -> str:
    """api.github.com/graphql; GitHub Enterprise Server: https://HOST/api/graphql."""
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return api_url + "/graphql"


def gh_create(repository: str, head: str, base: str, title: str, body: str) -> PullRequest:
    """``gh pr create`` (no token, gh installed)."""
    args = ["gh", "pr", "create", "--repo", repository, "--head", head, "--base", base]
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
