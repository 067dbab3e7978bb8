"""Registered models and their aliases, as MLflow's registry store API has them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import RegisteredModel as MlflowModel
from mlflow.entities.model_registry import RegisteredModelTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import (
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from mlflow.utils.search_utils import SearchUtils
from mlflow.utils.validation import (
    _validate_model_alias_name,
    _validate_model_alias_name_reserved,
    _validate_model_name,
    _validate_model_renaming,
    _validate_registered_model_tag,
    _validate_tag_name,
)

from gitreg.errors import AlreadyExists
from gitreg.mlflow import searching
from gitreg.mlflow.base import StoreBase
from gitreg.mlflow.mapping import (
    aliases_of,
    check_max,
    mlflow_errors,
    version_entity,
)


class ModelMethods(StoreBase):
    """Registered models: create, update, rename, delete, search, tags and aliases."""

    # --- registered models ----------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Any = None,
        description: str | None = None,
        deployment_job_id: Any = None,
    ) -> MlflowModel:
        _validate_model_name(name)
        for t in tags or []:
            _validate_registered_model_tag(t.key, t.value)
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
        _validate_model_renaming(new_name)
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
        prompts = searching.check_filter("models", filter_string)
        searching.check_order("models", order_by)
        reg = self._reg()
        with mlflow_errors():
            order = searching.with_tiebreak("models", order_by)
            found = reg.search_models(filter_string or "", order)
            found = searching.without_prompts(found, lambda m: m.tags, prompts)
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
        _validate_model_name(name)
        _validate_registered_model_tag(tag.key, tag.value)
        with self._writing() as reg:
            model = self._model(reg, name)
            if model.tags.get(tag.key) != tag.value:
                reg.set_tag(name, tag.key, tag.value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        _validate_model_name(name)
        _validate_tag_name(key)
        with self._writing() as reg:
            if key in self._model(reg, name).tags:
                reg.delete_tag(name, key)

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
