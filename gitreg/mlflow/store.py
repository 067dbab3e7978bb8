"""MLflow's model-registry store API over a gitreg registry (the ``mlflow`` extra).

``mlflow.set_registry_uri("gitreg:///path/to/registry")`` (or ``MlflowClient(registry_uri=…)``,
or ``mlflow server --registry-store-uri gitreg:///…``) reaches ``GitregStore`` through the
``mlflow.model_registry_store`` entry point. Every write is one commit, made by ``Registry``;
this module only translates: MLflow's arguments in, MLflow's entities and error codes out,
with the messages MLflow's own SQL store uses. What differs from that store, on purpose:

* A transition that gitreg.yaml sends through a pull request never touches the default
  branch: the store prepares the branch and pull request exactly as ``gitreg transition``
  does, then answers INVALID_PARAMETER_VALUE naming the branch or link (the version keeps
  its stage until the pull request is merged; failing gates are refused the same way).
* Writes are local commits; ``gitreg:///path?push=true`` or ``GITREG_PUSH=1`` pushes each
  one to ``origin`` (gitreg's race-safe push).
* Deleting a Production version (or a model holding one) is refused the same way.
* Names follow gitreg's rule (letters, digits, ``. _ -``), stricter than MLflow's.
* ``last_updated_timestamp`` is the creation time; ``user_id`` is the git author.
"""

from __future__ import annotations

import contextlib
import os
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelAlias, RegisteredModelTag
from mlflow.entities.model_registry import RegisteredModel as MlflowModel
from mlflow.entities.model_registry.model_version_stages import (
    DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchUtils
from mlflow.utils.validation import _validate_model_alias_name, _validate_model_alias_name_reserved

from gitreg import store
from gitreg.errors import AlreadyExists, NotFound
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.mlflow.mapping import (
    aliases_of,
    check_max,
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


class GitregStore(AbstractStore):
    """MLflow's ``AbstractStore`` over the gitreg registry the store URI names."""

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
            lock = reg.git.run("rev-parse", "--git-path", "gitreg-mlflow.lock").strip()
            with open(reg.root / lock, "a") as f:
                if fcntl is not None:
                    fcntl.flock(f, fcntl.LOCK_EX)
                yield reg
                if self.push:
                    from gitreg.repo import sync

                    sync.push(reg)

    def _model(self, reg: Registry, name: str) -> RegisteredModel:
        try:
            return reg.get_model(name)
        except NotFound:
            raise model_missing(name) from None

    def _version(self, reg: Registry, name: str, version: Any) -> ModelVersion:
        self._model(reg, name)
        try:
            return reg.get_version(name, version_number(version))
        except NotFound:
            raise version_missing(name, version) from None

    def _entity(self, reg: Registry, mv: ModelVersion) -> MlflowVersion:
        return version_entity(mv, aliases_of(reg.get_model(mv.name), mv.version))

    def _model_entity(self, reg: Registry, model: RegisteredModel) -> MlflowModel:
        ts = millis(model.created_at)
        return MlflowModel(
            name=model.name,
            creation_timestamp=ts,
            last_updated_timestamp=ts,
            description=model.description or None,
            latest_versions=[version_entity(v) for v in reg.latest_versions(model.name)],
            tags=[RegisteredModelTag(k, v) for k, v in model.tags.items()],
            aliases=[RegisteredModelAlias(a, v) for a, v in model.aliases.items()],
        )

    # --- registered models ----------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Any = None,
        description: str | None = None,
        deployment_job_id: Any = None,
    ) -> MlflowModel:
        tag_map = {t.key: t.value for t in tags or []}
        with self._writing() as reg:
            try:
                model = reg.create_model(name, description or "", tag_map)
            except AlreadyExists:
                raise MlflowException(
                    f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS
                ) from None
            return self._model_entity(reg, model)

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: Any = None
    ) -> MlflowModel:
        with self._writing() as reg:
            self._model(reg, name)
            reg.describe(name, description or "")
            return self._model_entity(reg, reg.get_model(name))

    def rename_registered_model(self, name: str, new_name: str) -> MlflowModel:
        if not new_name or not str(new_name).strip():
            raise MlflowException("Missing value for required parameter 'new_name'.",
                                  INVALID_PARAMETER_VALUE)  # fmt: skip
        with self._writing() as reg:
            self._model(reg, name)
            try:
                model = reg.rename(name, new_name)
            except AlreadyExists:
                raise MlflowException(
                    f"Registered Model (name={new_name}) already exists.", RESOURCE_ALREADY_EXISTS
                ) from None
            return self._model_entity(reg, model)

    def delete_registered_model(self, name: str) -> None:
        with self._writing() as reg:
            self._model(reg, name)
            reg.delete_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: Any = None,
    ) -> PagedList[MlflowModel]:
        check_max(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        reg = self._reg()
        with mlflow_errors():
            found = reg.search_models(filter_string or "", order_by or ["name ASC"])
            page, token = SearchUtils.paginate(found, page_token, max_results)
            return PagedList([self._model_entity(reg, m) for m in page], token)

    def get_registered_model(self, name: str) -> MlflowModel:
        reg = self._reg()
        with mlflow_errors():
            return self._model_entity(reg, self._model(reg, name))

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[MlflowVersion]:
        reg = self._reg()
        with mlflow_errors():
            model = self._model(reg, name)
            latest = reg.latest_versions(name, stages or None)
            return [version_entity(mv, aliases_of(model, mv.version)) for mv in latest]

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        with self._writing() as reg:
            model = self._model(reg, name)
            if model.tags.get(tag.key) != tag.value:
                reg.set_tag(name, tag.key, tag.value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        with self._writing() as reg:
            if key in self._model(reg, name).tags:
                reg.delete_tag(name, key)

    # --- model versions -----------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Any = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> MlflowVersion:
        location, run_id = self._locate(source, run_id, model_id)
        lineage = {"source": source, "run_id": run_id or "", "run_link": run_link or "",
                   "model_id": model_id or ""}  # fmt: skip
        with self._writing() as reg:
            self._model(reg, name)
            mv = reg.register(
                name,
                location,
                tags={t.key: t.value for t in tags or []},
                description=description or "",
                lineage=lineage,
            )
            return version_entity(mv)

    def _locate(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None]:
        """The concrete artifact URI of ``source``, as MLflow's SQL store resolves it
        (``models:/m-<id>`` is a logged model: its artifact location, and its run)."""
        from mlflow.store.artifact.utils.models import _parse_model_uri
        from mlflow.tracking.client import MlflowClient

        location = source
        scheme = urllib.parse.urlparse(source).scheme
        try:
            if scheme == "models":
                parsed = _parse_model_uri(source)
                if parsed.model_id is not None:
                    logged = MlflowClient(tracking_uri=self.tracking_uri).get_logged_model(
                        parsed.model_id
                    )
                    location, run_id = logged.artifact_location, run_id or logged.source_run_id
                else:
                    reg = self._reg()
                    with mlflow_errors():
                        location = self._version(reg, str(parsed.name), parsed.version).artifact.uri
            elif scheme == "runs":
                from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

                location = RunsArtifactRepository.get_underlying_uri(source)
        except MlflowException as e:
            raise MlflowException(
                f"Unable to fetch model from model URI source artifact location '{source}'."
                f"Error: {e}",
                INVALID_PARAMETER_VALUE,
            ) from None
        if not run_id and model_id:
            run_id = (
                MlflowClient(tracking_uri=self.tracking_uri)
                .get_logged_model(model_id)
                .source_run_id
            )
        if "://" not in location and os.path.isabs(location):
            location = Path(location).as_uri()  # referenced in place, not copied
        return location, run_id

    def update_model_version(
        self, name: str, version: Any, description: str | None
    ) -> MlflowVersion:
        with self._writing() as reg:
            mv = self._version(reg, name, version)
            reg.describe(name, description or "", version=mv.version)
            return self._entity(reg, reg.get_version(name, mv.version))

    def transition_model_version_stage(
        self, name: str, version: Any, stage: str, archive_existing_versions: bool
    ) -> MlflowVersion:
        with self._writing() as reg:
            target = reg.config.canonical_stage(stage)
            if archive_existing_versions and target not in DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS:
                raise MlflowException(
                    "Model version transition cannot archive existing model versions because "
                    f"'{stage}' is not an Active stage. Valid stages are "
                    f"{DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS}",
                    INVALID_PARAMETER_VALUE,
                )
            mv = self._version(reg, name, version)
            if mv.stage == target and not archive_existing_versions:
                return self._entity(reg, mv)
            if reg.config.rule(name, target).via == "pull_request":
                from gitreg.promotion.gates import GatesFailed

                try:
                    proposal = reg.propose_transition(name, mv.version, target)
                except GatesFailed as e:
                    raise MlflowException(
                        f"gitreg.yaml sends {target} through a pull request, and {e}",
                        INVALID_PARAMETER_VALUE,
                    ) from None
                where = proposal.url or f"branch {proposal.branch}"
                raise MlflowException(
                    f"gitreg.yaml sends {target} through a pull request: prepared {where}; "
                    f"{name} v{mv.version} stays in {mv.stage} until it is merged",
                    INVALID_PARAMETER_VALUE,
                )
            if mv.stage != target:
                reg.transition(name, mv.version, target, archive_existing=archive_existing_versions)
            return self._entity(reg, reg.get_version(name, mv.version))

    def delete_model_version(self, name: str, version: Any) -> None:
        with self._writing() as reg:
            mv = self._version(reg, name, version)
            reg.delete_version(name, mv.version)

    def get_model_version(self, name: str, version: Any) -> MlflowVersion:
        reg = self._reg()
        with mlflow_errors():
            return self._entity(reg, self._version(reg, name, version))

    def get_model_version_download_uri(self, name: str, version: Any) -> str:
        """A verified copy of the version's bytes, through gitreg's cache: MLflow writes
        ``registered_model_meta`` into what it loads, and loads must work offline."""
        reg = self._reg()
        with mlflow_errors():
            mv = self._version(reg, name, version)
            return store.fresh_copy(mv.artifact, reg.config.storage_options).as_uri()

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: Any = None,
    ) -> PagedList[MlflowVersion]:
        if not isinstance(max_results, int) or max_results < 1:
            raise MlflowException(
                "Invalid value for max_results. It must be a positive integer,"
                f" but got {max_results}",
                INVALID_PARAMETER_VALUE,
            )
        check_max(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        reg = self._reg()
        order = order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
        with mlflow_errors():
            found = reg.search_versions(filter_string or "", order)
            page, token = SearchUtils.paginate(found, page_token, max_results)
            models = {mv.name: reg.get_model(mv.name) for mv in page}
            entities = [version_entity(mv, aliases_of(models[mv.name], mv.version)) for mv in page]
            return PagedList(entities, token)

    def set_model_version_tag(self, name: str, version: Any, tag: ModelVersionTag) -> None:
        with self._writing() as reg:
            mv = self._version(reg, name, version)
            if mv.tags.get(tag.key) != tag.value:
                reg.set_tag(name, tag.key, tag.value, version=mv.version)

    def delete_model_version_tag(self, name: str, version: Any, key: str) -> None:
        with self._writing() as reg:
            mv = self._version(reg, name, version)
            if key in mv.tags:
                reg.delete_tag(name, key, version=mv.version)

    # --- aliases ----------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        _validate_model_alias_name(alias)
        _validate_model_alias_name_reserved(alias)
        with self._writing() as reg:
            mv = self._version(reg, name, version)
            reg.set_alias(name, alias, mv.version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        _validate_model_alias_name(alias)
        with self._writing() as reg:
            if alias in self._model(reg, name).aliases:
                reg.delete_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> MlflowVersion:
        _validate_model_alias_name(alias)
        reg = self._reg()
        with mlflow_errors():
            model = self._model(reg, name)
            if alias.lower() == "latest":
                numbers = reg.version_numbers(name)
                if not numbers:
                    raise MlflowException(
                        f"Latest version not found for model {name}.", RESOURCE_DOES_NOT_EXIST
                    )
                number = numbers[-1]
            elif alias in model.aliases:
                number = model.aliases[alias]
            else:
                raise MlflowException(
                    f"Registered model alias {alias} not found.", INVALID_PARAMETER_VALUE
                )
            return version_entity(reg.get_version(name, number), aliases_of(model, number))

    # --- webhooks: gitreg has none here (its notifications are git events) ------------

    def list_webhooks(
        self, max_results: int | None = None, page_token: Any = None
    ) -> PagedList[Any]:
        return PagedList([], None)

    def list_webhooks_by_event(
        self, event: Any, max_results: int | None = None, page_token: Any = None
    ) -> PagedList[Any]:
        return PagedList([], None)

    def get_webhook(self, webhook_id: str) -> Any:
        raise MlflowException(f"Webhook with ID {webhook_id} not found", RESOURCE_DOES_NOT_EXIST)
