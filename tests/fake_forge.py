"""Fake GitHub and GitLab servers on 127.0.0.1 that implement exactly the endpoints gitreg
calls, over a real bare repository: a pull request's head is the bare repo's branch as it
is now, and merging (at once, or by auto-merge once ``required(pr)`` passes) writes a
merge commit onto the bare repo's main with git plumbing, as the forge's merge button
does. Reviews and approvals are set by the test, as people on the website would."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _git(bare: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=bare, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return proc.stdout.strip()


class FakeForge:
    """What both forges share: pull requests over a bare repo, a merger thread."""

    def __init__(self, bare: Path, owner_repo: str = "acme/models") -> None:
        self.bare = bare
        self.repo = owner_repo
        self.prs: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.tokens: dict[str, str] = {"t0k": "trainer"}  # token -> user
        self.required: Callable[[dict[str, Any]], bool] = lambda pr: True
        self.lock = threading.RLock()
        forge = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _go(self, method: str) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with forge.lock:
                    forge.requests.append((method, url.path, body))
                    status, answer, headers = forge.route(
                        method, url.path, query, body, dict(self.headers)
                    )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._go("GET")

            def do_POST(self) -> None:
                self._go("POST")

            def do_PUT(self) -> None:
                self._go("PUT")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self._merger = threading.Thread(target=self._auto_merge_loop, daemon=True)
        self._merger.start()

    def close(self) -> None:
        self._stop.set()
        self._merger.join()
        self.server.shutdown()
        self.server.server_close()

    def route(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    # --- the repository ---------------------------------------------------------------

    def head_sha(self, pr: dict[str, Any]) -> str:
        return _git(self.bare, "rev-parse", f"refs/heads/{pr['head']}")

    def open_pr(self, head: str, base: str, title: str, author: str) -> dict[str, Any]:
        number = len(self.prs) + 1
        pr = {
            "number": number,
            "head": head,
            "base": base,
            "title": title,
            "author": author,
            "state": "open",
            "merged": False,
            "auto_merge": False,
            "merge_sha": None,
        }
        self.prs[number] = pr
        return pr

    def merge(self, pr: dict[str, Any], sha: str | None = None) -> str | None:
        """Merge the head into the base with a merge commit; None on a conflict."""
        head = self.head_sha(pr)
        if sha and sha != head:
            return None
        base = _git(self.bare, "rev-parse", f"refs/heads/{pr['base']}")
        tree = _git(self.bare, "merge-tree", "--write-tree", base, head, check=False)
        if not re.fullmatch(r"[0-9a-f]{40}", tree):
            return None
        msg = self.merge_message(pr)
        new = _git(self.bare, "commit-tree", tree, "-p", base, "-p", head, "-m", msg)
        _git(self.bare, "update-ref", f"refs/heads/{pr['base']}", new, base)
        pr.update(state="closed", merged=True, merge_sha=new)
        return new

    def merge_message(self, pr: dict[str, Any]) -> str:
        return f"Merge pull request #{pr['number']} from {self.repo.split('/')[0]}/{pr['head']}"

    def _auto_merge_loop(self) -> None:
        while not self._stop.wait(0.05):
            with self.lock:
                for pr in list(self.prs.values()):
                    if pr["auto_merge"] and pr["state"] == "open" and self.required(pr):
                        self.merge(pr)

    def wait_merged(self, number: int, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.prs[number]["merged"]:
            time.sleep(0.05)


class FakeGitHubForge(FakeForge):
    """GitHub: REST pulls, reviews, merge, team memberships; GraphQL auto-merge."""

    def __init__(self, bare: Path, owner_repo: str = "acme/models") -> None:
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        self.teams: dict[str, set[str]] = {}
        self.clean_status = False  # GraphQL refuses auto-merge: the PR can merge at once
        super().__init__(bare, owner_repo)

    def review(
        self, number: int, user: str, state: str = "APPROVED", sha: str | None = None
    ) -> None:
        pr = self.prs[number]
        with self.lock:
            self.reviews.setdefault(number, []).append(
                {
                    "id": sum(map(len, self.reviews.values())) + 1,
                    "user": {"login": user},
                    "state": state,
                    "commit_id": sha or self.head_sha(pr),
                }
            )

    def _json(self, pr: dict[str, Any]) -> dict[str, Any]:
        return {
            "number": pr["number"],
            "html_url": f"https://github.example/{self.repo}/pull/{pr['number']}",
            "node_id": f"PR_{pr['number']}",
            "state": pr["state"],
            "merged": pr["merged"],
            "title": pr["title"],
            "user": {"login": pr["author"]},
            "head": {"ref": pr["head"], "sha": self.head_sha(pr)},
            "base": {"ref": pr["base"]},
        }

    def route(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        auth = headers.get("Authorization", "").removeprefix("Bearer ")
        if auth not in self.tokens:
            return 401, {"message": "Bad credentials"}, {}
        user = self.tokens[auth]
        pulls = f"/repos/{self.repo}/pulls"
        m = re.fullmatch(rf"{pulls}/(\d+)(/reviews|/merge)?", path)
        if method == "POST" and path == pulls:
            if any(p["head"] == body["head"] and p["state"] == "open" for p in self.prs.values()):
                return (
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [{"message": "A pull request already exists"}],
                    },
                    {},
                )
            return (
                201,
                self._json(self.open_pr(body["head"], body["base"], body["title"], user)),
                {},
            )
        if method == "GET" and path == pulls:
            head = query.get("head", "").partition(":")[2]
            found = [
                self._json(p)
                for p in self.prs.values()
                if p["head"] == head and p["state"] == query.get("state", "open")
            ]
            return 200, found, {}
        if m and m.group(2) is None and method == "GET":
            return 200, self._json(self.prs[int(m.group(1))]), {}
        if m and m.group(2) == "/reviews" and method == "GET":
            items = self.reviews.get(int(m.group(1)), [])
            page, per = int(query.get("page", 1)), int(query.get("per_page", 30))
            chunk = items[(page - 1) * per : page * per]
            link = {}
            if page * per < len(items):
                nxt = f"{self.url}{path}?per_page={per}&page={page + 1}"
                link = {"Link": f'<{nxt}>; rel="next"'}
            return 200, chunk, link
        if m and m.group(2) == "/merge" and method == "PUT":
            pr = self.prs[int(m.group(1))]
            if body.get("sha") and body["sha"] != self.head_sha(pr):
                return (
                    409,
                    {"message": "Head branch was modified. Review and try the merge again."},
                    {},
                )
            sha = self.merge(pr)
            if sha is None:
                return 405, {"message": "Pull Request is not mergeable"}, {}
            return (
                200,
                {"sha": sha, "merged": True, "message": "Pull Request successfully merged"},
                {},
            )
        if method == "POST" and path == "/graphql":
            node = body["variables"]["id"]
            pr = next((p for p in self.prs.values() if f"PR_{p['number']}" == node), None)
            if pr is None:
                return (
                    200,
                    {
                        "errors": [
                            {
                                "message": f"Could not resolve to a node with the global id of {node!r}"  # noqa: E501
                            }
                        ]
                    },
                    {},
                )
            if self.clean_status:
                return (
                    200,
                    {"errors": [{"message": "Pull request Pull request is in clean status"}]},
                    {},
                )
            pr["auto_merge"] = True
            return (
                200,
                {"data": {"enablePullRequestAutoMerge": {"pullRequest": {"number": pr["number"]}}}},
                {},
            )
        t = re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)", path)
        if t and method == "GET":
            if t.group(3) in self.teams.get(f"{t.group(1)}/{t.group(2)}", set()):
                return 200, {"state": "active", "role": "member"}, {}
            return 404, {"message": "Not Found"}, {}
        return 404, {"message": f"Not Found: {method} {path}"}, {}


class FakeGitLab(FakeForge):
    """GitLab v4: merge requests, merge (auto-merge), approvals, approval settings, group
    members. Approvals are reset on every push when ``reset_on_push`` (as the setting)."""

    def __init__(self, bare: Path, project: str = "acme/ml/models") -> None:
        self.approved: dict[int, list[tuple[dict[str, Any], str]]] = {}  # iid -> (user, sha)
        self.users = {"trainer": 1, "alice": 2, "bob": 3, "carol": 4}
        self.groups: dict[str, set[str]] = {}
        self.reset_on_push = True
        super().__init__(bare, project)
        self.tokens = {"glpat": "trainer"}

    def approve(self, iid: int, user: str) -> None:
        with self.lock:
            entry = {"id": self.users[user], "username": user}
            self.approved.setdefault(iid, []).append((entry, self.head_sha(self.prs[iid])))

    def merge_message(self, pr: dict[str, Any]) -> str:
        return (
            f"Merge branch '{pr['head']}' into '{pr['base']}'\n\n{pr['title']}\n\n"
            f"See merge request {self.repo}!{pr['number']}"
        )

    def _json(self, pr: dict[str, Any]) -> dict[str, Any]:
        return {
            "iid": pr["number"],
            "web_url": f"https://gitlab.example/{self.repo}/-/merge_requests/{pr['number']}",
            "state": "merged"
            if pr["merged"]
            else ("opened" if pr["state"] == "open" else "closed"),
            "title": pr["title"],
            "sha": self.head_sha(pr),
            "source_branch": pr["head"],
            "target_branch": pr["base"],
            "author": {"id": self.users.get(pr["author"], 99), "username": pr["author"]},
            "merge_when_pipeline_succeeds": pr["auto_merge"],
        }

    def route(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        token = headers.get("PRIVATE-TOKEN") or headers.get("JOB-TOKEN") or ""
        if token not in self.tokens:
            return 401, {"message": "401 Unauthorized"}, {}
        user = self.tokens[token]
        project = "/projects/" + urllib.parse.quote(self.repo, safe="")
        mrs = f"{project}/merge_requests"
        m = re.fullmatch(rf"{re.escape(mrs)}/(\d+)(/approvals|/merge)?", path)
        if method == "POST" and path == mrs:
            src = body["source_branch"]
            same = [p for p in self.prs.values() if p["head"] == src and p["state"] == "open"]
            if same:
                return (
                    409,
                    {
                        "message": [
                            "Another open merge request already exists for this source branch: "
                            f"!{same[0]['number']}"
                        ]
                    },
                    {},
                )
            pr = self.open_pr(src, body["target_branch"], body["title"], user)
            return 201, self._json(pr), {}
        if method == "GET" and path == mrs:
            found = [
                self._json(p)
                for p in self.prs.values()
                if p["head"] == query.get("source_branch") and p["state"] == "open"
            ]
            return 200, found, {}
        if method == "GET" and path == f"{project}/approvals":
            return (
                200,
                {"reset_approvals_on_push": self.reset_on_push, "approvals_before_merge": 0},
                {},
            )
        if m and m.group(2) is None and method == "GET":
            return 200, self._json(self.prs[int(m.group(1))]), {}
        if m and m.group(2) == "/approvals" and method == "GET":
            pr = self.prs[int(m.group(1))]
            head = self.head_sha(pr)
            got = [
                u
                for u, sha in self.approved.get(pr["number"], [])
                if sha == head or not self.reset_on_push
            ]
            return 200, {"approved": bool(got), "approved_by": [{"user": u} for u in got]}, {}
        if m and m.group(2) == "/merge" and method == "PUT":
            pr = self.prs[int(m.group(1))]
            if body.get("sha") and body["sha"] != self.head_sha(pr):
                return 409, {"message": "SHA does not match HEAD of source branch"}, {}
            if body.get("auto_merge") or body.get("merge_when_pipeline_succeeds"):
                pr["auto_merge"] = True
                return 200, self._json(pr), {}
            if self.merge(pr) is None:
                return 422, {"message": "Branch cannot be merged"}, {}
            return 200, self._json(pr), {}
        g = re.fullmatch(r"/groups/([^/]+)/members/all/(\d+)", path)
        if g and method == "GET":
            group = urllib.parse.unquote(g.group(1))
            name = next((u for u, i in self.users.items() if i == int(g.group(2))), "")
            if name in self.groups.get(group, set()):
                return 200, {"id": int(g.group(2)), "username": name, "access_level": 30}, {}
            return 404, {"message": "404 Not found"}, {}
        return 404, {"message": f"404 Not Found: {method} {path}"}, {}
