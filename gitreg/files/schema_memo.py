"""A memo of files that passed JSON Schema validation, so a write need not import
jsonschema (about 100 ms) to re-check a gitreg.yaml it already checked.

The key is the sha256 of the schema text and the file's exact bytes: any change to
either misses, and the file is validated again. The memo lives in ``.git/gitreg/``
(never committed, never shared); without a ``.git`` folder nothing is remembered."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gitreg.files import schema

_MEMO = "gitreg/validated"


def _key(raw: bytes, kind: str) -> str:
    h = hashlib.sha256(schema.schema_text(kind).encode())
    h.update(b"\0" + kind.encode() + b"\0" + raw)
    return h.hexdigest()


def _memo(root: Path) -> Path | None:
    git_dir = root / ".git"
    return git_dir / _MEMO if git_dir.is_dir() else None


def seen(root: Path, raw: bytes, kind: str) -> bool:
    """Whether these exact bytes passed validation as ``kind`` before."""
    memo = _memo(root)
    try:
        return memo is not None and _key(raw, kind) in memo.read_text().split()
    except OSError:
        return False


def remember(root: Path, raw: bytes, kind: str) -> None:
    """Record that these bytes passed; best effort (a read-only .git just misses)."""
    memo = _memo(root)
    if memo is None:
        return
    try:
        memo.parent.mkdir(exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
        tmp.write_text(_key(raw, kind) + "\n")
        os.replace(tmp, memo)
    except OSError:
        pass
