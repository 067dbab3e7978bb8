"""Search rows: versions and models as the search module sees them, under MLflow's
field names (``name``, ``version_number``, ``creation_timestamp`` ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

from gitreg.manifest import ModelVersion, RegisteredModel


def millis(ts: str) -> int:
    """A manifest timestamp (``2024-01-31T12:00:00Z``) as ms since the epoch."""
    # fromisoformat is C code; strptime cost 20 us a record, most of a 10,000-row search
    return int(datetime.fromisoformat(ts[:19]).replace(tzinfo=timezone.utc).timestamp() * 1000)


_VERSION_FIELDS: dict[str, Callable[[ModelVersion], Any]] = {
    "name": attrgetter("name"),
    "version_number": attrgetter("version"),
    "stage": attrgetter("stage"),
    "run_id": lambda mv: mv.lineage.get("run_id"),
    "source_path": attrgetter("artifact.uri"),
    "description": attrgetter("description"),
    "creation_timestamp": lambda mv: millis(mv.created_at),
    "last_updated_timestamp": lambda mv: millis(mv.created_at),
    "tags": attrgetter("tags"),
    "metrics": attrgetter("metrics"),
    "params": attrgetter("params"),
}


class VersionRow(Mapping[str, Any]):
    """A version's search row, each field computed when asked: a search of 100,000
    versions reads two or three fields of each, and a dict per version would cost a
    fifth of its time and a quarter of its memory."""

    __slots__ = ("aliases", "version")

    def __init__(self, version: ModelVersion, aliases: tuple[str, ...]) -> None:
        self.version = version
        self.aliases = aliases  # sorted

    def get(self, key: str, default: Any = None) -> Any:  # Mapping's goes through KeyError
        field = _VERSION_FIELDS.get(key)
        if field is not None:
            return field(self.version)
        return self.aliases if key == "aliases" else default

    def __getitem__(self, key: str) -> Any:
        if key not in _VERSION_FIELDS and key != "aliases":
            raise KeyError(key)
        return self.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter([*_VERSION_FIELDS, "aliases"])

    def __len__(self) -> int:
        return len(_VERSION_FIELDS) + 1


def model_row(model: RegisteredModel) -> dict[str, Any]:
    """A model's search row (``_object`` is the model; there are few enough for dicts)."""
    ts = millis(model.created_at)
    return {
        "name": model.name,
        "description": model.description,
        "creation_timestamp": ts,
        "last_updated_timestamp": ts,
        "tags": model.tags,
        "aliases": sorted(model.aliases),
        "_object": model,
    }
