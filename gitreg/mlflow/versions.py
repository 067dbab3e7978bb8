"""Model versions, as MLflow's registry store API has them."""

from __future__ import annotations

import contextlib
import os
import tempfile
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import ModelVersionTag
from mlflow.entities.model_registry.model_version_stages import (
    DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
)
from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
from mlflow.store.artifact.utils.models import _parse_model_uri
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
)
from mlflow.tracking.client import MlflowClient
from mlflow.utils.search_utils import SearchUtils
from mlflow.utils.validation import (
    _validate_model_name,
    _validate_model_version_tag,
    _validate_tag_name,
)

from gitreg import store
from gitreg.mlflow import searching
from gitreg.mlflow.base import StoreBase
from gitreg.mlflow.mapping import (
    aliases_of,
    check_max,
    mlflow_errors,
    version_entity,
    version_number,
)
from gitreg.mlflow.runs import RunFacts, run_facts
from gitreg.mlflow.searching import prompt_template


class _Located(NamedTuple):
    location: str
    run_id: str | None
    facts: RunFacts


class VersionMethods(StoreBase):
    """Model versions: create (from a path, a run or a logged model), read, search, tag,
    move between stages, delete."""

    # --- model versions -----------------------------------------------------------------

    def create_model_version(  # noqa: PLR0913 (keyword-only switches)
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
        _validate_model_name(name)
        for t in tags or []:
            _validate_model_version_tag(t.key, t.value)
        tag_map = {t.key: t.value for t in tags or []}
        template = prompt_template(source, tag_map)
        found = self._locate(source, run_id, model_id) if template is None else None
        facts = found.facts if found is not None else RunFacts()
        lineage = {**facts.lineage, "source": source, "run_id": (found and found.run_id) or "",
                   "run_link": run_link or "", "model_id": model_id or ""}  # fmt: skip
        with self._writing() as reg, contextlib.ExitStack() as stack:
            self._model(reg, name)
            if found is None:  # a prompt: its template is the registered bytes
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                (folder / "template.txt").write_text(str(template), encoding="utf-8")
            mv = reg.register(
                name,
                found.location if found is not None else folder / "template.txt",
                metrics=facts.metrics,
                params=facts.params,
                tags=tag_map,
                description=description or "",
                lineage=lineage,
            )
            return version_entity(mv)

    def _locate(self, source: str, run_id: str | None, model_id: str | None) -> _Located:
        """The concrete artifact URI of ``source``, as MLflow's SQL store resolves it
        (``models:/m-<id>`` is a logged model: its artifact location, and its run), and
        the facts the new version carries (see gitreg.mlflow.runs)."""
        client = MlflowClient(tracking_uri=self.tracking_uri)
        location, logged, copied = source, None, None
        scheme = urllib.parse.urlparse(source).scheme
        try:
            if scheme == "models":
                parsed = _parse_model_uri(source)
                if parsed.model_id is not None:
                    logged = client.get_logged_model(parsed.model_id)
                    location, run_id = logged.artifact_location, run_id or logged.source_run_id
                else:
                    reg = self._reg()
                    with mlflow_errors():
                        copied = self._version(reg, str(parsed.name), parsed.version)
                    location = copied.artifact.uri
            elif scheme == "runs":
                location = RunsArtifactRepository.get_underlying_uri(source)
        except MlflowException as e:
            raise MlflowException(
                f"Unable to fetch model from model URI source artifact location '{source}'."
                f"Error: {e}",
                INVALID_PARAMETER_VALUE,
            ) from None
        if model_id and (logged is None or logged.model_id != model_id):
            try:
                logged = client.get_logged_model(model_id)
            except MlflowException:
                logged = None  # MLflow's store records the id as given
        if not run_id and logged is not None:
            run_id = logged.source_run_id
        if "://" not in location and os.path.isabs(location):
            location = Path(location).as_uri()  # referenced in place, not copied
        facts = run_facts(client, run_id, logged)
        if copied is not None:  # a copy of a registered version keeps what it was judged on
            facts = RunFacts(
                metrics={**facts.metrics, **copied.metrics},
                params={**facts.params, **copied.params},
                lineage={**copied.lineage, **facts.lineage},
            )
        return _Located(location, run_id, facts)

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
            stages = reg.config.stages
            if not any(str(stage).lower() == s.lower() for s in stages):
                raise MlflowException(
                    f"Invalid Model Version stage: {stage}. "
                    f"Value must be one of {', '.join(stages)}.",
                    INVALID_PARAMETER_VALUE,
                )
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
                # only a refused transition needs it
                from gitreg.promotion.gates import GatesFailed  # noqa: PLC0415

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
        prompts = searching.check_filter("versions", filter_string)
        searching.check_order("versions", order_by)
        reg = self._reg()
        order = searching.with_tiebreak("versions", order_by)
        with mlflow_errors():
            found = reg.search_versions(filter_string or "", order)
            found = searching.without_prompts(found, lambda v: v.tags, prompts)
            page, token = SearchUtils.paginate(found, page_token, max_results)
            models = {mv.name: reg.get_model(mv.name) for mv in page}
            entities = [version_entity(mv, aliases_of(models[mv.name], mv.version)) for mv in page]
            return PagedList(entities, token)

    def set_model_version_tag(self, name: str, version: Any, tag: ModelVersionTag) -> None:
        _validate_model_name(name)
        version_number(version)
        _validate_model_version_tag(tag.key, tag.value)
        with self._writing() as reg:
            mv = self._version(reg, name, version)
            if mv.tags.get(tag.key) != tag.value:
                reg.set_tag(name, tag.key, tag.value, version=mv.version)

    def delete_model_version_tag(self, name: str, version: Any, key: str) -> None:
        _validate_model_name(name)
        version_number(version)
        _validate_tag_name(key)
        with self._writing() as reg:
            mv = self._version(reg, name, version)
            if key in mv.tags:
                reg.delete_tag(name, key, version=mv.version)
