"""The static site: rendered from a real registry of several models, checked as HTML (content,
links, chart, escaping), re-rendered incrementally, driven through the CLI and a real
subprocess server, and opened in headless Chromium (see test_site_browser.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git

from gitreg import Registry
from gitreg.cli import cli
from gitreg.files.records import dump_record
from gitreg.layout import version_path
from gitreg.registry.template import init_registry
from gitreg.site import Links, build_site
from gitreg.site.html import markdown, safe_url

API_FILES = 1 + 4 + 5  # api/v1/: index.json, one per model, one per version (site/api.py)
CONFIG = """\
stages: [None, Staging, Production, Archived]
default_branch: main
artifacts:
  store: file://../registry-artifacts
  allowed: [file://]
promotion:
  Production: {via: commit, exclusive: true}
remote: {repository: acme/ml-registry}
"""
PAYLOAD = (
    "Catches card fraud.\n\n<script>window.__pwned = 1; alert('script')</script>\n\n"
    "<img src=x onerror=\"window.__pwned = 2; alert('img')\">\n\n"
    "[click me](javascript:window.__pwned=3) and [docs](https://example.com/docs)"
)


def make_registry(root: Path, artifact_dir: Path) -> Registry:
    """Four models: fraud (hostile description, two Production holders over time, a
    squash-merged pull request), churn (Markdown table), ranker (a folder artifact),
    empty (no versions)."""
    init_registry(root)
    (root / "gitreg.yaml").write_text(CONFIG)
    git(root, "commit", "-qam", "policy for the site tests")
    reg = Registry(root)
    artifact_dir.mkdir()
    blob = artifact_dir / "model.bin"
    blob.write_bytes(b"weights" * 50)
    folder = artifact_dir / "bundle"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"pkl")
    (folder / "conda.yaml").write_text("name: x\n")
    for auc, loss in [(0.81, 0.40), (0.86, 0.33), (0.84, 0.35)]:
        reg.register("fraud", blob, metrics={"auc": auc, "loss": loss}, params={"lr": "0.1"})
    reg.describe("fraud", PAYLOAD)
    reg.set_tag("fraud", "team", "<img src=x onerror=window.__pwned=4>")
    reg.transition("fraud", 1, "Production")
    reg.transition("fraud", 3, "Staging")
    mv = reg.get_version("fraud", 2).evolve(stage="Production")  # a squash-merged PR does this
    reg.transition("fraud", 1, "Archived")
    (root / version_path("fraud", 2)).write_bytes(dump_record(mv.to_dict(), "version"))
    git(root, "commit", "-qam", "Promote fraud v2 to Production (#7)")
    reg.set_alias("fraud", "champion", 2)
    reg.register("churn", blob, metrics={"auc": 0.7}, lineage={"run_id": "abc123"})
    reg.describe("churn", "Predicts churn.\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    reg.set_tag("churn", "owner", "growth-team")
    reg.register("ranker", folder, description="Ranks *things*.")
    reg.create_model("empty")
    return reg


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return make_registry(tmp_path / "reg", tmp_path / "artifacts")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.refs.append(value)


def local_refs(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text())
    return [r for r in parser.refs if not re.match(r"(https?:|mailto:|#)", r)]


def test_site_has_every_page_and_every_local_link_resolves(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "site"
    report = build_site(reg, out)
    pages = sorted(str(p.relative_to(out)) for p in out.rglob("*.html"))
    assert pages == [
        "index.html",
        "models/churn/index.html",
        "models/churn/v1.html",
        "models/empty/index.html",
        "models/fraud/index.html",
        "models/fraud/v1.html",
        "models/fraud/v2.html",
        "models/fraud/v3.html",
        "models/ranker/index.html",
        "models/ranker/v1.html",
    ]
    assert report.pages == 10 and report.unchanged == 0 and len(report.written) == 12 + API_FILES
    for page in out.rglob("*.html"):
        for ref in local_refs(page):
            target = (page.parent / ref.split("#")[0]).resolve()
            assert target.is_file(), f"{page.relative_to(out)} links to missing {ref}"
            assert out.resolve() in target.parents


def test_index_lists_models_with_stages_aliases_and_teams(reg: Registry, tmp_path: Path) -> None:
    build_site(reg, tmp_path / "site")
    index = (tmp_path / "site/index.html").read_text()
    row = re.search(r'<tr data-model="fraud".*?</tr>', index, re.S)
    assert row
    fraud = row.group(0)
    assert "Catches card fraud." in fraud
    assert '<a href="models/fraud/v2.html">v2</a>' in fraud  # Production
    assert '<a href="models/fraud/v3.html">v3</a>' in fraud  # Staging
    assert "@champion" in fraud
    assert "alias champion v2" in fraud  # the last change
    assert "&lt;img src=x onerror=window.__pwned=4&gt;" in fraud  # the team tag, escaped
    assert "growth-team" in index  # churn's owner tag
    assert 'id="filter"' in index and 'src="filter.js"' in index
    head = git(reg.root, "rev-parse", "HEAD").strip()
    assert f'href="https://github.com/acme/ml-registry/commit/{head}"' in index


def test_model_page_description_versions_chart_and_history(reg: Registry, tmp_path: Path) -> None:
    build_site(reg, tmp_path / "site")
    page = (tmp_path / "site/models/fraud/index.html").read_text()
    # the hostile description is inert text; the safe link survives, the javascript: one not
    assert "<script>window" not in page and "&lt;script&gt;window.__pwned" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror" in page
    assert "javascript:" not in page.replace("[click me](javascript:", "")
    assert '<a href="https://example.com/docs">docs</a>' in page
    assert page.count("<script") == 1  # only our own filter.js
    # versions table: stage badges, alias, metric columns
    assert '<span class="badge st-production">Production</span>' in page
    assert '<span class="badge st-archived">Archived</span>' in page
    assert "<th>auc</th><th>loss</th>" in page and "<td>0.86</td>" in page
    # one chart per metric; v1 and v2 held Production, v2 is the current one (ringed)
    charts = re.findall(r'<svg class="chart" data-metric="(\w+)"', page)
    assert charts == ["auc", "loss"]
    assert re.search(r'class="pt prod" data-version="1"', page)
    assert re.search(r'class="pt prod" data-version="2"', page)
    assert not re.search(r'class="pt prod" data-version="3"', page)
    assert 'class="current"' in page
    # history with commit and pull-request links
    assert "v2: Staging -&gt; Production" not in page  # v2 went None -> Production by hand
    assert "v2: None -&gt; Production" in page
    assert 'href="https://github.com/acme/ml-registry/pull/7">#7</a>' in page
    assert re.search(r'href="https://github.com/acme/ml-registry/commit/[0-9a-f]{40}"', page)


def test_version_page_fields_uris_files_and_snippets(reg: Registry, tmp_path: Path) -> None:
    build_site(reg, tmp_path / "site")
    v2 = (tmp_path / "site/models/fraud/v2.html").read_text()
    for uri in ["models:/fraud/2", "models:/fraud@champion", "models:/fraud/Production"]:
        assert f"<li><code>{uri}</code></li>" in v2
    assert "models:/fraud/latest" not in v2
    mv = reg.get_version("fraud", 2)
    assert mv.artifact.digest in v2 and mv.artifact.uri in v2
    assert "gitreg download models:/fraud/2 ./fraud-v2" in v2
    assert "set_registry_uri(&quot;gitreg:///path/to/registry&quot;)" in v2
    assert "Production 20" in v2  # when it held Production
    v3 = (tmp_path / "site/models/fraud/v3.html").read_text()
    assert "<li><code>models:/fraud/latest</code></li>" in v3
    assert "<li><code>models:/fraud/Staging</code></li>" in v3
    ranker = (tmp_path / "site/models/ranker/v1.html").read_text()
    assert "<code>conda.yaml</code>" in ranker and "<code>model.pkl</code>" in ranker
    assert "<em>things</em>" in ranker
    churn = (tmp_path / "site/models/churn/v1.html").read_text()
    assert "abc123" in churn


def test_rerender_writes_only_what_changed(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(reg, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}
    again = build_site(reg, out)
    assert again.written == [] and again.unchanged == 12 + API_FILES
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.html")} == before
    reg.set_tag("churn", "k", "v", version=1)
    changed = build_site(reg, out)
    assert sorted(changed.written) == [
        "api/v1/index.json",  # the commit, and churn.json's digest
        "api/v1/models/churn.json",  # v1's digest
        "api/v1/models/churn/versions/1.json",
        "index.html",  # the last change column
        "models/churn/index.html",
        "models/churn/v1.html",
    ]
    reg.delete_model("empty")
    gone = build_site(reg, out)
    assert gone.removed == ["api/v1/models/empty.json", "models/empty/index.html"]
    assert not (out / "models/empty").exists()


def test_links_from_config_and_templates() -> None:
    assert Links.from_remote({}).commit is None
    assert Links.from_remote({"repository": "a/b", "forge": "none"}).commit is None
    ghe = Links.from_remote({"repository": "a/b", "api_url": "https://git.corp/api/v3"})
    assert ghe.commit == "https://git.corp/a/b/commit/{sha}"
    hostile = Links(commit="javascript:alert('{sha}')", pull='https://x/"><b>{number}')
    assert hostile.commit_link("ab" * 20) == "<code>abababab" + "ab</code>"
    assert hostile.pull_link(3) == '<a href="https://x/&quot;&gt;&lt;b&gt;3">#3</a>'


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JaVaScRiPt:x", "data:text/html,x", "vbscript:x", "file:///etc"]
)
def test_unsafe_markdown_links_are_dropped(url: str) -> None:
    assert not safe_url(url)
    assert "href" not in markdown(f"[x]({url})")


def test_cli_json_and_real_subprocess_server(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "site"
    res = CliRunner().invoke(cli, ["--repo", str(reg.root), "site", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["pages"] == 10 and data["written"] == 12 + API_FILES and data["unchanged"] == 0
    res = CliRunner().invoke(
        cli,
        ["--repo", str(reg.root), "site", "-o", str(out), "--commit-url", "https://g/c/{sha}"],
    )
    assert res.exit_code == 0 and "0 removed" in res.output
    assert 'href="https://g/c/' in (out / "index.html").read_text()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(cli, ["--repo", str(reg.root), "site", "-o", str(blocker)])
    assert res.exit_code != 0 and "is not a folder" in res.output
    assert "Traceback" not in res.output
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gitreg",
            "--repo",
            str(reg.root),
            "site",
            "-o",
            str(out),
            "--serve",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # the summary
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
        assert m, "no serving line"
        with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/models/fraud/v2.html") as r:
            assert b"models:/fraud@champion" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_template_site_workflow_is_hardened() -> None:
    from registry.test_template import TEMPLATE, hardening_problems, load  # tests/ is on the path

    doc = load(TEMPLATE / ".github/workflows/site.yml")
    assert doc["on"] == {"push": {"branches": ["main"]}}
    deploy = doc["jobs"]["deploy"]
    # Pages needs exactly these two writes, on the deploy job only; the rest is read-only.
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert hardening_problems(doc) == ["job deploy asks for write permissions"]
    assert "permissions" not in doc["jobs"]["build"]
    run = [s["run"] for s in doc["jobs"]["build"]["steps"] if "run" in s]
    assert "gitreg site -o _site" in run


def test_site_as_of_a_ref(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "old"
    tip = git(reg.root, "log", "--format=%H", "-1", "--", "models/fraud/versions/3.yaml")
    res = CliRunner().invoke(
        cli, ["--repo", str(reg.root), "site", "-o", str(out), "--ref", tip.strip()]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "models").iterdir()) == ["fraud"]
    assert (out / "models/fraud/v3.html").is_file()
    assert tip.strip() in (out / "index.html").read_text()  # "built from commit"
