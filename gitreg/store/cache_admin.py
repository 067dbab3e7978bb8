"""Looking after the artifact cache: ``entries`` (what is there, how big, when last used),
``evict`` (least recently used first, down to a size bound) and ``prune`` (also drops
anything under ``sha256/`` that is not a well-formed entry, and staging left by a crash).

Only ``<cache>/sha256/`` and ``<cache>/tmp/`` are ever touched: the cache folder may be
one a user pointed ``GITREG_CACHE_DIR`` at, and what else lives there is not ours.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitreg.store.cache_root import cache_dir, drop

_HEX = re.compile(r"[0-9a-f]{64}")
STALE_TMP_SECONDS = 24 * 3600  # staging older than this is a crashed download's


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One folder under ``<cache>/sha256/``; ``problem`` is "" for a well-formed entry."""

    path: Path
    digest: str
    kind: str  # "file", "folder" or "?"
    size: int
    last_used: float  # epoch seconds
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "kind": self.kind,
            "size": self.size,
            "last_used": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last_used)),
            "path": str(self.path),
            "problem": self.problem,
        }


def entries(root: Path | None = None) -> list[CacheEntry]:
    """Every entry, least recently used first (lstat only: links are never followed)."""
    base = (root or cache_dir()) / "sha256"
    try:
        names = sorted(os.listdir(base))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted((_inspect(base / n) for n in names), key=lambda e: (e.last_used, e.digest))


def _inspect(folder: Path) -> CacheEntry:
    st = os.lstat(folder)
    digest = f"sha256:{folder.name}"

    def bad(why: str) -> CacheEntry:
        return CacheEntry(folder, digest, "?", _size(folder), st.st_mtime, why)

    if not _HEX.fullmatch(folder.name):
        return bad("not a sha256 digest")
    if not stat.S_ISDIR(st.st_mode):
        return bad("a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder")
    inside = sorted(os.listdir(folder))
    if len(inside) != 1 or inside[0] not in ("file", "folder"):
        return bad("not a single file or folder")
    kind = inside[0]
    mode = os.lstat(folder / kind).st_mode
    if not (stat.S_ISREG(mode) if kind == "file" else stat.S_ISDIR(mode)):
        return bad(f"{kind} is not a regular {kind}")
    if kind == "folder" and _has_links(folder / kind):
        return bad("holds a symbolic link or special file")
    return CacheEntry(folder, digest, kind, _size(folder), st.st_mtime)


def _size(path: Path) -> int:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size if stat.S_ISREG(st.st_mode) else 0
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def _has_links(path: Path) -> bool:
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                return True
    return False


def evict(max_bytes: int, root: Path | None = None) -> list[CacheEntry]:
    """Drop entries, least recently used first, until the cache holds at most
    ``max_bytes``; return what was dropped."""
    root = root or cache_dir()
    found = entries(root)
    total = sum(e.size for e in found)
    dropped = []
    for e in found:
        if total <= max_bytes:
            break
        drop(e.path, root)
        total -= e.size
        dropped.append(e)
    return dropped


def prune(
    root: Path | None = None, *, max_bytes: int | None = None, everything: bool = False
) -> list[CacheEntry]:
    """Drop malformed entries, stale staging, then (with ``max_bytes``) the least recently
    used entries down to that bound, or (``everything``) every entry; return what went."""
    root = root or cache_dir()
    dropped = []
    for e in entries(root):
        if e.problem or everything:
            drop(e.path, root)
            dropped.append(e)
    _clear_tmp(root)
    if max_bytes is not None and not everything:
        dropped += evict(max_bytes, root)
    return dropped


def _clear_tmp(root: Path) -> None:
    tmp = root / "tmp"
    try:
        names = os.listdir(tmp)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        try:
            old = time.time() - os.lstat(tmp / name).st_mtime > STALE_TMP_SECONDS
        except FileNotFoundError:
            continue
        if old or name.startswith("drop-"):
            drop(tmp / name, root)
