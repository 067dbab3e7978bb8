"""``models:/`` URIs: ``models:/NAME/VERSION``, ``models:/NAME/STAGE``,
``models:/NAME/latest`` and ``models:/NAME@ALIAS``.

Parsing only; ``Registry.resolve`` looks the parsed URI up, at any ref or date.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitreg.errors import UsageError
from gitreg.layout import check_model_name, check_name

_FORMS = "models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME/latest or models:/NAME@ALIAS"


@dataclass(frozen=True, slots=True)
class ModelURI:
    """A parsed URI: exactly one of ``version``, ``stage``, ``alias`` is set, or ``latest``."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        tail = "latest" if self.latest else str(self.version or self.stage)
        return f"models:/{self.name}/{tail}"


def parse(uri: str) -> ModelURI:
    if not uri.startswith("models:/"):
        raise UsageError(f"{uri!r} is not a model URI; use {_FORMS}")
    body = uri[len("models:/") :].strip("/")
    if "/" not in body and "@" in body:  # the last @, as MLflow reads it: names may hold @
        name, _, alias = body.rpartition("@")
        check_model_name(name)
        check_name(alias, "alias")
        return ModelURI(name, alias=alias)
    name, sep, tail = body.partition("/")
    if not sep or not tail or "/" in tail:
        raise UsageError(f"{uri!r} is not a model URI; use {_FORMS}")
    check_model_name(name)
    if tail.isdigit() and tail.isascii():
        if int(tail) < 1:
            raise UsageError(f"{uri!r}: versions start at 1")
        return ModelURI(name, version=int(tail))
    if tail.lower() == "latest":
        return ModelURI(name, latest=True)
    return ModelURI(name, stage=tail)
