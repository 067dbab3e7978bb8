"""What changed in the registry, as typed records: the one diff engine behind ``history``
and ``events``.

Every fact comes from the files themselves (``model.yaml`` and ``versions/<N>.yaml`` before
and after a commit, loaded with the hardened loader), never from commit subjects, so
hand edits and merged pull requests are described as truly as gitreg's own writes.

Event names follow MLflow 3's webhooks where one exists (``registered_model.created``,
``model_version.created``, ``model_version_tag.set|deleted``,
``model_version_alias.created|deleted``); the rest are gitreg's, in the same style. An
alias that moves is ONE ``model_version_alias.created`` carrying ``previous_version``, as
MLflow fires ``alias.created`` whenever an alias is set, new or moved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gitreg.errors import ManifestError
from gitreg.files import yamlio
from gitreg.layout import parse_path

MODEL_CREATED = "registered_model.created"
MODEL_RENAMED = "registered_model.renamed"
MODEL_DELETED = "registered_model.deleted"
MODEL_DESCRIPTION = "registered_model.description_updated"
MODEL_TAG_SET = "registered_model_tag.set"
MODEL_TAG_DELETED = "registered_model_tag.deleted"
VERSION_CREATED = "model_version.created"
VERSION_DELETED = "model_version.deleted"
VERSION_STAGE = "model_version.stage_transitioned"
VERSION_DESCRIPTION = "model_version.description_updated"
VERSION_UPDATED = "model_version.updated"
VERSION_TAG_SET = "model_version_tag.set"
VERSION_TAG_DELETED = "model_version_tag.deleted"
ALIAS_CREATED = "model_version_alias.created"
ALIAS_DELETED = "model_version_alias.deleted"

EVENT_TYPES = (
    MODEL_CREATED,
    MODEL_RENAMED,
    MODEL_DELETED,
    MODEL_DESCRIPTION,
    MODEL_TAG_SET,
    MODEL_TAG_DELETED,
    VERSION_CREATED,
    VERSION_DELETED,
    VERSION_STAGE,
    VERSION_DESCRIPTION,
    VERSION_UPDATED,
    VERSION_TAG_SET,
    VERSION_TAG_DELETED,
    ALIAS_CREATED,
    ALIAS_DELETED,
)


# Fields a version may change after registration, each with its own event; any other
# difference is reported as one model_version.updated listing the fields.
# (updated_at moves with each of those changes: it is no change of its own)
_VERSION_OWN = {"stage", "tags", "description", "name", "version", "updated_at"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    """One change, before it is tied to a commit."""

    type: str
    name: str
    version: int | None
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One change to one model (or version) in one commit: a history row and an event."""

    type: str
    name: str
    version: int | None
    text: str
    data: dict[str, Any]
    commit: str
    author: str
    timestamp: str
    subject: str
    pull_request: int | None = None
    approvers: tuple[str, ...] = ()
    merged_by: str | None = None

    @property
    def id(self) -> str:
        """Stable across runs, so a receiver can drop a delivery it has already seen."""
        key = self.data.get("alias") or self.data.get("key") or ""
        raw = "\0".join([self.commit, self.type, self.name, str(self.version or ""), key])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "version": self.version,
            "text": self.text,
            **self.data,
            "commit": self.commit,
            "author": self.author,
            "timestamp": self.timestamp,
            "subject": self.subject,
            "pull_request": self.pull_request,
            "approvers": list(self.approvers),
            "merged_by": self.merged_by,
        }


# --- the diff engine ------------------------------------------------------------------------


@dataclass
class _Side:
    """One model's files on one side of a commit, as loaded data (None: absent/invalid)."""

    model: dict[str, Any] | None = None
    model_present: bool = False
    versions: dict[int, dict[str, Any] | None] = field(default_factory=dict)


def diff(files: Mapping[str, tuple[bytes | None, bytes | None]]) -> list[Fact]:
    """The facts a commit's changed files tell: ``files`` maps each changed path under
    ``models/`` to its bytes before and after (None where absent)."""
    before: dict[str, _Side] = {}
    after: dict[str, _Side] = {}
    for path, (was, now) in files.items():
        where = parse_path(path)
        if where is None:
            continue
        name = where.name
        for sides, raw in ((before, was), (after, now)):
            if raw is None:
                continue
            side = sides.setdefault(name, _Side())
            data = parse_cached(raw)
            if where.version is None:
                side.model, side.model_present = data, True
            else:
                side.versions[where.version] = data
    facts: list[Fact] = []
    renamed = _renames(before, after)
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, _Side()), after.get(name, _Side())
        if name in renamed.values():
            continue  # described under its new name
        if name in renamed:
            src = renamed[name]
            text = f"renamed {src} -> {name}"
            facts.append(
                Fact(
                    type=MODEL_RENAMED,
                    name=name,
                    version=None,
                    text=text,
                    data={"previous_name": src},
                )
            )
            facts += _model_facts(name, before[src], new, created=False)
        elif old.model_present and not new.model_present:
            facts.append(Fact(type=MODEL_DELETED, name=name, version=None, text="model deleted"))
        else:
            created = new.model_present and not old.model_present
            facts += _model_facts(name, old, new, created=created)
    return facts


@lru_cache(maxsize=4096)
def parse_cached(raw: bytes) -> dict[str, Any] | None:
    """A file's data (shared: never mutated); a blob is both a commit's "after" and the
    next one's "before", so each is parsed once."""
    try:
        data = yamlio.load(raw, "").data
    except ManifestError:
        return None
    return data if isinstance(data, dict) else None


def _renames(before: dict[str, _Side], after: dict[str, _Side]) -> dict[str, str]:
    """new name -> old name, for a model folder that vanished while one with the same
    creation stamp appeared in the same commit."""
    gone = {
        _stamp(s.model): n
        for n, s in before.items()
        if s.model is not None and (n not in after or not after[n].model_present)
    }
    out = {}
    for n, s in after.items():
        if s.model is not None and (n not in before or not before[n].model_present):
            src = gone.pop(_stamp(s.model), None)
            if src is not None and src != n:
                out[n] = src
    return out


def _stamp(model: dict[str, Any]) -> tuple[str, str]:
    return str(model.get("created_at")), str(model.get("created_by"))


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _given_source(version: Mapping[str, Any]) -> dict[str, Any]:
    """The source the user named (MLflow's ``source``), where it differs from the URI."""
    given = _map(version.get("lineage")).get("source")
    return {"given_source": given} if given else {}


def _model_facts(name: str, old: _Side, new: _Side, *, created: bool) -> list[Fact]:
    facts: list[Fact] = []
    if created:
        facts.append(Fact(type=MODEL_CREATED, name=name, version=None, text="model created"))
    if new.model_present:
        facts += _model_file_facts(name, old.model or {}, new.model, created=created)
    for v in sorted(set(old.versions) | set(new.versions)):
        facts += _version_facts(name, v, old.versions.get(v, _ABSENT), new.versions.get(v, _ABSENT))
    return facts


_ABSENT: dict[str, Any] = {"__absent__": True}


def _model_file_facts(
    name: str, old: dict[str, Any], new: dict[str, Any] | None, *, created: bool
) -> list[Fact]:
    if new is None:
        return [
            Fact(
                type=MODEL_DESCRIPTION,
                name=name,
                version=None,
                text="model.yaml edited (not valid YAML)",
                data={"invalid": True},
            )
        ]
    facts = []
    if not created and old.get("description", "") != new.get("description", ""):
        facts.append(
            Fact(type=MODEL_DESCRIPTION, name=name, version=None, text="description edited")
        )
    facts += _tag_facts(name, None, _map(old.get("tags")), _map(new.get("tags")))
    was, now = _map(old.get("aliases")), _map(new.get("aliases"))
    for alias in sorted(set(was) | set(now)):
        if alias not in now:
            facts.append(
                Fact(
                    type=ALIAS_DELETED,
                    name=name,
                    version=_int(was[alias]),
                    text=f"alias {alias} deleted (was v{was[alias]})",
                    data={"alias": alias},
                )
            )
        elif was.get(alias) != now[alias]:
            prev = _int(was.get(alias))
            move = f"v{prev} -> " if prev is not None else ""
            facts.append(
                Fact(
                    type=ALIAS_CREATED,
                    name=name,
                    version=_int(now[alias]),
                    text=f"alias {alias} {move}v{now[alias]}",
                    data={"alias": alias, "previous_version": prev},
                )
            )
    return facts


def _tag_facts(
    name: str, version: int | None, was: dict[str, Any], now: dict[str, Any]
) -> list[Fact]:
    set_type, del_type = (
        (MODEL_TAG_SET, MODEL_TAG_DELETED)
        if version is None
        else (VERSION_TAG_SET, VERSION_TAG_DELETED)
    )
    where = "" if version is None else f"v{version}: "
    facts = []
    for key in sorted(set(was) | set(now)):
        if key not in now:
            facts.append(
                Fact(
                    type=del_type,
                    name=name,
                    version=version,
                    text=f"{where}tag deleted {key}",
                    data={"key": key},
                )
            )
        elif was.get(key) != now[key]:
            facts.append(
                Fact(
                    type=set_type,
                    name=name,
                    version=version,
                    text=f"{where}tag set {key}={now[key]}",
                    data={"key": key, "value": now[key]},
                )
            )
    return facts


def _version_facts(
    name: str, v: int, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[Fact]:
    if old is _ABSENT and new is _ABSENT:
        return []
    if new is _ABSENT:
        return [Fact(type=VERSION_DELETED, name=name, version=v, text=f"deleted v{v}")]
    if new is None or old is None:
        return [
            Fact(
                type=VERSION_UPDATED,
                name=name,
                version=v,
                text=f"v{v}: edited (not valid YAML)",
                data={"invalid": True},
            )
        ]
    if old is _ABSENT:
        stage = str(new.get("stage"))
        return [
            Fact(
                type=VERSION_CREATED,
                name=name,
                version=v,
                text=f"registered v{v} ({stage})",
                data={
                    "stage": stage,
                    "source": _map(new.get("artifact")).get("uri"),
                    "run_id": _map(new.get("lineage")).get("run_id"),
                    **_given_source(new),
                },
            )
        ]
    facts = []
    if old.get("stage") != new.get("stage"):
        frm, to = str(old.get("stage")), str(new.get("stage"))
        facts.append(
            Fact(
                type=VERSION_STAGE,
                name=name,
                version=v,
                text=f"v{v}: {frm} -> {to}",
                data={"from_stage": frm, "to_stage": to},
            )
        )
    facts += _tag_facts(name, v, _map(old.get("tags")), _map(new.get("tags")))
    if old.get("description", "") != new.get("description", ""):
        facts.append(
            Fact(type=VERSION_DESCRIPTION, name=name, version=v, text=f"v{v}: description edited")
        )
    fields = sorted(
        k for k in set(old) | set(new) if k not in _VERSION_OWN and old.get(k) != new.get(k)
    )
    if fields:
        facts.append(
            Fact(
                type=VERSION_UPDATED,
                name=name,
                version=v,
                text=f"v{v}: edited {', '.join(fields)}",
                data={"fields": fields},
            )
        )
    return facts


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
