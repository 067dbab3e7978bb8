"""An incremental re-render is byte for byte a full render: after each kind of change (a tag,
a stage transition, a new version, an alias, a deleted version or model, a rename, a hand
edit not yet committed, another ref, other links) the folder re-rendered in place holds
exactly the files a render into an empty folder does, api/v1 digests included. Pages edited
or deleted behind gitreg's back are made again, and a stale state is never trusted."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git
from test_site import make_registry

from gitreg import Registry
from gitreg.files.records import dump_record
from gitreg.layout import version_path
from gitreg.site import Links, SiteReport, build_site, render
from gitreg.site.state import fingerprint


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class Site:
    """One folder re-rendered in place, compared after each change with a fresh render."""

    def __init__(self, reg: Registry, tmp: Path) -> None:
        self.reg, self.tmp, self.out, self.n = reg, tmp, tmp / "site", 0

    def view(self, ref: str | None) -> Registry:
        view = Registry(self.reg.root)
        return view.at(ref) if ref else view  # type: ignore[return-value]

    def check(self, ref: str | None = None, links: Links | None = None) -> SiteReport:
        report = build_site(self.view(ref), self.out, links)
        self.n += 1
        fresh = self.tmp / f"fresh-{self.n}"
        build_site(self.view(ref), fresh, links)
        assert files(self.out) == files(fresh)
        made = render(self.view(ref), links)
        assert {k: v for k, v in files(fresh).items() if k != ".gitreg-site.json"} == made
        check_api_digests(self.out)
        return report


def check_api_digests(out: Path) -> None:
    """Every document names the sha256 of each document below it, as written."""
    api = out / "api/v1"
    index = json.loads((api / "index.json").read_bytes())
    docs = sorted(p for p in (api / "models").glob("*.json"))
    assert len(docs) == len(index["models"])
    for path in docs:
        model = json.loads(path.read_bytes())
        name = model["model"]["name"]
        assert index["models"][name] == hashlib.sha256(path.read_bytes()).hexdigest()
        versions = path.with_suffix("") / "versions"
        on_disk = {p.stem for p in versions.glob("*.json")}
        assert on_disk == set(model["versions"])
        for n, digest in model["versions"].items():
            assert hashlib.sha256((versions / f"{n}.json").read_bytes()).hexdigest() == digest


@pytest.fixture
def site(tmp_path: Path) -> Site:
    reg = make_registry(tmp_path / "reg", tmp_path / "artifacts")
    s = Site(reg, tmp_path)
    s.check()
    return s


def page(site: Site, rel: str) -> str:
    return (site.out / rel).read_text()


CHANGES: dict[str, Callable[[Registry], object]] = {
    "version tag": lambda r: r.set_tag("fraud", "k", "v", version=1),
    "model tag": lambda r: r.set_tag("churn", "team", "core"),
    "description": lambda r: r.describe("fraud", "New *words*.", version=2),
    "to Staging": lambda r: r.transition("fraud", 1, "Staging"),
    "to Production": lambda r: r.transition("fraud", 3, "Production"),
    "new version": lambda r: r.register("fraud", r.root.parent / "artifacts/model.bin"),
    "alias moved": lambda r: r.set_alias("fraud", "champion", 3),
    "alias deleted": lambda r: r.delete_alias("fraud", "champion"),
    "version deleted": lambda r: r.delete_version("fraud", 1),
    "model deleted": lambda r: r.delete_model("churn"),
    "model renamed": lambda r: r.rename("ranker", "ranker2"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_one_change_rerenders_to_the_bytes_of_a_full_render(site: Site, change: str) -> None:
    CHANGES[change](site.reg)
    report = site.check()
    assert report.written  # something moved, and only the comparison says it is right
    again = site.check()
    assert again.written == [] and again.removed == []


def test_every_change_in_a_row(site: Site) -> None:
    for change in CHANGES.values():
        change(site.reg)
        site.check()


def test_no_stale_stage_anywhere(site: Site) -> None:
    site.reg.transition("fraud", 3, "Production")  # archives v2, the exclusive holder
    site.check()
    v2, v3 = page(site, "models/fraud/v2.html"), page(site, "models/fraud/v3.html")
    assert '<h1>fraud v2 <span class="badge st-archived">' in v2
    assert "models:/fraud/Production" not in v2
    assert '<h1>fraud v3 <span class="badge st-production">' in v3
    assert "<li><code>models:/fraud/Production</code></li>" in v3
    doc = json.loads((site.out / "api/v1/models/fraud.json").read_bytes())
    assert doc["stages"]["Production"] == 3
    site.reg.register("fraud", site.reg.root.parent / "artifacts/model.bin")
    site.check()
    assert "models:/fraud/latest" not in page(site, "models/fraud/v3.html")
    assert "<li><code>models:/fraud/latest</code></li>" in page(site, "models/fraud/v4.html")
    site.reg.delete_version("fraud", 4)
    site.check()
    assert not (site.out / "models/fraud/v4.html").exists()
    assert not (site.out / "api/v1/models/fraud/versions/4.json").exists()
    assert "<li><code>models:/fraud/latest</code></li>" in page(site, "models/fraud/v3.html")
    site.reg.delete_model("churn")
    site.check()
    assert not (site.out / "models/churn").exists()
    assert not (site.out / "api/v1/models/churn.json").exists()
    assert 'data-model="churn"' not in page(site, "index.html")


def test_uncommitted_hand_edit_of_the_work_tree(site: Site) -> None:
    path = site.reg.root / version_path("fraud", 1)
    mv = site.reg.get_version("fraud", 1).evolve(stage="Staging", tags={"by": "hand"})
    path.write_bytes(dump_record(mv.to_dict(), "version"))
    site.check()
    assert "by=hand" not in page(site, "models/fraud/v1.html")  # tags are a table
    assert "<td>by</td><td>hand</td>" in page(site, "models/fraud/v1.html")
    git(site.reg.root, "checkout", "--", version_path("fraud", 1))
    site.check()


def test_pages_changed_behind_its_back_are_made_again(site: Site) -> None:
    v1 = site.out / "models/fraud/v1.html"
    good = v1.read_bytes()
    v1.write_bytes(good.replace(b"Archived", b"Tampered"))
    (site.out / "models/churn/v1.html").unlink()
    (site.out / "api/v1/models/fraud/versions/2.json").write_bytes(b"{}\n")
    report = site.check()
    assert v1.read_bytes() == good
    assert sorted(report.written) == [
        "api/v1/models/fraud/versions/2.json",
        "models/churn/v1.html",
        "models/fraud/v1.html",
    ]


def test_another_ref_and_other_links_into_the_same_folder(site: Site) -> None:
    old = git(site.reg.root, "rev-list", "--max-count=1", "HEAD~6").strip()
    site.check(ref=old)
    site.check(links=Links(commit="https://g/c/{sha}", pull="https://g/p/{number}"))
    site.check()


def test_a_state_from_other_code_or_another_folder_is_not_trusted(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitreg.site import state

    site.reg.set_tag("fraud", "k", "v", version=1)
    monkeypatch.setattr(state, "_fingerprint", [fingerprint() + "-other"])
    report = site.check()  # the state of the old code is dropped: every file is made
    assert report.written
    monkeypatch.undo()
    moved = site.tmp / "moved"
    site.out.rename(moved)
    (moved / "models/fraud/v1.html").write_text("stale")
    site.out = moved
    site.check()  # a folder the state does not name starts from nothing
    assert "stale" not in page(site, "models/fraud/v1.html")
