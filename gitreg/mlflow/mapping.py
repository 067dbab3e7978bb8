"""How MLflow's registry API and gitreg's records meet: the store URI, error codes
(with the messages MLflow's SQL store uses) and the entities MLflow's client expects."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import ModelVersionTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

from gitreg.errors import AlreadyExists, GitregError, NotFound, PolicyError, UsageError
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.query.rows import millis

SCHEME = "gitreg"
_CODES: dict[type[GitregError], int] = {
    NotFound: RESOURCE_DOES_NOT_EXIST,
    AlreadyExists: RESOURCE_ALREADY_EXISTS,
    UsageError: INVALID_PARAMETER_VALUE,
    PolicyError: INVALID_PARAMETER_VALUE,
}


def registry_path(store_uri: str) -> Path:
    """The folder a ``gitreg:///abs/path`` or ``gitreg:relative/path`` URI names."""
    parsed = urllib.parse.urlparse(store_uri)
    if parsed.scheme != SCHEME or parsed.netloc not in ("", "localhost"):
        raise MlflowException(
            f"not a gitreg registry URI: {store_uri!r} (use gitreg:///path/to/registry)",
            INVALID_PARAMETER_VALUE,
        )
    path = urllib.parse.unquote(parsed.path)
    if not path:
        raise MlflowException(f"{store_uri!r} names no folder", INVALID_PARAMETER_VALUE)
    return Path(path)


def wants_push(store_uri: str) -> bool:
    """Push after every write: ``gitreg:///path?push=true``, or GITREG_PUSH=1 in the environment."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(store_uri).query)
    value = (query.get("push") or [os.environ.get("GITREG_PUSH", "")])[-1]
    return value.lower() in ("1", "true", "yes")


@contextlib.contextmanager
def mlflow_errors() -> Iterator[None]:
    """GitregErrors as MlflowExceptions with the matching error code."""
    try:
        yield
    except GitregError as e:
        code = next((c for t, c in _CODES.items() if isinstance(e, t)), INVALID_STATE)
        raise MlflowException(str(e), code) from None


def model_missing(name: str) -> MlflowException:
    return MlflowException(f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST)


def version_missing(name: str, version: Any) -> MlflowException:
    return MlflowException(
        f"Model Version (name={name}, version={version}) not found", RESOURCE_DOES_NOT_EXIST
    )


def version_number(version: Any) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        raise MlflowException(
            f"Parameter 'version' must be an integer, got '{version}'.", INVALID_PARAMETER_VALUE
        ) from None


def version_entity(mv: ModelVersion, aliases: Sequence[str] = ()) -> MlflowVersion:
    return MlflowVersion(
        name=mv.name,
        version=mv.version,  # type: ignore[arg-type]  # an int, as MLflow's SQL store gives it
        creation_timestamp=millis(mv.created_at),
        last_updated_timestamp=millis(mv.updated_at or mv.created_at),
        description=mv.description or None,
        user_id=mv.created_by,
        current_stage=mv.stage,
        source=mv.lineage.get("source", mv.artifact.uri),
        run_id=mv.lineage.get("run_id"),
        run_link=mv.lineage.get("run_link"),
        tags=[ModelVersionTag(k, v) for k, v in mv.tags.items()],
        aliases=list(aliases),
        model_id=mv.lineage.get("model_id"),
    )


def aliases_of(model: RegisteredModel, version: int) -> list[str]:
    return sorted(a for a, v in model.aliases.items() if v == version)


def check_max(max_results: int, limit: int) -> None:
    if max_results > limit:
        raise MlflowException(
            "Invalid value for request parameter max_results. It must be at most "
            f"{limit}, but got value {max_results}",
            INVALID_PARAMETER_VALUE,
        )
