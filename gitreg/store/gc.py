"""Store garbage collection: the objects under a registry's artifact store that no version
manifest references, ``gitreg gc --store``.

The store's content-addressed layout (``<store>/<name>/sha256/<hex>/<basename>``) makes an
*object* of each such key (a file, or a folder and everything under it); leftovers of
interrupted uploads (``<store>/<name>/.staging/<random>/``) are objects too. Each is:

- ``referenced``: a manifest's artifact URI is the object, lies inside it, or contains it;
- ``young``: modified within the grace period (an upload whose commit may be in flight),
  or of unknown age;
- ``orphan``: neither; only these are ever deleted;
- ``unknown``: not in the layout; never deleted, only reported.

The caller supplies the referenced URIs (every manifest on every branch and tag, see
``gitreg.repo.reachable``); this module only lists and deletes.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitreg.errors import UsageError
from gitreg.store.locations import file_path, redact, scheme_of
from gitreg.store.transfer import open_fs, remove_tree, translated_errors

_HEX = re.compile(r"[0-9a-f]{64}")
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """``"90"`` (seconds), ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` as seconds."""
    m = _DURATION.fullmatch(text)
    if not m:
        raise UsageError(f"--grace {text!r} is not a duration: use e.g. 30m, 24h or 7d")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True, slots=True)
class StoreObject:
    uri: str
    size: int
    modified: float | None  # epoch seconds of its newest file, if the store says
    status: str  # referenced | young | orphan | unknown

    def to_dict(self) -> dict[str, Any]:
        when = None if self.modified is None else time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.modified))  # fmt: skip
        return {"uri": redact(self.uri), "size": self.size, "modified": when,
                "status": self.status}  # fmt: skip


def _norm(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if scheme.lower() == "file":
        rest = str(file_path(uri))  # file:///a == file://localhost/a
    return scheme.lower() + sep + rest.rstrip("/")


def scan(
    store: str,
    referenced: Iterable[str],
    grace_seconds: float,
    storage_options: Mapping[str, Any] | None = None,
    *,
    now: float | None = None,
) -> list[StoreObject]:
    """Every object under ``store``, classified (see the module docstring), by URI."""
    now = time.time() if now is None else now
    refs = {_norm(u) for u in referenced}
    inside = {r.rsplit("/", k)[0] for r in refs for k in range(r.count("/") + 1)}
    root = store.rstrip("/")
    units: dict[str, tuple[int, float | None, bool]] = {}
    for rel, size, mtime in _files(root, storage_options):
        parts = rel.split("/")
        if len(parts) >= 4 and parts[1] == "sha256" and _HEX.fullmatch(parts[2]):
            key, known = "/".join(parts[:4]), True
        elif len(parts) >= 4 and parts[1] == ".staging":
            key, known = "/".join(parts[:3]), True
        else:
            key, known = rel, False
        held = units.get(key, (0, 0.0, known))
        newest = None if held[1] is None or mtime is None else max(held[1], mtime)
        units[key] = (held[0] + size, newest, known)
    out = []
    for key, (size, mtime, known) in sorted(units.items()):
        uri = f"{root}/{key}"
        n = _norm(uri)
        if not known:
            status = "unknown"
        elif n in inside or any(p in refs for p in _prefixes(n)):
            status = "referenced"
        elif mtime is None or now - mtime < grace_seconds:
            status = "young"
        else:
            status = "orphan"
        out.append(StoreObject(uri, size, mtime, status))
    return out


def _prefixes(uri: str) -> Iterable[str]:
    while "/" in uri.partition("://")[2]:
        uri = uri.rsplit("/", 1)[0]
        yield uri


def _files(
    root: str, storage_options: Mapping[str, Any] | None
) -> Iterable[tuple[str, int, float | None]]:
    """(path relative to ``root``, size, mtime) of every file under it; links not followed."""
    with translated_errors(redact(root)):
        if scheme_of(root) == "file":
            base = file_path(root)
            for dirpath, _dirs, files in os.walk(base):
                for f in files:
                    st = os.lstat(os.path.join(dirpath, f))
                    rel = os.path.relpath(os.path.join(dirpath, f), base).replace(os.sep, "/")
                    yield rel, st.st_size if stat.S_ISREG(st.st_mode) else 0, st.st_mtime
            return
        fs, path = open_fs(root, storage_options)
        for name, info in sorted(fs.find(path, detail=True).items()):
            if info.get("type") != "file" or not name.startswith(path + "/"):
                continue
            yield name[len(path) + 1 :], int(info.get("size") or 0), _mtime(info)


def _mtime(info: Mapping[str, Any]) -> float | None:
    for key in ("LastModified", "mtime", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def delete(
    objects: Iterable[StoreObject], storage_options: Mapping[str, Any] | None = None
) -> None:
    """Delete each orphan object (anything else passed in is refused, not deleted)."""
    for obj in objects:
        if obj.status != "orphan":
            raise UsageError(f"{redact(obj.uri)} is {obj.status}; gc deletes only orphans")
        with translated_errors(redact(obj.uri)):
            if scheme_of(obj.uri) == "file":
                path = file_path(obj.uri)
                if path.is_dir() and not path.is_symlink():
                    remove_tree(path)  # published folders are sealed read-only
                else:
                    path.unlink(missing_ok=True)
                for parent in (path.parent, path.parent.parent):  # sha256/<hex>/, .staging/
                    try:
                        parent.rmdir()
                    except OSError:
                        break
            else:
                fs, key = open_fs(obj.uri, storage_options)
                fs.rm(key, recursive=True)
