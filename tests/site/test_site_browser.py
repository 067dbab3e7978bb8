"""The static site in a real browser: Debian's headless Chromium driven by Playwright opens
the rendered pages from file://, checks what a person sees, types in the filter box, and
proves a hostile description does not run. Screenshots of each page kind are saved under
tests/artifacts/site/ (git-ignored)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_site import make_registry

from gitreg.site import build_site

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "site"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt-get install chromium; .ci/run does it)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright  # the test extra; a missing one fails

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    reg = make_registry(tmp_path / "reg", tmp_path / "artifacts")
    build_site(reg, tmp_path / "site")
    return tmp_path / "site"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records every dialog, console error and request off this machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.dialogs = []
    pg.remote = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on(
        "request",
        lambda r: pg.remote.append(r.url) if not r.url.startswith("file://") else None,
    )
    yield pg
    context.close()


def shot(pg: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_index_shows_models_and_the_filter_filters(site: Path, page: Any) -> None:
    page.goto((site / "index.html").as_uri())
    rows = page.locator("#models tbody tr")
    assert rows.count() == 4
    assert page.locator("tr[data-model=fraud]").is_visible()
    assert "Catches card fraud." in page.locator("tr[data-model=fraud]").inner_text()
    shot(page, "index")
    page.fill("#filter", "growth")  # churn's owner tag
    visible = [r.get_attribute("data-model") for r in rows.all() if r.is_visible()]
    assert visible == ["churn"]
    page.fill("#filter", "")
    assert sum(r.is_visible() for r in rows.all()) == 4
    page.click("text=fraud")
    assert page.url.endswith("/models/fraud/index.html")
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [] and page.remote == []


def test_model_page_renders_and_hostile_description_stays_inert(site: Path, page: Any) -> None:
    page.goto((site / "models/fraud/index.html").as_uri())
    desc = page.locator(".desc")
    assert "<script>window.__pwned = 1" in desc.inner_text()  # shown as text
    assert desc.locator("script, img").count() == 0
    assert page.locator("svg.chart").count() == 2
    assert page.locator("svg.chart").first.is_visible()
    assert page.locator("svg.chart circle.prod").count() == 4  # v1, v2 on two charts
    assert page.locator("#versions tbody tr").count() == 3
    assert page.get_by_text("Production", exact=True).first.is_visible()
    page.click("text=click me")  # the javascript: link was dropped: clicking does nothing
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [] and page.remote == []
    shot(page, "model")


def test_version_page_shows_fields_uris_and_snippets(site: Path, page: Any) -> None:
    page.goto((site / "models/fraud/v2.html").as_uri())
    assert page.locator("h1").inner_text().startswith("fraud v2")
    assert page.locator("#uris li").all_inner_texts() == [
        "models:/fraud/2",
        "models:/fraud@champion",
        "models:/fraud/Production",
    ]
    assert page.get_by_text("gitreg download models:/fraud/2 ./fraud-v2").is_visible()
    shot(page, "version")
    page.goto((site / "models/ranker/v1.html").as_uri())
    assert page.locator("#files tbody tr").count() == 2
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [] and page.remote == []


def test_the_detector_sees_a_script_that_does_run(tmp_path: Path, page: Any) -> None:
    """The control: the same checks do catch a payload that executes."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><p>x</p><script>window.__pwned = 1; alert('ran')</script>")
    page.goto(bad.as_uri())
    assert page.evaluate("window.__pwned") == 1
    assert page.dialogs == ["ran"]
