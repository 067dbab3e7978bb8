"""Migration from an MLflow model registry (the ``mlflow`` extra): ``import_mlflow``.

Each registered model becomes one commit holding its model.yaml and its version manifests,
with MLflow's version numbers, stages, aliases, tags, descriptions, run ids, sources,
creation times and users. Artifacts stay where MLflow put them: the manifest references the
version's download URI in place, with its digest and size computed now. Running it again
imports only versions (and aliases and tags) the registry does not have yet.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gitreg import store
from gitreg.errors import NotFound, UsageError
from gitreg.files.records import dump_record, version_files
from gitreg.layout import check_model_name, model_path
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.registry import Registry


@dataclass
class ImportReport:
    """What one run imported: model name -> version numbers, and models left out (why)."""

    imported: dict[str, list[int]] = field(default_factory=dict)
    updated: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def import_mlflow(
    reg: Registry, tracking_uri: str, models: str = "*", registry_uri: str | None = None
) -> ImportReport:
    """Import every registered model matching the glob ``models`` from the MLflow registry
    at ``registry_uri`` (default: the tracking URI's)."""
    # MLflow is imported only on the paths that call it
    from mlflow import MlflowClient  # noqa: PLC0415

    reg._writable()
    # The registry client, not MlflowClient: that one fetches the whole registered model
    # (every version) before each call, which makes an import quadratic.
    client = MlflowClient(
        tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri
    )._get_registry_client()
    report = ImportReport()
    for rm in _all(client.search_registered_models):
        if not fnmatch.fnmatchcase(rm.name, models):
            continue
        try:
            check_model_name(rm.name)
        except UsageError as e:
            report.skipped[rm.name] = str(e)
            continue
        versions = _all(client.search_model_versions, f"name = '{_quote(rm.name)}'")
        _import_model(reg, client, rm, versions, report)
    return report


def _all(search: Any, filter_string: str | None = None) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = search(filter_string, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out


def _quote(name: str) -> str:
    return name.replace("'", "''")


def _rfc3339(millis: int | None) -> str:
    when = datetime.fromtimestamp((millis or 0) / 1000, timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _artifact_uri(uri: str) -> str:
    return Path(uri).as_uri() if "://" not in uri and os.path.isabs(uri) else uri


def _import_model(
    reg: Registry, client: Any, rm: Any, versions: list[Any], report: ImportReport
) -> None:
    name = rm.name
    have = set(reg.version_numbers(name))
    try:
        existing: RegisteredModel | None = reg.get_model(name)
    except NotFound:
        existing = None
    ident = reg.git.ident()
    new = [
        _version(reg, client, mv, ident)
        for mv in sorted(versions, key=lambda v: int(v.version))
        if int(mv.version) not in have
    ]
    numbers = have | {mv.version for mv in new}
    aliases = {a: int(v) for a, v in rm.aliases.items() if int(v) in numbers}
    tags = dict(rm.tags)
    if existing is None:
        model = RegisteredModel(
            name=name,
            created_at=_rfc3339(rm.creation_timestamp),
            created_by=ident,
            description=rm.description or "",
            tags=tags,
            aliases=aliases,
            last_version=max([reg._max_ever(name), *numbers], default=0),
        )
    else:  # a re-run adds what is new and keeps what the registry changed since
        model = existing.evolve(
            tags={**tags, **existing.tags},
            aliases={**aliases, **existing.aliases},
            last_version=max([existing.last_version, *numbers]),
        )
    if existing == model and not new:
        return
    files: dict[str, bytes | None] = {model_path(name): dump_record(model.to_dict(), "model")}
    files.update(version_files(new))
    what = f"{len(new)} version{'s' * (len(new) != 1)}" if new else "aliases and tags"
    reg.committer.commit(f"import {name} from MLflow ({what})", files)
    if new:
        report.imported[name] = [mv.version for mv in new]
    else:
        report.updated.append(name)


def _version(reg: Registry, client: Any, mv: Any, ident: str) -> ModelVersion:
    uri = _artifact_uri(client.get_model_version_download_uri(mv.name, mv.version))
    store.check_uri(uri, reg.config.allowed)
    ref = store.describe(uri, reg.config.storage_options)
    lineage = {"source": mv.source, "run_id": mv.run_id, "run_link": mv.run_link,
               "model_id": getattr(mv, "model_id", None)}  # fmt: skip
    return ModelVersion(
        name=mv.name,
        version=int(mv.version),
        stage=reg.config.canonical_stage(mv.current_stage or "None"),
        artifact=ref,
        created_at=_rfc3339(mv.creation_timestamp),
        created_by=mv.user_id or ident,
        description=mv.description or "",
        tags=dict(mv.tags),
        lineage={k: v for k, v in lineage.items() if v},
    )
