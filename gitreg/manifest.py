"""The registry's records as frozen dataclasses, and their canonical dict form.

``to_dict`` fixes the key order of every file gitreg writes (so rewriting an unchanged
record changes no byte); ``from_dict`` expects data that already passed the JSON Schema
and only converts it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from typing import Any

from gitreg.errors import UsageError

DEFAULT_STAGES = ("None", "Staging", "Production", "Archived")
_TRAILER_RE = re.compile(r"^gitreg-op\s*:", re.IGNORECASE | re.MULTILINE)
_NOTE_MAX = 10_000


def check_note(note: str) -> str:
    """A transition's note (``transition -m``) for a commit body, stripped: at most 10,000
    characters, no NUL, and no ``Gitreg-Op:`` line (that trailer is how a retried push
    recognises its own commit)."""
    note = note.strip()
    if len(note) > _NOTE_MAX:
        raise UsageError(f"the message has {len(note)} characters; the limit is {_NOTE_MAX}")
    if "\0" in note or _TRAILER_RE.search(note):
        raise UsageError("the message may not contain a NUL character or a 'Gitreg-Op:' line")
    return note


def _strict(d: Any, required: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    """Cheap shape check for the read path: known keys only, each of its type.

    Raises ValueError on the first surprise; the caller then runs the JSON Schema, whose
    message (with file and line) is what the user sees. Patterns are left to the schema."""
    if not isinstance(d, dict):
        raise ValueError("not a mapping")
    missing = required.keys() - d.keys()
    if missing:
        raise ValueError(missing.pop())
    for key, value in d.items():
        want = required.get(key, optional.get(key))
        if want is None or not _is(value, want):
            raise ValueError(key)
    return d


def _is(value: Any, want: Any) -> bool:
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if want is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(want, tuple):  # a map: (value type,)
        return isinstance(value, dict) and all(
            isinstance(k, str) and _is(v, want[0]) for k, v in value.items()
        )
    if want is list:
        return isinstance(value, list)
    return isinstance(value, want)


_STRS = (str,)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """One file of a directory artifact."""

    path: str
    size: int
    digest: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "digest": self.digest}


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactRef:
    """Where a version's bytes live and what they must hash to.

    ``digest`` is ``sha256:<hex>`` of the file, or of the canonical listing of a
    directory (see store.listing_digest); ``files`` is that listing, empty for a file.
    """

    uri: str
    digest: str
    size: int
    files: tuple[FileEntry, ...] = ()

    @property
    def is_dir(self) -> bool:
        return bool(self.files)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri, "digest": self.digest, "size": self.size}
        if self.files:
            out["files"] = [f.to_dict() for f in self.files]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArtifactRef:
        _strict(d, {"uri": str, "digest": str, "size": int}, {"files": list})
        entry = {"path": str, "size": int, "digest": str}
        files = tuple(FileEntry(**_strict(f, entry, {})) for f in d.get("files") or ())
        return cls(uri=d["uri"], digest=d["digest"], size=d["size"], files=files)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """One version manifest, ``models/<name>/versions/<version>.yaml``."""

    name: str
    version: int
    stage: str
    artifact: ArtifactRef
    created_at: str
    created_by: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    lineage: dict[str, str] = field(default_factory=dict)
    updated_at: str = ""  # the last change of stage, description or tags; "" = never

    def to_dict(self) -> dict[str, Any]:
        d = {
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "description": self.description,
            "artifact": self.artifact.to_dict(),
            "metrics": dict(sorted(self.metrics.items())),
            "params": dict(sorted(self.params.items())),
            "tags": dict(sorted(self.tags.items())),
            "lineage": dict(sorted(self.lineage.items())),
            "created_at": self.created_at,
            "created_by": self.created_by,
        }
        if self.updated_at:  # absent until the first change: old files keep their bytes
            d["updated_at"] = self.updated_at
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelVersion:
        """From data that passed the schema, or raise ValueError (see ``_strict``)."""
        _strict(
            d,
            {
                "name": str,
                "version": int,
                "stage": str,
                "artifact": dict,
                "created_at": str,
                "created_by": str,
            },
            {
                "description": str,
                "tags": _STRS,
                "metrics": (float,),
                "params": _STRS,
                "lineage": _STRS,
                "updated_at": str,
            },
        )
        return cls(
            name=d["name"],
            version=d["version"],
            stage=d["stage"],
            artifact=ArtifactRef.from_dict(d["artifact"]),
            created_at=d["created_at"],
            created_by=d["created_by"],
            description=d.get("description") or "",
            tags=dict(d.get("tags") or {}),
            metrics=dict(d.get("metrics") or {}),
            params=dict(d.get("params") or {}),
            lineage=dict(d.get("lineage") or {}),
            updated_at=d.get("updated_at", ""),
        )

    @classmethod
    def from_index(cls, d: dict[str, Any]) -> ModelVersion:
        """From ``to_dict``'s output as the query index stored it: checked before it was
        stored, so this only builds (a tenth of ``from_dict``'s cost)."""
        a = d["artifact"]
        files = tuple(FileEntry(**f) for f in a["files"]) if "files" in a else ()
        return cls(  # names, stages and authors repeat: one copy each across 100,000 versions
            name=sys.intern(d["name"]),
            version=d["version"],
            stage=sys.intern(d["stage"]),
            artifact=ArtifactRef(uri=a["uri"], digest=a["digest"], size=a["size"], files=files),
            created_at=d["created_at"],
            created_by=sys.intern(d["created_by"]),
            description=d["description"],
            tags=d["tags"],
            metrics=d["metrics"],
            params=d["params"],
            lineage=d["lineage"],
            updated_at=d.get("updated_at", ""),
        )

    def evolve(self, **changes: Any) -> ModelVersion:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredModel:
    """``models/<name>/model.yaml``. ``last_version`` is the highest number ever issued,
    so a deleted version's number is never given out again."""

    name: str
    created_at: str
    created_by: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    last_version: int = 0
    former_names: tuple[str, ...] = ()  # oldest first; kept by rename
    updated_at: str = ""  # the last change of description or tags; "" = never

    def to_dict(self) -> dict[str, Any]:
        d = {
            "name": self.name,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
            "aliases": dict(sorted(self.aliases.items())),
            "last_version": self.last_version,
            "created_at": self.created_at,
            "created_by": self.created_by,
            **({"former_names": list(self.former_names)} if self.former_names else {}),
        }
        if self.updated_at:
            d["updated_at"] = self.updated_at
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegisteredModel:
        """From data that passed the schema, or raise ValueError (see ``_strict``)."""
        _strict(
            d,
            {"name": str, "created_at": str, "created_by": str},
            {
                "description": str,
                "tags": _STRS,
                "aliases": (int,),
                "last_version": int,
                "former_names": list,
                "updated_at": str,
            },
        )
        return cls(
            name=d["name"],
            created_at=d["created_at"],
            created_by=d["created_by"],
            description=d.get("description") or "",
            tags=dict(d.get("tags") or {}),
            aliases=dict(d.get("aliases") or {}),
            last_version=d.get("last_version", 0),
            former_names=tuple(d.get("former_names") or ()),
            updated_at=d.get("updated_at", ""),
        )

    @classmethod
    def from_index(cls, d: dict[str, Any]) -> RegisteredModel:
        """From ``to_dict``'s output as the query index stored it (see ModelVersion)."""
        if "former_names" in d:
            d = {**d, "former_names": tuple(d["former_names"])}
        return cls(**d)

    def evolve(self, **changes: Any) -> RegisteredModel:
        return replace(self, **changes)
