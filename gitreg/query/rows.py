"""Search rows: versions and models as the search module sees them, under MLflow's
field names (``name``, ``version_number``, ``creation_timestamp`` ...). A version's row
reads its canonical dict (``ModelVersion.to_dict()``, as the query index stores it), so a
search builds no object for a version it does not return."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from gitreg.manifest import RegisteredModel


def millis(ts: str) -> int:
    """A manifest timestamp (``2024-01-31T12:00:00Z``) as ms since the epoch."""
    # fromisoformat is C code; strptime cost 20 us a record, most of a 10,000-row search
    return int(datetime.fromisoformat(ts[:19]).replace(tzinfo=timezone.utc).timestamp() * 1000)


Data = dict[str, Any]  # a version's canonical dict
_VERSION_FIELDS: dict[str, Callable[[Data], Any]] = {
    "name": itemgetter("name"),
    "version_number": itemgetter("version"),
    "stage": itemgetter("stage"),
    "run_id": lambda d: d["lineage"].get("run_id"),
    "source_path": lambda d: d["artifact"]["uri"],
    "description": itemgetter("description"),
    "creation_timestamp": lambda d: millis(d["created_at"]),
    "last_updated_timestamp": lambda d: millis(d["created_at"]),
    "tags": itemgetter("tags"),
    "metrics": itemgetter("metrics"),
    "params": itemgetter("params"),
}


class VersionRow(Mapping[str, Any]):
    """A version's search row, each field computed when asked: a search of 100,000
    versions reads two or three fields of each, and a dict per version would cost a
    fifth of its time and a quarter of its memory."""

    __slots__ = ("aliases", "data")

    def __init__(self, data: Data, aliases: tuple[str, ...]) -> None:
        self.data = data
        self.aliases = aliases  # sorted

    def get(self, key: str, default: Any = None) -> Any:  # Mapping's goes through KeyError
        field = _VERSION_FIELDS.get(key)
        if field is not None:
            return field(self.data)
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
