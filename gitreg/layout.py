"""The registry repository's layout: where each file lives, what a name may be, and the
patterns that recognise a registry path. Pure data, no I/O: every other module asks here
instead of spelling ``"models/"`` itself.

```
gitreg.yaml                       settings and promotion policy
models/<folder>/model.yaml        one registered model
models/<folder>/versions/<N>.yaml one version manifest (N = 1, 2, 3 ..., no padding)
.gitreg/retired.yaml              highest number each deleted or renamed-away name issued
.gitreg/audit.yaml                audit findings a team accepted
.gitreg/schemas/                  the JSON Schemas editors read
```

A model's folder is its name when the name keeps to ``NAME`` (every registry made before
wider names keeps its paths). Any other name MLflow accepts ("Fraud Detector") is written
``~`` + its UTF-8 bytes, each byte outside ``A-Z a-z 0-9 . _ -`` (and a final ``.``) as
``~XX`` hex: ``models/~Fraud~20Detector/``. The leading ``~`` keeps such a folder from
starting with ``.`` or ``-``, from being a Windows device name, and from meeting a plain
name's folder; the encoding is one-to-one, so ``parse_path`` reads the name back.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from gitreg.errors import UsageError

CONFIG = "gitreg.yaml"
MODELS = "models"
SCHEMA_DIR = ".gitreg/schemas"
RETIRED = ".gitreg/retired.yaml"
ACCEPTED = ".gitreg/audit.yaml"
NULL_SHA = "0" * 40  # git's id for "no object": an absent side of a diff, a new branch

NAME_RULE = "1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
VERSION_FILE = re.compile(r"[1-9][0-9]*\.yaml")
RESERVED_ALIAS = re.compile(r"(latest|[vV][0-9]+)")
_WINDOWS_RESERVED = re.compile(r"(?i)(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])")
_KEY = re.compile(r"[^\x00-\x1f\x7f]{1,250}")
# a model.yaml or a version manifest where the layout puts them (the folder undecoded)
PATH = re.compile(r"models/([^/]+)/(?:(model)\.yaml|versions/([1-9][0-9]*)\.yaml)")
MODEL_NAME_RULE = (
    "1-256 characters, not only spaces, without '/', ':' or control characters, "
    "not starting with '..'"
)
_MAX_NAME = 256  # MLflow's own column width
_MAX_FOLDER = 255  # bytes a folder name may have on common file systems
_ESCAPE = "~"
_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_ENCODED = re.compile(r"~(?:[A-Za-z0-9._-]|~[0-9A-F]{2})+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def folder(name: str) -> str:
    """The folder under ``models/`` that holds model ``name`` (see the module docstring)."""
    if NAME.fullmatch(name):
        return name
    data = name.encode("utf-8", "surrogatepass")
    out = [chr(b) if b in _PLAIN else f"{_ESCAPE}{b:02X}" for b in data]
    if out and out[-1] == ".":  # Windows drops a trailing dot
        out[-1] = f"{_ESCAPE}2E"
    return _ESCAPE + "".join(out)


def folder_name(entry: str) -> str | None:
    """The model name a folder under ``models/`` holds, or None if ``entry`` is not a
    folder ``folder`` makes for any valid name (a hand-made or mangled folder)."""
    if NAME.fullmatch(entry):
        return entry
    if not _ENCODED.fullmatch(entry):
        return None
    raw, i = bytearray(), 1
    while i < len(entry):
        if entry[i] == _ESCAPE:
            raw.append(int(entry[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(ord(entry[i]))
            i += 1
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _model_name_problem(name) is not None or folder(name) != entry:
        return None
    return name


def model_dir(name: str) -> str:
    return f"{MODELS}/{folder(name)}"


def model_path(name: str) -> str:
    return f"{MODELS}/{folder(name)}/model.yaml"


def versions_dir(name: str) -> str:
    return f"{MODELS}/{folder(name)}/versions"


def version_path(name: str, version: int) -> str:
    return f"{MODELS}/{folder(name)}/versions/{version}.yaml"


class RegistryPath(NamedTuple):
    """What a path under ``models/`` holds: a model's ``model.yaml`` (version None) or
    one version manifest."""

    name: str
    version: int | None


def parse_path(path: str) -> RegistryPath | None:
    """The model (and version) a registry file belongs to; None for any other path."""
    m = PATH.fullmatch(path)
    if m is None:
        return None
    name = folder_name(m.group(1))
    if name is None:
        return None
    return RegistryPath(name, None if m.group(2) else int(m.group(3)))


def check_name(name: str, what: str = "alias") -> str:
    """Refuse an alias (or other strict) name that is not ``NAME_RULE``: aliases live
    inside YAML and URIs, so they keep the narrow rule."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(f"invalid {what} {name!r}: use {NAME_RULE}")
    return name


def _model_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a model name, in one sentence's tail; None if it can."""
    if not isinstance(name, str):
        return "a model name is a string"
    if not name.strip():
        return "a model name cannot be empty or only spaces"
    if "/" in name or ":" in name:
        return "model names cannot contain '/' or ':' (MLflow refuses them too)"
    if _CONTROL.search(name):
        return "model names cannot contain control characters such as NUL, tab or newline"
    if name in (".", "..") or name.startswith(".."):
        return "a name starting with '..' (or '.') would be read as a path outside models/"
    if len(name) > _MAX_NAME:
        return f"model names have at most {_MAX_NAME} characters"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "model names must be valid Unicode text"
    if len(folder(name).encode()) > _MAX_FOLDER:
        return (
            f"its folder name would exceed {_MAX_FOLDER} bytes, more than file systems "
            "allow; use a shorter name"
        )
    return None


def check_model_name(name: str, what: str = "model name") -> str:
    """Refuse a model name MLflow refuses or that no folder could hold safely."""
    problem = _model_name_problem(name)
    if problem is not None:
        raise UsageError(f"invalid {what} {name!r}: {problem}")
    return name


def check_new_name(name: str, what: str = "model name") -> str:
    """``check_model_name``, and for a name a write is about to create a folder for,
    refuse what a Windows checkout cannot hold. (Reads keep the older rule, so a model
    made before this rule stays readable and listed.) Only names kept as their own
    folder can meet these rules: an encoded folder starts with ``~`` and never ends in
    a dot."""
    check_model_name(name, what)
    if not NAME.fullmatch(name):
        return name
    if name.endswith((".", " ")):
        raise UsageError(
            f"invalid {what} {name!r}: Windows drops a trailing dot, so it could not be "
            "checked out there; end it with a letter, digit, _ or -"
        )
    stem = name.split(".", maxsplit=1)[0]
    if _WINDOWS_RESERVED.fullmatch(stem):
        raise UsageError(
            f"invalid {what} {name!r}: {stem} is a device name Windows reserves "
            "(CON, PRN, AUX, NUL, COM1-9, LPT1-9), so no Windows checkout could hold it"
        )
    return name


def folded(name: str) -> str:
    """The form two names share when a case-insensitive file system (macOS, Windows)
    would give them one folder."""
    return name.casefold()


def check_key(key: str, what: str = "tag key") -> str:
    """Tag, metric and param keys: 1-250 printable characters."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key != key.strip():
        raise UsageError(f"invalid {what} {key!r}: use 1-250 printable characters")
    return key


def version_number(version: int | str) -> int:
    """A version as typed (``3``, ``"3"``, ``"v3"``) as a number, or a UsageError."""
    text = str(version).lstrip("v")
    if not text.isdigit() or not text.isascii() or int(text) < 1:
        raise UsageError(f"invalid version {version!r}: versions are whole numbers from 1")
    return int(text)
