"""The registry repository's layout: where each file lives, what a name may be, and the
patterns that recognise a registry path. Pure data, no I/O: every other module asks here
instead of spelling ``"models/"`` itself.

```
gitreg.yaml                       settings and promotion policy
models/<name>/model.yaml          one registered model
models/<name>/versions/<N>.yaml   one version manifest (N = 1, 2, 3 ..., no padding)
.gitreg/retired.yaml              highest number each deleted or renamed-away name issued
.gitreg/audit.yaml                audit findings a team accepted
.gitreg/schemas/                  the JSON Schemas editors read
```
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
_PATH = re.compile(r"models/([^/]+)/(?:(model)\.yaml|versions/([1-9][0-9]*)\.yaml)")


def model_dir(name: str) -> str:
    return f"{MODELS}/{name}"


def model_path(name: str) -> str:
    return f"{MODELS}/{name}/model.yaml"


def versions_dir(name: str) -> str:
    return f"{MODELS}/{name}/versions"


def version_path(name: str, version: int) -> str:
    return f"{MODELS}/{name}/versions/{version}.yaml"


class RegistryPath(NamedTuple):
    """What a path under ``models/`` holds: a model's ``model.yaml`` (version None) or
    one version manifest."""

    name: str
    version: int | None


def parse_path(path: str) -> RegistryPath | None:
    """The model (and version) a registry file belongs to; None for any other path."""
    m = _PATH.fullmatch(path)
    if m is None:
        return None
    return RegistryPath(m.group(1), None if m.group(2) else int(m.group(3)))


def is_registry_file(path: str) -> bool:
    return _PATH.fullmatch(path) is not None


def check_name(name: str, what: str = "model name") -> str:
    """Refuse a model (or alias) name that could escape ``models/`` or confuse git."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(f"invalid {what} {name!r}: use {NAME_RULE}")
    return name


def check_new_name(name: str, what: str = "model name") -> str:
    """``check_name``, and for a name a write is about to create a folder for, refuse
    what a Windows checkout cannot hold. (Reads keep the older rule, so a model made
    before this rule stays readable and listed.)"""
    check_name(name, what)
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
