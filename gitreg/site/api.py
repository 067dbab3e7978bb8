"""The static read API ``gitreg site`` writes beside the HTML: ``api/v1/`` JSON that any
static host or CDN serves, so a fleet resolves ``models:/`` URIs without git.

    api/v1/index.json                       {"api_version", "commit", "stages",
                                             "storage_options", "models": {name: sha256}}
    api/v1/models/<folder>.json               {"model", "latest", "stages": {stage: N},
                                             "versions": {"N": sha256}}
    api/v1/models/<folder>/versions/<N>.json  the version manifest (``ModelVersion.to_dict``)

Each document names the sha256 of the documents below it, so a client that starts from
``index.json`` reads one consistent commit even from a cache that mixes two deploys, and
a file altered on the host is caught (``gitreg.serving.client``). ``stages`` maps each
stage in use to its newest version, as ``models:/NAME/STAGE`` resolves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from gitreg.config import Config
from gitreg.layout import folder
from gitreg.manifest import ModelVersion
from gitreg.query.reader import newest_per_stage
from gitreg.site.pages import ModelData
from gitreg.site.plan import Planned

API_VERSION = 1
PREFIX = "api/v1"


def encode(data: Any) -> bytes:
    """The one JSON form the API is written in (compact, key order as given)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def api_files(
    models: Sequence[ModelData],
    config: Config,
    commit: str | None,
    keys: Mapping[str, Sequence[bytes]] | None = None,
    shas: dict[bytes, str] | None = None,
) -> dict[str, Planned]:
    """Every file of the API: relative path (under the site) -> how to make it. A version
    document is keyed by its manifest's key (``keys``: model name -> one per version, from
    ``plan.version_keys``); ``shas`` (key -> sha256 of that document) is read and filled,
    so a document known from the last render is not encoded again to name its digest."""
    files: dict[str, Planned] = {}
    index: dict[str, str] = {}
    shas = {} if shas is None else shas
    for d in models:
        versions: dict[str, str] = {}
        for i, mv in enumerate(d.versions):
            key = keys[d.name][i] if keys is not None else None
            rel = f"{PREFIX}/models/{folder(d.name)}/versions/{mv.version}.json"
            known = shas.get(key) if key is not None else None
            if known is None:
                doc = encode(mv.to_dict())
                known = sha256(doc)
                files[rel] = Planned(key, _given(doc))
                if key is not None:
                    shas[key] = known
            else:
                files[rel] = Planned(key, partial(_version_doc, mv))
            versions[str(mv.version)] = known
        heads = {mv.stage: mv.version for mv in newest_per_stage(d.versions)}
        model = encode(
            {
                "model": d.model.to_dict(),
                "latest": d.versions[-1].version if d.versions else None,
                "stages": dict(sorted(heads.items())),
                "versions": versions,
            }
        )
        files[f"{PREFIX}/models/{folder(d.name)}.json"] = Planned(None, _given(model))
        index[d.name] = sha256(model)
    doc = encode(
        {
            "api_version": API_VERSION,
            "commit": commit,
            "stages": list(config.stages),
            "storage_options": config.storage_options,
            "models": index,
        }
    )
    files[f"{PREFIX}/index.json"] = Planned(None, _given(doc))
    return files


def _version_doc(mv: ModelVersion) -> bytes:
    return encode(mv.to_dict())


def _given(data: bytes) -> Callable[[], bytes]:
    return lambda: data
