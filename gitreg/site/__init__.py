"""The static browse site: ``build_site(view, out)`` renders an index, a page per model and
a page per version into a folder (plain HTML, one CSS and one small JS file; nothing is
fetched at view time). Incremental: a file is written only when its bytes change, and
pages of models or versions that are gone are removed.

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
from gitreg.layout import folder, version_path
from gitreg.manifest import ModelVersion
from gitreg.registry.view import RegistryView
from gitreg.repo.tree import CommitTree
from gitreg.site.api import api_files
from gitreg.site.html import CSS, JS, Links
from gitreg.site.pages import ModelData, index_page, model_page, version_page
from gitreg.trail.changes import parse_cached

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


def load_models(view: RegistryView) -> list[ModelData]:
    """Every model with its versions and history, sorted by name."""
    out = []
    for model in sorted(view.list_models(), key=lambda m: m.name.lower()):
        try:
            changes = view.history(model.name)
        except NotFound:  # a model not committed yet has no history
            changes = []
        out.append(ModelData(model, _versions(view, model.name), changes))
    return out


def _versions(view: RegistryView, name: str) -> list[ModelVersion]:
    """``view.versions(name)``, but each file parsed through the cache that ``history``
    just filled with the same bytes (the YAML parse is most of the cost); any file that
    does not come out clean is read the ordinary way, for its precise error."""
    out = []
    for n in view.version_numbers(name):
        raw = view.tree.read(version_path(name, n))
        data = parse_cached(raw) if raw is not None else None
        try:
            mv = ModelVersion.from_dict(data) if data is not None else None
        except (ValueError, KeyError, TypeError):
            mv = None
        if mv is None or (mv.name, mv.version) != (name, n):
            mv = view.get_version(name, n)
        out.append(mv)
    return out


def render(view: RegistryView, links: Links | None = None) -> dict[str, bytes]:
    """Every file of the site: relative path -> bytes."""
    links = links if links is not None else Links.from_remote(view.config.remote)
    models = load_models(view)
    head = _head(view)
    files = {
        "style.css": CSS.encode(),
        "filter.js": JS.encode(),
        "index.html": index_page(models, head, links).encode(),
    }
    for d in models:
        base = f"models/{folder(d.name)}"  # URL-safe: only A-Z a-z 0-9 . _ - ~
        files[f"{base}/index.html"] = model_page(d, links).encode()
        for mv in d.versions:
            files[f"{base}/v{mv.version}.html"] = version_page(d, mv, links).encode()
    files.update(api_files(models, view.config, head))  # the static read API (site/api.py)
    return files


def build_site(
    view: RegistryView, out: str | os.PathLike[str], links: Links | None = None
) -> SiteReport:
    """Render the site into ``out``, touching only files whose bytes changed."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder")
    files = render(view, links)
    report = SiteReport(out=root, pages=sum(1 for p in files if p.endswith(".html")))
    made: set[Path] = set()
    for rel, data in files.items():
        path = root / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        if _same(path, data):
            report.unchanged += 1
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        report.written.append(rel)
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
