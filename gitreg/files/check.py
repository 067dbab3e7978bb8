"""What ``gitreg check`` verifies: every registry file against its schema, and the
agreements no schema can express (folder and file names, stages, aliases, numbering).

``check_tree`` reads the whole registry (what ``gitreg check`` does). ``check_changed``
reads only the files a change touched, plus ``gitreg.yaml`` and the folders of the models
it touched (what ``gitreg check --base`` does: its cost follows the diff, not the registry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gitreg import secrets
from gitreg.config import Config
from gitreg.errors import ManifestError, UsageError
from gitreg.files import schema, yamlio
from gitreg.files.tree import Tree
from gitreg.layout import RETIRED, VERSION_FILE, check_model_name, folder, folder_name

"""Names no model has now, each with the highest version number it was ever issued, so a
model re-created under that name never reissues a number. Written by gitreg in the commit
that deletes or renames a model away; a mapping name -> number, sorted by name."""
RETIRED_HEADER = (
    "# gitreg: the highest version number issued under each deleted or renamed model name,\n"
    "# so a re-created model never reuses one. Written by gitreg; do not edit.\n"
)


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


def retired_numbers(raw: bytes | None) -> dict[str, int]:
    """The mapping in ``.gitreg/retired.yaml`` (``raw``; None: no such file, no names).
    Raises ManifestError unless every key is a valid model name and every value an
    integer from 1."""
    if raw is None:
        return {}
    doc = yamlio.load(raw, RETIRED)
    out: dict[str, int] = {}
    for name, number in doc.data.items():
        try:
            check_model_name(name)
        except UsageError:
            raise ManifestError(
                RETIRED, doc.line([name]), f"{name!r} is not a model name"
            ) from None
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ManifestError(
                RETIRED, doc.line([name]), f"{name}: {number!r} is not a version number (1 or more)"
            )
        out[name] = number
    return out


def dump_retired(numbers: dict[str, int]) -> bytes:
    """The canonical text of ``.gitreg/retired.yaml``."""
    return (RETIRED_HEADER + yamlio.dump(dict(sorted(numbers.items())))).encode()


def _check_retired(tree: Tree, out: list[ManifestError]) -> None:
    try:
        retired_numbers(tree.read(RETIRED))
    except ManifestError as e:
        out.append(e)


def check_tree(tree: Tree) -> list[ManifestError]:
    """Every problem in the registry, in path order."""
    out: list[ManifestError] = []
    _check_retired(tree, out)
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

    Checked: ``gitreg.yaml``; ``.gitreg/retired.yaml`` if ``paths`` has it; every file of
    ``paths`` that ``tree`` has, against its schema and its name; for each model folder
    ``paths`` touches, the folder's layout and the agreements between its ``model.yaml``
    and its versions (an alias that points at a deleted version, ``last_version`` below a
    new one). Files outside ``paths`` are not schema-checked: they were checked when they
    landed. Nothing else is read."""
    touched: set[str] = set()
    models: set[str] = set()
    for path in paths:
        parts = path.split("/")
        touched.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        if parts[0] == "models" and len(parts) > 1 and parts[1] != ".gitkeep":
            models.add(parts[1])
    out: list[ManifestError] = []
    if RETIRED in touched:
        _check_retired(tree, out)
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
    try:
        return Config.from_dict(cfg_doc.data) if cfg_doc else Config()
    except ValueError as e:  # a shape the schema allows but the policy cannot use
        out.append(ManifestError("gitreg.yaml", None, f"not a valid policy ({e})"))
        return Config()


def _secrets(rel: str, doc: yamlio.Document, out: list[ManifestError]) -> None:
    """A hand-edited manifest never went through the write path's secret check."""
    for pointer, message in secrets.scan(doc.data):
        out.append(ManifestError(rel, doc.line(pointer), message))


def _check_model(
    tree: Tree, cfg: Config, dirname: str, touched: Callable[[str], bool] = _all
) -> list[ManifestError]:
    """The problems of one model folder (``dirname`` under ``models/``). Only files
    ``touched`` accepts are read and schema-checked; any other version file counts as
    present, by its name."""
    out: list[ManifestError] = []
    base = f"models/{dirname}"
    decoded = folder_name(dirname)
    if decoded is None:
        return [_stray_folder(tree, base)]
    name = decoded
    for entry in tree.children(base):
        if entry not in ("model.yaml", "versions") and touched(f"{base}/{entry}"):
            out.append(ManifestError(f"{base}/{entry}", None, "unexpected file in a model folder"))
    rel = f"{base}/model.yaml"
    own = touched(rel)
    doc = _load(tree, rel, "model", out if own else [])
    numbers = []
    for entry in tree.children(f"{base}/versions"):
        vrel = f"{base}/versions/{entry}"
        if not VERSION_FILE.fullmatch(entry):
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
        _secrets(vrel, vdoc, out)
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
        if own:
            _secrets(rel, doc, out)
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


def _stray_folder(tree: Tree, base: str) -> ManifestError:
    """A folder under ``models/`` that no model name is kept under: say whose it would be."""
    hint = ""
    raw = tree.read(f"{base}/model.yaml")
    if raw is not None:
        try:
            named = yamlio.load(raw, f"{base}/model.yaml").data.get("name")
            hint = f"; model {named!r} belongs in models/{folder(check_model_name(named))}"
        except (ManifestError, UsageError, AttributeError):
            pass
    return ManifestError(
        base, None, f"this folder name is not one gitreg keeps any model name under{hint}"
    )
