"""A client of the static read API (``gitreg.site.api``): resolve ``models:/`` URIs from
any static host, with no git, no clone and no registry server.

Every answer is read from one snapshot: ``index.json`` first, then each document checked
against the sha256 its parent names; a document that does not match (a host mid-deploy
or a file altered after it was published) means the index is read again, once, and then
the read is refused. Answers and error messages are those of ``RegistryView.resolve``.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gitreg import model_uris
from gitreg.errors import GitregError, NotFound, UsageError
from gitreg.layout import folder
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.store.integrity import check_ref
from gitreg.store.lockfile import Lock, pinned

MAX_DOCUMENT = 64 << 20
RETRY_DELAYS = (0.2, 0.5)


class APIError(GitregError):
    """The static API could not be read, or what it served does not add up."""


class _Stale(Exception):
    """A document does not match the digest its parent names."""


@dataclass
class _Snapshot:
    index: dict[str, Any]
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


class StaticAPI:
    """``StaticAPI("https://registry.example.com/")``: the site's root URL (``http(s)://``
    or ``file://``); ``api/v1/`` is found under it."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https", "file"):
            raise UsageError(f"--api {url!r}: use an http://, https:// or file:// URL")
        self.base = url.rstrip("/") + "/api/v1/"
        self.timeout = timeout

    # --- transport --------------------------------------------------------------------

    def _get(self, rel: str) -> bytes:
        url = self.base + urllib.parse.quote(rel)
        for delay in (*RETRY_DELAYS, None):
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as r:
                    data: bytes = r.read(MAX_DOCUMENT + 1)
                if len(data) > MAX_DOCUMENT:
                    raise APIError(f"{url} is over {MAX_DOCUMENT >> 20} MiB")
                return data
            except urllib.error.HTTPError as e:
                if delay is None or e.code < 500:  # a 404, like any 4xx, is final
                    raise APIError(f"{url}: HTTP {e.code} {e.reason}") from None
            except (urllib.error.URLError, OSError) as e:
                if delay is None:
                    why = getattr(e, "reason", None) or e
                    raise APIError(f"cannot read {url}: {why}") from None
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _json(self, rel: str, digest: str | None) -> dict[str, Any]:
        raw = self._get(rel)
        if digest is not None and hashlib.sha256(raw).hexdigest() != digest:
            raise _Stale(rel)
        try:
            data = json.loads(raw)
        except ValueError:
            raise APIError(f"{self.base}{rel} is not JSON") from None
        if not isinstance(data, dict):
            raise APIError(f"{self.base}{rel} is not a JSON object")
        return data

    def _snapshot(self) -> _Snapshot:
        index = self._json("index.json", None)
        if index.get("api_version") != 1 or not isinstance(index.get("models"), dict):
            raise APIError(f"{self.base}index.json is not a gitreg API v1 index")
        return _Snapshot(index)

    def _model_doc(self, snap: _Snapshot, name: str) -> dict[str, Any]:
        if name not in snap.models:
            digest = snap.index["models"].get(name)
            if digest is None:
                raise NotFound.model(name, snap.index["models"])
            snap.models[name] = self._json(f"models/{folder(name)}.json", digest)
        return snap.models[name]

    def _version(self, snap: _Snapshot, name: str, number: int) -> ModelVersion:
        digest = self._model_doc(snap, name)["versions"].get(str(number))
        if digest is None:
            raise NotFound(f"{name} has no version {number}")
        data = self._json(f"models/{folder(name)}/versions/{number}.json", digest)
        try:
            mv = ModelVersion.from_dict(data)
        except (ValueError, KeyError, TypeError):
            raise APIError(
                f"{self.base}models/{name}/versions/{number}.json is malformed"
            ) from None
        if (mv.name, mv.version) != (name, number):
            raise APIError(f"{self.base}models/{name}/versions/{number}.json names another version")
        check_ref(mv.artifact)  # the digest and listing add up before anyone trusts them
        return mv

    def _consistent(self, read: Any) -> Any:
        for attempt in range(2):
            try:
                return read(self._snapshot())
            except _Stale as e:
                if attempt:
                    raise APIError(
                        f"{self.base}{e}: its sha256 is not the one the index names; the "
                        "site is being republished or was altered"
                    ) from None
        raise AssertionError("unreachable")

    # --- answers ------------------------------------------------------------------------

    def _resolve(self, snap: _Snapshot, uri: str) -> ModelVersion:
        u = model_uris.parse(uri)
        if u.version is not None:
            self._model_doc(snap, u.name)  # "no such model" beats "no such version"
            return self._version(snap, u.name, u.version)
        doc = self._model_doc(snap, u.name)
        if u.alias is not None:
            aliases = doc["model"].get("aliases") or {}
            if u.alias not in aliases:
                raise NotFound.alias(u.name, u.alias, aliases)
            return self._version(snap, u.name, int(aliases[u.alias]))
        if u.latest:
            if doc.get("latest") is None:
                raise NotFound(f"{u.name} has no versions")
            return self._version(snap, u.name, int(doc["latest"]))
        stages = [str(s) for s in snap.index.get("stages") or []]
        stage = next((s for s in stages if s.lower() == (u.stage or "").lower()), None)
        if stage is None:
            raise UsageError(f"unknown stage {u.stage!r}: gitreg.yaml allows {', '.join(stages)}")
        if stage not in doc.get("stages", {}):
            raise NotFound(f"{u.name} has no version in stage {stage}")
        return self._version(snap, u.name, int(doc["stages"][stage]))

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names, as the published commit has it."""
        mv: ModelVersion = self._consistent(lambda snap: self._resolve(snap, uri))
        return mv

    def resolve_with_aliases(self, uri: str) -> tuple[ModelVersion, list[str]]:
        """The version and the aliases that point at it (what ``resolve --json`` shows)."""

        def read(snap: _Snapshot) -> tuple[ModelVersion, list[str]]:
            mv = self._resolve(snap, uri)
            model = RegisteredModel.from_dict(self._model_doc(snap, mv.name)["model"])
            return mv, sorted(a for a, v in model.aliases.items() if v == mv.version)

        out: tuple[ModelVersion, list[str]] = self._consistent(read)
        return out

    def commit(self) -> str:
        """The registry commit the site was published from."""
        commit = self._snapshot().index.get("commit")
        if not isinstance(commit, str):
            raise APIError(f"{self.base}index.json names no commit")
        return commit

    def pin(self, uris: Iterable[str]) -> Lock:
        """A lock pinning each URI as the published commit resolves it."""

        def read(snap: _Snapshot) -> Lock:
            commit = snap.index.get("commit")
            if not isinstance(commit, str):
                raise APIError(f"{self.base}index.json names no commit")
            options = snap.index.get("storage_options") or {}
            return pinned(lambda uri: self._resolve(snap, uri), uris, commit, options)

        lock: Lock = self._consistent(read)
        return lock


__all__ = ["APIError", "StaticAPI"]
