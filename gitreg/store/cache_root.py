"""Where the artifact cache lives, how large it may grow, and how an entry is dropped
(``cache`` fills and serves entries, ``cache_admin`` lists and trims them)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from gitreg.errors import UsageError
from gitreg.store.transfer import remove_tree

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)


def cache_dir() -> Path:
    """Where the cache lives (see the module docstring); not created here."""
    if os.environ.get("GITREG_CACHE_DIR"):
        return Path(os.environ["GITREG_CACHE_DIR"]).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).absolute() / "gitreg"


def parse_size(text: str, what: str = "GITREG_CACHE_MAX") -> int:
    """``"1000"``, ``"500M"``, ``"1.5GiB"`` ... as bytes (K, M, G, T are powers of 1024)."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise UsageError(f"{what}={text!r} is not a size: use bytes or a number with K, M, G or T")
    power = " kmgt".index(m.group(2).lower() or " ")
    return int(float(m.group(1)) * 1024**power)


def cache_max() -> int | None:
    """The size bound from ``GITREG_CACHE_MAX``, or None if there is none."""
    text = os.environ.get("GITREG_CACHE_MAX", "").strip()
    return parse_size(text) if text else None


def drop(path: Path, root: Path) -> None:
    """Remove a cache entry folder (or whatever sits in its place) at once: it is renamed
    under ``<root>/tmp/`` first, so no reader ever sees it half deleted."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    grave = root / "tmp" / f"drop-{os.urandom(8).hex()}"
    try:
        grave.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, grave)
    except FileNotFoundError:
        return  # dropped by someone else
    remove_tree(grave, ignore_errors=True)
