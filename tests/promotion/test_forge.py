"""The GitHub client against a recording HTTP server on 127.0.0.1 (the real GitHub is out
of reach here), and the gh CLI fallback through a stand-in ``gh`` on PATH."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitops_helpers import FakeGitHub

from gitreg.promotion import forge


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub()
    yield server
    server.close()


def test_create_pull_request(github: FakeGitHub) -> None:
    target = forge.Target("acme/models", github.url)
    pr = forge.open_pull_request(
        target, "promote/m-v1-production", "main", "m v1", "body", env={"GH_TOKEN": "t0k"}
    )
    assert pr == forge.PullRequest(12, "https://github.example/acme/pull/12", True)
    [req] = github.requests
    assert (req["method"], req["path"]) == ("POST", "/repos/acme/models/pulls")
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["authorization"] == "Bearer t0k"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert req["body"] == {
        "title": "m v1",
        "head": "promote/m-v1-production",
        "base": "main",
        "body": "body",
        "maintainer_can_modify": False,
    }


def test_an_existing_pull_request_is_found(github: FakeGitHub) -> None:
    github.status = 422
    github.answer = {"message": "Validation Failed", "errors": [{"message": "already exists"}]}
    github.existing = [{"number": 5, "html_url": "https://github.example/acme/pull/5"}]
    pr = forge.GitHub(github.url, "t").create_pull("acme/models", "b", "main", "t", "x")
    assert pr == forge.PullRequest(5, "https://github.example/acme/pull/5", False)
    assert (
        github.requests[1]["path"] == "/repos/acme/models/pulls?head=acme%3Ab&base=main&state=open"
    )


def test_refusals_and_unreachable(github: FakeGitHub) -> None:
    github.status = 403
    github.answer = {"message": "Resource not accessible by integration"}
    with pytest.raises(forge.ForgeError, match=r"refused the pull request \(403\): Resource not"):
        forge.GitHub(github.url, "t").create_pull("acme/models", "b", "main", "t", "x")
    github.close()
    with pytest.raises(forge.ForgeError, match="could not reach"):
        forge.GitHub(github.url, "t", timeout=2).create_pull("acme/models", "b", "main", "t", "x")
    with pytest.raises(forge.ForgeError, match="must be http"):
        forge.GitHub("file:///etc/passwd", "t")


def test_find_target() -> None:
    env: dict[str, str] = {}
    assert forge.find_target({}, "git@github.com:acme/models.git", env) == forge.Target(
        "acme/models", "https://api.github.com"
    )
    assert forge.find_target({}, "https://github.com/acme/models", env) == forge.Target(
        "acme/models", "https://api.github.com"
    )
    assert forge.find_target({}, "/srv/git/models.git", env) is None
    assert forge.find_target({"forge": "none"}, "https://github.com/a/b", env) is None
    ghes = {"GITHUB_API_URL": "https://ghe.example/api/v3"}
    assert forge.find_target({"repository": "a/b"}, None, ghes) == forge.Target(
        "a/b", "https://ghe.example/api/v3"
    )
    cfg = {"forge": "github", "repository": "a/b", "api_url": "http://127.0.0.1:1/"}
    assert forge.find_target(cfg, "/x", env) == forge.Target("a/b", "http://127.0.0.1:1")


def test_gh_cli_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "gh-args"
    gh = tmp_path / "bin" / "gh"
    gh.parent.mkdir()
    gh.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\ncat > {record}.body\n'
        'echo "https://github.com/acme/models/pull/9"\n'
    )
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{gh.parent}{os.pathsep}{os.environ['PATH']}")
    target = forge.Target("acme/models", "https://api.github.com")
    pr = forge.open_pull_request(target, "promote/x", "main", "title", "the body", env={})
    assert pr == forge.PullRequest(9, "https://github.com/acme/models/pull/9", True)
    args = record.read_text().splitlines()
    assert args[:8] == [
        "pr",
        "create",
        "--repo",
        "acme/models",
        "--head",
        "promote/x",
        "--base",
        "main",
    ]
    assert (tmp_path / "gh-args.body").read_text() == "the body"


def test_no_token_and_no_gh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(forge.ForgeError, match="no GITHUB_TOKEN or GH_TOKEN"):
        forge.open_pull_request(forge.Target("a/b", "https://x"), "h", "main", "t", "b", env={})
