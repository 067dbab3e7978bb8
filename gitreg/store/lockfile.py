"""Lock files: the exact artifacts a deployment serves, fetchable with the registry gone.

A lock is canonical JSON (``dumps``): two-space indent, fixed key order, entries sorted by
name, version and the URI they were resolved from, a final newline, so pinning the same
answers twice writes the same bytes and a change is a small diff in a deployment repo::

    {
      "lock_version": 1,
      "storage_options": {"endpoint_url": "..."},     # fsspec options, never credentials
      "models": [
        {"name": ..., "version": 3, "resolved_from": "models:/fraud@champion",
         "commit": "<registry commit>", "artifact": {"uri", "digest", "size", "files"?}}
      ]
    }

``fetch_lock`` copies every pinned artifact into a new folder, ``<name>/<version>/<basename>``
(the artifact URI's last segment), through the digest-keyed cache and verified on the way
out; all of it lands in a hidden folder beside ``dest`` that is renamed into place only
when every artifact verified, so a failure leaves nothing behind. ``verify_lock`` checks the
pinned artifacts in their store, or the copies in a folder ``fetch_lock`` filled.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitreg import model_uris
from gitreg.errors import AlreadyExists, ArtifactError, GitregError, ManifestError
from gitreg.layout import check_model_name
from gitreg.manifest import ArtifactRef, ModelVersion
from gitreg.store.cache import cached_download
from gitreg.store.integrity import Verification, check_ref, download, verify_detail
from gitreg.store.locations import check_options, check_rel
from gitreg.store.transfer import Progress

LOCK_VERSION = 1
MAX_LOCK_BYTES = 64 << 20
_COMMIT_CHARS = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True, kw_only=True)
class LockEntry:
    """One pinned model version and the URI it was resolved from."""

    name: str
    version: int
    resolved_from: str
    commit: str
    artifact: ArtifactRef

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.name, self.version, self.resolved_from)

    @property
    def relpath(self) -> str:
        """Where ``fetch_lock`` puts this artifact, relative to its folder."""
        return f"{self.name}/{self.version}/{basename(self.artifact.uri)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "resolved_from": self.resolved_from,
            "commit": self.commit,
            "artifact": self.artifact.to_dict(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock:
    """A set of pinned versions (sorted, one per resolved-from URI) and the store options."""

    entries: tuple[LockEntry, ...] = ()
    storage_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_uri = {e.resolved_from: e for e in self.entries}  # the later pin of a URI wins
        object.__setattr__(self, "entries", tuple(sorted(by_uri.values(), key=lambda e: e.key)))

    def get(self, uri: str) -> LockEntry:
        """The entry pinned for ``uri`` (as it was given to ``pin``)."""
        for e in self.entries:
            if e.resolved_from == uri:
                return e
        raise GitregError(f"the lock pins nothing for {uri}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lock_version": LOCK_VERSION}
        if self.storage_options:
            out["storage_options"] = self.storage_options
        out["models"] = [e.to_dict() for e in self.entries]
        return out


def dumps(lock: Lock) -> str:
    """The lock's canonical text."""
    return json.dumps(lock.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_lock(lock: Lock, path: Path) -> None:
    """Write the lock to ``path`` atomically (a temporary file renamed over it)."""
    tmp = path.with_name(f".{path.name}.gitreg-tmp-{os.urandom(6).hex()}")
    try:
        tmp.write_text(dumps(lock), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise GitregError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)


def pinned(
    resolve: Callable[[str], ModelVersion],
    uris: Iterable[str],
    commit: str,
    storage_options: Mapping[str, Any],
) -> Lock:
    """A lock of each URI (once, in the order given) as ``resolve`` answers it at
    ``commit``: the registry's reader, or the static API's."""
    entries = []
    for uri in dict.fromkeys(uris):
        mv = resolve(uri)
        entries.append(
            LockEntry(
                name=mv.name,
                version=mv.version,
                resolved_from=uri,
                commit=commit,
                artifact=mv.artifact,
            )
        )
    return Lock(entries=tuple(entries), storage_options=dict(storage_options))


def load_lock(path: str | os.PathLike[str]) -> Lock:
    """Read and check a lock file; a malformed one raises ManifestError naming the problem."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_LOCK_BYTES + 1)
    except OSError as e:
        raise GitregError(f"cannot read lock file {p}: {e.strerror or e}") from None
    if len(raw) > MAX_LOCK_BYTES:
        raise ManifestError(str(p), None, f"lock file is over {MAX_LOCK_BYTES >> 20} MiB")
    return parse_lock(raw, str(p))


def parse_lock(raw: bytes, where: str = "lock") -> Lock:
    """A Lock from a lock file's bytes (see ``load_lock``)."""
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise ManifestError(where, getattr(e, "lineno", None), f"not a lock file: {e}") from None
    if not isinstance(data, dict) or set(data) - {"lock_version", "storage_options", "models"}:
        raise ManifestError(where, None, "not a lock file (unknown top-level keys)")
    if data.get("lock_version") != LOCK_VERSION:
        raise ManifestError(where, None, f"lock_version must be {LOCK_VERSION}")
    options = data.get("storage_options", {})
    models = data.get("models")
    if not isinstance(options, dict) or not isinstance(models, list):
        raise ManifestError(where, None, "storage_options must be a map and models a list")
    try:
        check_options(options, "storage_options")
    except GitregError as e:
        raise ManifestError(where, None, str(e)) from None
    entries = [_entry(item, f"{where}: models[{i}]") for i, item in enumerate(models)]
    if len({e.resolved_from for e in entries}) != len(entries):
        raise ManifestError(where, None, "a URI is pinned twice")
    return Lock(entries=tuple(entries), storage_options=options)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key")
    return out


def _entry(item: Any, where: str) -> LockEntry:
    keys = {"name", "version", "resolved_from", "commit", "artifact"}
    if not isinstance(item, dict) or set(item) != keys:
        raise ManifestError(where, None, f"each model needs exactly: {', '.join(sorted(keys))}")
    shown = item["name"] if isinstance(item["name"], str) else "?"
    try:
        name = check_model_name(item["name"])
        version = item["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError("version must be a whole number from 1")
        commit = item["commit"]
        if (
            not isinstance(commit, str)
            or len(commit) not in (40, 64)
            or set(commit) - _COMMIT_CHARS
        ):
            raise ValueError("commit must be a full git commit id")
        if not isinstance(item["resolved_from"], str):
            raise ValueError("resolved_from must be a models:/ URI")
        model_uris.parse(item["resolved_from"])
        artifact = ArtifactRef.from_dict(item["artifact"])
        check_ref(artifact)  # digests well formed, the file list adds up to digest and size
        basename(artifact.uri)
    except (ValueError, TypeError, KeyError, GitregError) as e:
        raise ManifestError(where, None, f"{shown}: {e}") from None
    return LockEntry(
        name=name, version=version, resolved_from=item["resolved_from"], commit=commit,
        artifact=artifact,
    )  # fmt: skip


def basename(uri: str) -> str:
    """The last path segment of an artifact URI: the name its copy gets."""
    tail = uri.rstrip("/").rpartition("/")[2]
    if not tail or "/" in check_rel(tail) or ":" in tail:
        raise ArtifactError(f"{uri}: no usable file name in the artifact URI")
    return tail


# --- fetching and checking ---------------------------------------------------------------


def fetch_lock(
    lock: Lock,
    dest: str | os.PathLike[str],
    *,
    cache: bool = True,
    progress: Progress | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Copy every pinned artifact under ``dest`` (which must not exist, or be empty),
    verified, all or nothing; return resolved-from URI -> the artifact's path."""
    root = Path(os.path.abspath(dest))
    if os.path.lexists(root) and not (
        root.is_dir() and not root.is_symlink() and not any(root.iterdir())
    ):
        raise AlreadyExists(f"{root} already exists and is not empty; gitreg does not overwrite it")
    options = {**lock.storage_options, **(storage_options or {})}
    tmp = root.parent / f".{root.name}.gitreg-tmp-{os.urandom(6).hex()}"
    try:
        tmp.mkdir(parents=True)
        for e in _distinct(lock):
            target = tmp / e.relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            if cache:
                cached_download(e.artifact, target, options, progress)
            else:
                download(e.artifact, target, options, progress)
        if os.path.lexists(root):
            root.rmdir()  # it was empty; a file appearing meanwhile makes this fail
        os.rename(tmp, root)
    except OSError as e:
        raise AlreadyExists(f"cannot put the artifacts in {root}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {e.resolved_from: root / e.relpath for e in lock.entries}


def verify_lock(
    lock: Lock,
    folder: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> list[tuple[LockEntry, Verification]]:
    """Each entry with ("OK" | "MISMATCH" | "MISSING" | "ERROR", why): the artifact in its
    store, or, with ``folder``, the copy ``fetch_lock`` put there."""
    options = {**lock.storage_options, **(storage_options or {})}
    out = []
    for e in lock.entries:
        ref, opts = e.artifact, options
        if folder is not None:
            ref = replace(ref, uri=(Path(os.path.abspath(folder)) / e.relpath).as_uri())
            opts = {}
        try:
            out.append((e, verify_detail(ref, opts, progress)))
        except GitregError as err:
            out.append((e, Verification("ERROR", str(err))))
    return out


def _distinct(lock: Lock) -> list[LockEntry]:
    seen: dict[str, LockEntry] = {}
    for e in lock.entries:
        held = seen.setdefault(e.relpath, e)
        if held.artifact != e.artifact:
            raise ManifestError("lock", None, f"{e.relpath} is pinned to two different artifacts")
    return list(seen.values())
