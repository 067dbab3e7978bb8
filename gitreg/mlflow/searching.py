"""Search as MLflow's SQL store has it, in front of gitreg's own search.

A filter or order_by that MLflow's grammar accepts is checked by MLflow's own parsers and
by the rules its SQL store adds (which attributes, which comparators), so what MLflow
refuses is refused with MLflow's words and code. gitreg's extensions (``stage``,
``metrics.*``, ``params.*``, ``aliases``, ``description``, ``OR``, parentheses) are not in
MLflow's grammar: a filter using one goes to gitreg's parser unchecked here. Prompts (a
model or version tagged ``mlflow.prompt.is_prompt = 'true'``) are left out of results
unless the filter asks for them, as MLflow's store does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from mlflow.exceptions import MlflowException
from mlflow.prompt.constants import (
    _PROMPT_SOURCE_PLACEHOLDERS,
    IS_PROMPT_TAG_KEY,
    PROMPT_TEXT_TAG_KEY,
)
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils

Kind = Literal["models", "versions"]
T = TypeVar("T")

# words outside quotes that only gitreg's grammar has
_EXTENSION = re.compile(
    r"\b(?:metrics|params)\.|\b(?:stage|current_stage|aliases|alias|description)\b|\bOR\b|[()]",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")
_TAG_COMPARATORS = ("=", "!=", "LIKE", "ILIKE")


def _extended(text: str) -> bool:
    return bool(_EXTENSION.search(_QUOTED.sub("''", text)))


def check_filter(kind: Kind, filter_string: str | None) -> bool:
    """Refuse, as MLflow does, a filter in MLflow's grammar that MLflow refuses; return
    whether the filter asks for prompts."""
    if not filter_string or _extended(filter_string):
        return False
    utils = SearchModelUtils if kind == "models" else SearchModelVersionUtils
    parsed: list[dict[str, Any]] = utils.parse_search_filter(filter_string)
    for f in parsed:
        key, comparator = f["key"], f["comparator"]
        if f["type"] == "tag":
            if comparator not in _TAG_COMPARATORS:
                raise MlflowException.invalid_parameter_value(
                    f"Invalid comparator for tag: {comparator}"
                )
        elif f["type"] == "attribute":
            _check_attribute(kind, key, comparator, f["value"])
    return any(
        f["type"] == "tag"
        and f["key"] == IS_PROMPT_TAG_KEY
        and (f["comparator"], str(f["value"]).lower()) in (("=", "true"), ("!=", "false"))
        for f in parsed
    )


def _check_attribute(kind: Kind, key: str, comparator: str, value: Any) -> None:
    utils = SearchModelVersionUtils
    if kind == "models" and key != "name":
        raise MlflowException(f"Invalid attribute name: {key}", INVALID_PARAMETER_VALUE)
    if kind == "models":
        valid: Iterable[str] = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
    elif key in utils.NUMERIC_ATTRIBUTES:
        if comparator not in utils.VALID_NUMERIC_ATTRIBUTE_COMPARATORS:
            raise MlflowException(
                f"Invalid comparator for attribute {key}: {comparator}", INVALID_PARAMETER_VALUE
            )
        if isinstance(value, float) or not str(value).lstrip("-").isdigit():
            raise MlflowException.invalid_parameter_value(
                f"Invalid value for numeric attribute '{key}': {value!r}"
            )
        return
    else:
        valid = utils.VALID_STRING_ATTRIBUTE_COMPARATORS
        if comparator in ("IN", "NOT IN") and key not in ("run_id", "name"):
            valid = ()
    if comparator not in valid:
        raise MlflowException(
            f"Invalid comparator for attribute: {comparator}", INVALID_PARAMETER_VALUE
        )


def check_order(kind: Kind, order_by: Sequence[str] | None) -> None:
    """Refuse, with MLflow's message, an order_by MLflow's SQL store refuses, unless it
    orders by one of gitreg's extensions."""
    if not order_by or any(_extended(clause) or "." in clause for clause in order_by):
        return
    seen: set[str] = set()
    for clause in order_by:
        if kind == "models":
            key, _ = SearchUtils.parse_order_by_for_search_registered_models(clause)
            if key in SearchUtils.VALID_TIMESTAMP_ORDER_BY_KEYS:
                key = "last_updated_timestamp"  # both name one column in MLflow's store
            elif key != "name":
                raise MlflowException(
                    f"Invalid order by key '{key}' specified."
                    "Valid keys are "
                    f"'{SearchUtils.RECOMMENDED_ORDER_BY_KEYS_REGISTERED_MODELS}'",
                    INVALID_PARAMETER_VALUE,
                )
        else:
            utils = SearchModelVersionUtils
            _, key, _ = utils.parse_order_by_for_search_model_versions(clause)
            if key not in utils.VALID_ORDER_BY_ATTRIBUTE_KEYS:
                raise MlflowException(
                    f"Invalid order by key '{key}' specified. "
                    f"Valid keys are {utils.VALID_ORDER_BY_ATTRIBUTE_KEYS}",
                    INVALID_PARAMETER_VALUE,
                )
        if key in seen:  # MLflow's store raises this one without an error code
            raise MlflowException(f"`order_by` contains duplicate fields: {list(order_by)}")
        seen.add(key)


def without_prompts(
    items: Iterable[T], tags: Callable[[T], Mapping[str, str]], wanted: bool
) -> list[T]:
    """``items`` that are not prompts; only the prompts when ``wanted``."""
    return [i for i in items if (tags(i).get(IS_PROMPT_TAG_KEY, "").lower() == "true") == wanted]


def with_tiebreak(kind: Kind, order_by: Sequence[str] | None) -> list[str]:
    """``order_by`` as MLflow's store completes it: name ascending (and, for versions, the
    newest version first) unless already named; newest change first by default."""
    default = ["name ASC"] if kind == "models" else ["last_updated_timestamp DESC"]
    order = list(order_by or default)
    keys = {clause.split()[0].strip("`").lower() for clause in order if clause.strip()}
    if "name" not in keys:
        order.append("name ASC")
    if kind == "versions" and not keys & {"version_number", "version"}:
        order.append("version_number DESC")
    return order


def prompt_template(source: str, tags: Mapping[str, str]) -> str | None:
    """A prompt version's template (MLflow creates one with a placeholder source and the
    template in a tag), or None for a model version."""
    if source not in _PROMPT_SOURCE_PLACEHOLDERS or tags.get(IS_PROMPT_TAG_KEY) != "true":
        return None
    return tags.get(PROMPT_TEXT_TAG_KEY, "")
