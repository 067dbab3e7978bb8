"""The plumbing every part of ``GitregStore`` shares: one registry view per read, one writer
at a time, and MLflow's not-found errors."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import RegisteredModel as MlflowModel
from mlflow.entities.model_registry import RegisteredModelAlias, RegisteredModelTag
from mlflow.store.model_registry.abstract_store import AbstractStore

from gitreg.errors import NotFound
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.mlflow.mapping import (
    aliases_of,
    mlflow_errors,
    model_missing,
    registry_path,
    version_entity,
    version_missing,
    version_number,
    wants_push,
)
from gitreg.query.rows import millis
from gitreg.registry import Registry

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock only
    fcntl = None  # type: ignore[assignment]


class StoreBase(AbstractStore):
    """What the parts of ``GitregStore`` share (see gitreg.mlflow.store)."""

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri or ""
        self.tracking_uri = tracking_uri
        self.root = registry_path(self.store_uri)
        self.push = wants_push(self.store_uri)
        self._lock = threading.Lock()

    # --- plumbing -----------------------------------------------------------------------

    def _reg(self) -> Registry:
        """A fresh view per call: another process (the CLI, a pull) may have changed files."""
        with mlflow_errors():
            return Registry(self.root)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Registry]:
        """One writer at a time, across threads and (where fcntl exists) processes."""
        with self._lock, mlflow_errors():
            reg = Registry(self.root)
            with open(reg.git.git_path("gitreg-mlflow.lock"), "a") as f:
                if fcntl is not None:
                    fcntl.flock(f, fcntl.LOCK_EX)
                yield reg
                if self.push:
                    from gitreg.repo import sync  # noqa: PLC0415 (GitPython loads only for --push)

                    sync.push(reg)

    def _model(self, reg: Registry, name: str) -> RegisteredModel:
        try:
            return reg.get_model(name)
        except NotFound:
            raise model_missing(name) from None

    def _version(self, reg: Registry, name: str, version: Any) -> ModelVersion:
        self._model(reg, name)
        number = version_number(version)
        if number < 1:  # gitreg refuses such a number; MLflow's store just finds nothing
            raise version_missing(name, version)
        try:
            return reg.get_version(name, number)
        except NotFound:
            raise version_missing(name, version) from None

    def _entity(self, reg: Registry, mv: ModelVersion) -> MlflowVersion:
        return version_entity(mv, aliases_of(reg.get_model(mv.name), mv.version))

    def _model_entity(self, reg: Registry, model: RegisteredModel) -> MlflowModel:
        latest = [version_entity(v) for v in reg.latest_versions(model.name)]
        # as MLflow's SQL store: a new version or a transition updates the model too
        updated = max([millis(model.updated_at or model.created_at)]
                      + [v.last_updated_timestamp or 0 for v in latest])  # fmt: skip
        return MlflowModel(
            name=model.name,
            creation_timestamp=millis(model.created_at),
            last_updated_timestamp=updated,
            description=model.description or None,
            latest_versions=latest,
            tags=[RegisteredModelTag(k, v) for k, v in model.tags.items()],
            aliases=[RegisteredModelAlias(a, v) for a, v in model.aliases.items()],
        )
