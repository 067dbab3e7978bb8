"""What the last ``build_site`` into a folder left behind, so the next one makes only the
files whose inputs changed (``site.plan``): for each keyed file its key and the stat
signature of the file as written (or found equal), the sha256 of each API version
document by key, and each commit's changes per model (``trail.history``'s memo).

Kept under the registry's ``.git/gitreg/site/``, one file per output folder, never in the
published folder. A file is skipped only when its key is the same AND the file on disk
still has the signature recorded (inode, size, mtime and ctime), so a page edited, deleted
or overwritten by anything else is made again. A different gitreg (any change to its
source), Python or Markdown renderer, or an unreadable state, starts from nothing."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import marshal
import operator
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitreg.errors import GitError
from gitreg.registry.view import RegistryView
from gitreg.trail.changes import Change

Sig = tuple[int, int, int, int]
_FORMAT = 1


class Memo(dict[str, list[Change]]):
    """``trail.history``'s memo that remembers which entries were asked for, so only
    those are kept (commits no longer in the history fall out)."""

    def __init__(self, stored: Mapping[str, list[Change]] | None = None) -> None:
        super().__init__(stored or {})
        self.used: set[str] = set()

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.used.add(key)
        return super().__contains__(key)


@dataclass
class State:
    path: Path | None  # where it is kept (None: nowhere, every file is made)
    files: dict[str, tuple[bytes, Sig]] = field(default_factory=dict)
    shas: dict[bytes, str] = field(default_factory=dict)
    memo: Memo = field(default_factory=Memo)
    stored: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)  # memo, as kept


def sig(path: str | Path) -> Sig | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def load(view: RegistryView, out: Path) -> State:
    where = _where(view, out)
    if where is None:
        return State(None)
    try:
        raw = marshal.loads(where.read_bytes())
        if raw[0] != _FORMAT or raw[1] != fingerprint():
            return State(where)
        files, shas, memo = raw[2], raw[3], raw[4]
        return State(
            where,
            {rel: (key, tuple(s)) for rel, (key, s) in files.items()},
            dict(shas),
            Memo(
                {
                    k: [Change(**dict(zip(_FIELDS, c, strict=True))) for c in cs]
                    for k, cs in memo.items()
                }
            ),
            memo,
        )
    except (OSError, ValueError, EOFError, TypeError, KeyError, IndexError):
        return State(where)


def save(state: State, files: dict[str, tuple[bytes, Sig]], shas: dict[bytes, str]) -> None:
    """Keep what this render left (best effort: a read-only .git only costs speed)."""
    if state.path is None:
        return
    memo = {
        k: state.stored[k] if k in state.stored else [_tuple(c) for c in state.memo[k]]
        for k in state.memo.used
        if k in state.memo
    }
    data = marshal.dumps((_FORMAT, fingerprint(), files, shas, memo))
    tmp = state.path.with_name(f".{state.path.name}.{os.getpid()}.tmp")
    try:
        state.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, state.path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


_FIELDS = tuple(Change.__dataclass_fields__)
_tuple = operator.attrgetter(*_FIELDS)


def _where(view: RegistryView, out: Path) -> Path | None:
    try:
        base = view.git.git_path("gitreg")
    except GitError:  # no repository: nowhere to keep it
        return None
    name = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:24]
    return base / "site" / f"{name}.marshal"


_fingerprint: list[str] = []


def fingerprint() -> str:
    """What the bytes of a page depend on besides its inputs: gitreg's source, Python,
    marshal and the Markdown renderer's version."""
    if not _fingerprint:
        h = hashlib.sha256(f"{sys.version}\0{marshal.version}".encode())
        package = Path(__file__).resolve().parents[1]
        for path in sorted(package.rglob("*.py")):
            h.update(path.relative_to(package).as_posix().encode() + b"\0")
            h.update(path.read_bytes())
        spec = importlib.util.find_spec("markdown_it")
        if spec is not None and spec.origin:
            h.update(Path(spec.origin).read_bytes())  # it says __version__
        _fingerprint.append(h.hexdigest())
    return _fingerprint[0]
