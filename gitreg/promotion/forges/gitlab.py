"""GitLab (REST v4): open a merge request, ask for auto-merge, and read what
``gitreg check`` needs to count approvals (the MR, its approvals, group membership).

Tokens: ``GITLAB_TOKEN`` (a personal, project or group access token, sent as
``PRIVATE-TOKEN``), else ``CI_JOB_TOKEN`` (``JOB-TOKEN``). GitLab lets a job token reach
only a short list of endpoints, so opening a merge request and reading approvals from CI
need ``GITLAB_TOKEN`` as a masked CI/CD variable. Auto-merge is ``PUT .../merge`` with
``auto_merge`` (GitLab 17.11+) and the older ``merge_when_pipeline_succeeds``, pinned to
the head gitreg pushed (``sha``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from gitreg.promotion.forges.github import PullRequest
from gitreg.promotion.forges.http import ForgeError, Http, message


class GitLab:
    """The GitLab REST calls gitreg makes, for one project."""

    def __init__(self, api_url: str, project: str, header: tuple[str, str], **http: Any) -> None:
        self.api_url = api_url.rstrip("/")
        self.project = project
        self._p = "/projects/" + urllib.parse.quote(project, safe="")
        self.http = Http(self.api_url, {header[0]: header[1]}, **http)

    def create_mr(self, source: str, target: str, title: str, description: str) -> PullRequest:
        """Open the merge request of ``source`` into ``target``, or find the open one."""
        payload = {
            "source_branch": source,
            "target_branch": target,
            "title": title,
            "description": description,
            "remove_source_branch": True,
        }
        answer = self.http.call("POST", f"{self._p}/merge_requests", payload)
        if answer.status == 201 and isinstance(answer.data, dict):
            return _mr(answer.data, True)
        if answer.status == 409:
            query = {"source_branch": source, "target_branch": target, "state": "opened"}
            found = self.http.call("GET", f"{self._p}/merge_requests", query=query)
            if found.status == 200 and isinstance(found.data, list) and found.data:
                return _mr(found.data[0], False)
        raise ForgeError(
            f"GitLab refused the merge request ({answer.status}): {message(answer.data)}"
        )

    def auto_merge(self, iid: int, sha: str) -> str:
        """Merge once the pipeline succeeds; returns "auto-merge" or "merged"."""
        answer = self.http.call(
            "PUT",
            f"{self._p}/merge_requests/{iid}/merge",
            {"auto_merge": True, "merge_when_pipeline_succeeds": True, "sha": sha},
        )
        if answer.status == 200 and isinstance(answer.data, dict):
            return "merged" if answer.data.get("state") == "merged" else "auto-merge"
        raise ForgeError(
            f"GitLab did not set auto-merge on !{iid} ({answer.status}): {message(answer.data)}"
        )

    def mr(self, iid: int) -> dict[str, Any]:
        answer = self.http.call("GET", f"{self._p}/merge_requests/{iid}")
        if answer.status != 200 or not isinstance(answer.data, dict):
            raise ForgeError(
                f"GitLab has no merge request !{iid} in {self.project} ({answer.status})"
            )
        return answer.data

    def approvals(self, iid: int) -> dict[str, Any]:
        answer = self.http.call("GET", f"{self._p}/merge_requests/{iid}/approvals")
        if answer.status != 200 or not isinstance(answer.data, dict):
            raise ForgeError(
                f"could not read the approvals of !{iid} ({answer.status}): {message(answer.data)}"
            )
        return answer.data

    def settings(self) -> dict[str, Any]:
        """The project's approval settings (``reset_approvals_on_push`` ...)."""
        answer = self.http.call("GET", f"{self._p}/approvals")
        if answer.status != 200 or not isinstance(answer.data, dict):
            raise ForgeError(
                f"could not read the project's approval settings ({answer.status}): "
                f"{message(answer.data)}"
            )
        return answer.data

    def in_group(self, group: str, user_id: int) -> bool:
        """Is the user a member of ``group`` (directly, or through a parent group)?"""
        path = f"/groups/{urllib.parse.quote(group, safe='')}/members/all/{int(user_id)}"
        answer = self.http.call("GET", path)
        if answer.status == 404:
            return False
        if answer.status != 200:
            raise ForgeError(
                f"could not read the members of @{group} ({answer.status}): {message(answer.data)}"
            )
        return True


def _mr(data: dict[str, Any], created: bool) -> PullRequest:
    return PullRequest(int(data["iid"]), str(data["web_url"]), created)
