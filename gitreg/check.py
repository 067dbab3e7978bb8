"""What ``gitreg check`` verifies: every registry file against its schema, and the
agreements no schema can express (folder and file names, stages, aliases, numbering)."""

from __future__ import annotations

import re

from gitreg import schema, yamlio
from gitreg.errors import ManifestError
from gitreg.policy import Config
from gitreg.tree import Tree

_VERSION_FILE = re.compile(r"[1-9][0-9]*\.yaml")


def _load(tree: Tree, rel: str, kind: str, out: list[ManifestError]) -> yamlio.Document | None:
    raw = tree.read(rel)
    if raw is None:
        out.append(ManifestError(rel, None, "file is missing"))
        return None
    try:
        doc = yamlio.load(raw, rel)
    except ManifestError as e:
        out.append(e)
        return None
    found = schema.problems(doc, kind)
    out.extend(found)
    return None if found else doc


def check_tree(tree: Tree) -> list[ManifestError]:
    """Every problem in the registry, in path order."""
    out: list[ManifestError] = []
    cfg_doc = _load(tree, "gitreg.yaml", "config", out)
    cfg = Config.from_dict(cfg_doc.data) if cfg_doc else Config()
    for name in tree.children("models"):
        if name == ".gitkeep":
            continue
        if tree.read(f"models/{name}") is not None:
            out.append(
                ManifestError(f"models/{name}", None, "unexpected file; models/ holds folders")
            )
            continue
        out += _check_model(tree, cfg, name)
    return out


def _check_model(tree: Tree, cfg: Config, name: str) -> list[ManifestError]:
    out: list[ManifestError] = []
    base = f"models/{name}"
    for entry in tree.children(base):
        if entry not in ("model.yaml", "versions"):
            out.append(ManifestError(f"{base}/{entry}", None, "unexpected file in a model folder"))
    doc = _load(tree, f"{base}/model.yaml", "model", out)
    numbers = []
    for entry in tree.children(f"{base}/versions"):
        rel = f"{base}/versions/{entry}"
        if not _VERSION_FILE.fullmatch(entry):
            out.append(ManifestError(rel, None, "version files are named <N>.yaml, N from 1"))
            continue
        number = int(entry[:-5])
        vdoc = _load(tree, rel, "version", out)
        if vdoc is None:
            continue
        numbers.append(number)
        data = vdoc.data
        if data["name"] != name:
            out.append(ManifestError(rel, vdoc.line(["name"]), f"name must be {name!r}"))
        if data["version"] != number:
            out.append(ManifestError(rel, vdoc.line(["version"]), f"version must be {number}"))
        if data["stage"] not in cfg.stages:
            out.append(
                ManifestError(
                    rel,
                    vdoc.line(["stage"]),
                    f"stage {data['stage']!r} is not one of {', '.join(cfg.stages)}",
                )
            )
    if doc is not None:
        data = doc.data
        rel = f"{base}/model.yaml"
        if data["name"] != name:
            out.append(ManifestError(rel, doc.line(["name"]), f"name must be {name!r}"))
        for alias, version in (data.get("aliases") or {}).items():
            if version not in numbers:
                out.append(
                    ManifestError(
                        rel,
                        doc.line(["aliases", alias]),
                        f"alias {alias} points at version {version}, which does not exist",
                    )
                )
        if numbers and data.get("last_version", 0) < max(numbers):
            out.append(
                ManifestError(
                    rel,
                    doc.line(["last_version"]),
                    f"last_version must be at least {max(numbers)}, the highest version present",
                )
            )
    return sorted(out, key=lambda e: (e.path, e.line or 0))
