"""The static browse site: ``build_site(view, out)`` renders an index, a page per model and
a page per version into a folder (plain HTML, one CSS and one small JS file; nothing is
fetched at view time). Incremental: a file is made only when what it shows changed
(``site.plan``, ``site.state``), written only when its bytes change, and pages of models or
versions that are gone are removed.

Layout: ``index.html``, ``models/<folder>/index.html``, ``models/<folder>/v<N>.html``,
``style.css``, ``filter.js``, ``api/v1/...`` (the static JSON read API, ``site.api``) and
``.gitreg-site.json`` (the list of generated files)."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitreg.errors import NotFound, UsageError
from gitreg.query.scan import bulk
from gitreg.registry.view import RegistryView
from gitreg.repo.tree import CommitTree
from gitreg.site import state
from gitreg.site.api import api_files
from gitreg.site.html import Links
from gitreg.site.pages import ModelData
from gitreg.site.plan import Planned, html_files, version_keys
from gitreg.site.state import Memo, State

MANIFEST = ".gitreg-site.json"


@dataclass
class SiteReport:
    """What one render did; paths are relative to ``out``."""

    out: Path
    pages: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "pages": self.pages,
            "written": len(self.written),
            "unchanged": self.unchanged,
            "removed": len(self.removed),
            "written_files": self.written,
            "removed_files": self.removed,
        }


def load_models(
    view: RegistryView, memo: Memo | None = None, blobs: dict[str, str] | None = None
) -> list[ModelData]:
    """Every model with its versions and history, sorted by name (``memo``: see
    ``trail.history``; ``blobs`` gets the blob id of each file read, where known)."""
    found, oids = view.catalog_blobs()
    if blobs is not None:
        blobs.update(oids)
    out = []
    for model, versions in sorted(found, key=lambda found: found[0].name.lower()):
        try:
            changes = view.history(model.name, memo=memo)
        except NotFound:  # a model not committed yet has no history
            changes = []
        out.append(ModelData(model, versions, changes))
    return out


def plan_files(
    view: RegistryView, links: Links | None = None, last: State | None = None
) -> dict[str, Planned]:
    """Every file of the site: relative path -> its key and how to make it (``site.plan``);
    ``last`` lends what the previous render knew (changes, API digests) and takes the
    API digests of this one."""
    links = links if links is not None else Links.from_remote(view.config.remote)
    last = last if last is not None else State(None)
    blobs: dict[str, str] = {}
    models = load_models(view, last.memo, blobs)
    head = _head(view)
    keys = version_keys(models, blobs)
    files = html_files(models, head, links, keys)
    files.update(api_files(models, view.config, head, keys, last.shas))  # site/api.py
    return files


def render(view: RegistryView, links: Links | None = None) -> dict[str, bytes]:
    """Every file of the site, made from nothing: relative path -> bytes."""
    return {rel: planned.make() for rel, planned in plan_files(view, links).items()}


def build_site(
    view: RegistryView, out: str | os.PathLike[str], links: Links | None = None
) -> SiteReport:
    """Render the site into ``out``: a file is made only if its key changed or it is not
    as the last render left it (``site.state``), and written only if its bytes changed."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder")
    with bulk():  # ~10 collector passes over 10,000s of records would cost a third
        return _build(view, root, links)


def _build(view: RegistryView, root: Path, links: Links | None) -> SiteReport:
    last = state.load(view, root)
    files = plan_files(view, links, last)
    report = SiteReport(out=root, pages=sum(1 for p in files if p.endswith(".html")))
    made: set[Path] = set()
    kept: dict[str, tuple[bytes, state.Sig]] = {}
    base = str(root)  # plain strings: pathlib would cost more than the 20,000 stat calls
    for rel, (key, make) in files.items():
        was = last.files.get(rel) if key is not None else None
        if was is not None and was[0] == key and was[1] == state.sig(f"{base}/{rel}"):
            report.unchanged += 1
            kept[rel] = was
            continue
        path = root / rel
        data = make()
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        if _same(path, data):
            report.unchanged += 1
        else:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            report.written.append(rel)
        if key is not None and (now := state.sig(path)) is not None:
            kept[rel] = (key, now)
    for rel in sorted(_previous(root) - set(files)):
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            continue  # the list is ours, but never trust a file on disk to point outside
        target = root / rel
        if target.is_file():
            target.unlink()
            report.removed.append(rel)
            with contextlib.suppress(OSError):
                target.parent.rmdir()  # a deleted model's folder, once empty
    listing = json.dumps(sorted(files), indent=0).encode()
    if not _same(root / MANIFEST, listing):
        (root / MANIFEST).write_bytes(listing)
    in_use = {key for key, _ in kept.values()}
    state.save(last, kept, {k: v for k, v in last.shas.items() if k in in_use})
    return report


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _previous(root: Path) -> set[str]:
    try:
        names = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def _head(view: RegistryView) -> str | None:
    if isinstance(view.tree, CommitTree):
        return view.tree.sha
    try:
        return view.git.rev_parse("HEAD")
    except Exception:  # an empty repository has no HEAD
        return None


__all__ = ["Links", "SiteReport", "build_site", "render"]
