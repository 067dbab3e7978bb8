"""What ``gitreg check`` verifies: every registry file against its schema, and the
agreements no schema can express (folder and file names, stages, aliases, numbering).

``check_tree`` reads the whole registry (what ``gitreg check`` does). ``check_changed``
reads only the files a change touched, plus ``gitreg.yaml`` and the folders of the models
it touched (what ``gitreg check --base`` does: its cost follows the diff, not the registry).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from gitreg import schema, yamlio
from gitreg.errors import ManifestError
from gitreg.policy import Config
from gitreg.tree import Tree

_VERSION_FILE = re.compile(r"[1-9][0-9]*\.yaml")


def _all(_rel: str) -> bool:
    return True


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
    cfg = _config(tree, out)
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


def check_changed(tree: Tree, paths: Iterable[str]) -> list[ManifestError]:
    """The problems a change to ``paths`` can have brought into ``tree``, in path order.

    Checked: ``gitreg.yaml``; every file of ``paths`` that ``tree`` has, against its
    schema and its name; for each model folder ``paths`` touches, the folder's layout and
    the agreements between its ``model.yaml`` and its versions (an alias that points at a
    deleted version, ``last_version`` below a new one). Files outside ``paths`` are not
    schema-checked: they were checked when they landed. Nothing else is read."""
    touched: set[str] = set()
    models: set[str] = set()
    for path in paths:
        parts = path.split("/")
        touched.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        if parts[0] == "models" and len(parts) > 1 and parts[1] != ".gitkeep":
            models.add(parts[1])
    out: list[ManifestError] = []
    cfg = _config(tree, out)
    for name in sorted(models):
        if tree.read(f"models/{name}") is not None:
            out.append(
                ManifestError(f"models/{name}", None, "unexpected file; models/ holds folders")
            )
        elif tree.children(f"models/{name}"):  # absent: the change deleted the model
            out += _check_model(tree, cfg, name, touched.__contains__)
    return out


def _config(tree: Tree, out: list[ManifestError]) -> Config:
    cfg_doc = _load(tree, "gitreg.yaml", "config", out)
    return Config.from_dict(cfg_doc.data) if cfg_doc else Config()


def _check_model(
    tree: Tree, cfg: Config, name: str, touched: Callable[[str], bool] = _all
) -> list[ManifestError]:
    """The problems of one model folder. Only files ``touched`` accepts are read and
    schema-checked; any other version file counts as present, by its name."""
    out: list[ManifestError] = []
    base = f"models/{name}"
    for entry in tree.children(base):
        if entry not in ("model.yaml", "versions") and touched(f"{base}/{entry}"):
            out.append(ManifestError(f"{base}/{entry}", None, "unexpected file in a model folder"))
    rel = f"{base}/model.yaml"
    own = touched(rel)
    doc = _load(tree, rel, "model", out if own else [])
    numbers = []
    for entry in tree.children(f"{base}/versions"):
        vrel = f"{base}/versions/{entry}"
        if not _VERSION_FILE.fullmatch(entry):
            if touched(vrel):
                out.append(ManifestError(vrel, None, "version files are named <N>.yaml, N from 1"))
            continue
        number = int(entry[:-5])
        if not touched(vrel):
            numbers.append(number)  # checked when it landed
            continue
        vdoc = _load(tree, vrel, "version", out)
        if vdoc is None:
            continue
        numbers.append(number)
        data = vdoc.data
        if data["name"] != name:
            out.append(ManifestError(vrel, vdoc.line(["name"]), f"name must be {name!r}"))
        if data["version"] != number:
            out.append(ManifestError(vrel, vdoc.line(["version"]), f"version must be {number}"))
        if data["stage"] not in cfg.stages:
            out.append(
                ManifestError(
                    vrel,
                    vdoc.line(["stage"]),
                    f"stage {data['stage']!r} is not one of {', '.join(cfg.stages)}",
                )
            )
    if doc is not None:
        data = doc.data
        if own and data["name"] != name:
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
