"""The bytes of a record as gitreg writes it: canonical YAML (``files.yamlio.dump``) under
a ``yaml-language-server`` line that points editors at the record's JSON Schema."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitreg.files import yamlio
from gitreg.layout import SCHEMA_DIR, version_path
from gitreg.manifest import ModelVersion

_SCHEMA_REF = {
    "config": f"{SCHEMA_DIR}/gitreg.schema.json",
    "model": f"../../{SCHEMA_DIR}/model.schema.json",
    "version": f"../../../{SCHEMA_DIR}/version.schema.json",
}


def dump_record(data: dict[str, Any], kind: str) -> bytes:
    """``data`` (a record's ``to_dict()``) as the file of ``kind`` (config|model|version)."""
    return yamlio.dump(data, _SCHEMA_REF[kind]).encode()


def version_files(versions: Iterable[ModelVersion]) -> dict[str, bytes | None]:
    """path -> bytes of each version's manifest, for a commit."""
    return {version_path(v.name, v.version): dump_record(v.to_dict(), "version") for v in versions}
