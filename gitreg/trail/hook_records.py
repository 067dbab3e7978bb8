"""The ``webhooks:`` list of gitreg.yaml as records that can be listed, added, changed and
removed (MLflow's webhook API does so through the plugin), and the edit of that list in
gitreg.yaml's text.

A record is one list entry: ``url``, ``events`` (event names or fnmatch patterns),
``secret_env`` (the environment variable holding the signing secret: the secret itself
is never written, the registry's history being cloned everywhere), and, for hooks made
through an API, ``id``, ``name``, ``description``, ``status`` (active | disabled),
``format`` (gitreg | mlflow), ``created_at`` and ``updated_at``. An entry written by
hand without an ``id`` gets one derived from its URL and events, stable while those are.

``with_hooks`` replaces only the top-level ``webhooks:`` block of the file (up to the next
line that starts in column 0), or appends one: the rest of the file, comments included,
keeps its bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitreg.files import yamlio

_ORDER = ("id", "name", "url", "events", "format", "status", "secret_env", "description",
          "created_at", "updated_at")  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class HookRecord:
    id: str
    url: str
    events: tuple[str, ...] = ()
    name: str = ""
    description: str = ""
    status: str = "active"
    format: str = "gitreg"
    secret_env: str = ""
    created_at: str = ""
    updated_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # keys other parts own

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "format": self.format,
            "status": self.status,
            "secret_env": self.secret_env,
            "description": self.description,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        d = {k: v for k, v in d.items() if v not in ("", [])}
        return {**d, **{k: v for k, v in self.extra.items() if k not in _ORDER}}


def derived_id(url: str, events: Sequence[str]) -> str:
    return "hook-" + hashlib.sha256(f"{url}\n{','.join(events)}".encode()).hexdigest()[:16]


def records(webhooks: Sequence[Mapping[str, Any]]) -> list[HookRecord]:
    """gitreg.yaml's ``webhooks:`` entries (already schema-checked) as records."""
    out = []
    for raw in webhooks:
        events = tuple(raw.get("events") or ())
        url = str(raw.get("url", ""))
        out.append(
            HookRecord(
                id=str(raw.get("id") or derived_id(url, events)),
                url=url,
                events=events,
                name=str(raw.get("name", "")),
                description=str(raw.get("description", "")),
                status=str(raw.get("status", "active")),
                format=str(raw.get("format", "gitreg")),
                secret_env=str(raw.get("secret_env", "")),
                created_at=str(raw.get("created_at", "")),
                updated_at=str(raw.get("updated_at", "")),
                extra={k: v for k, v in raw.items() if k not in _ORDER},
            )
        )
    return out


def with_hooks(text: str, hooks: Sequence[HookRecord]) -> str:
    """gitreg.yaml's ``text`` with its ``webhooks:`` block replaced by ``hooks``."""
    block = yamlio.dump({"webhooks": [h.to_dict() for h in hooks]})
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("webhooks:")), None)
    if start is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + block
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t-"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # keep blank lines before the next key
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])
