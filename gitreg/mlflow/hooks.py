"""MLflow's webhook API over the ``webhooks:`` list of gitreg.yaml.

``create_webhook``, ``update_webhook`` and ``delete_webhook`` are commits to gitreg.yaml
(only its ``webhooks:`` block changes; see gitreg.trail.hook_records); hooks made here get
``format: mlflow``, so ``gitreg notify`` sends them what MLflow sends. A secret is never
written into the registry, whose history every clone keeps: passing one is refused with a
sentence naming ``secret_env``, except the form ``env:NAME``, which records
``secret_env: NAME``. A webhook read back carries the secret from that variable of this
process's environment (MLflow's server signs its own deliveries with it) and never shows
it otherwise. gitreg.yaml is policy, so ``gitreg audit`` reports such a commit unless it
came through a pull request.
"""

from __future__ import annotations

import fnmatch
import os
import re
import uuid
from typing import Any

from mlflow.entities.webhook import (
    VALID_ENTITY_ACTIONS,
    Webhook,
    WebhookEvent,
    WebhookStatus,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.utils.search_utils import SearchUtils
from mlflow.utils.validation import (
    _validate_webhook_events,
    _validate_webhook_name,
    _validate_webhook_url,
)

from gitreg.dates import now
from gitreg.layout import CONFIG
from gitreg.mlflow.base import StoreBase
from gitreg.mlflow.mapping import mlflow_errors
from gitreg.query.rows import millis
from gitreg.registry import Registry
from gitreg.trail.hook_records import HookRecord, records, with_hooks

_ALL_EVENTS = sorted(
    f"{entity.value}.{action.value}"
    for entity, actions in VALID_ENTITY_ACTIONS.items()
    for action in actions
)
_ENV = re.compile(r"env:([A-Z_][A-Z0-9_]*)")


class WebhookMethods(StoreBase):
    """Webhooks: create, read, list, update, delete (gitreg.yaml's ``webhooks:``)."""

    def create_webhook(  # noqa: PLR0913 (keyword-only switches)
        self,
        name: str,
        url: str,
        events: list[WebhookEvent],
        description: str | None = None,
        secret: str | None = None,
        status: WebhookStatus | None = None,
    ) -> Webhook:
        _validate_webhook_name(name)
        _validate_webhook_url(url)
        _validate_webhook_events(events)
        secret_env = _secret_env(secret)
        stamp = now()
        hook = HookRecord(
            id=str(uuid.uuid4()),
            name=name,
            url=url,
            events=tuple(f"{e.entity.value}.{e.action.value}" for e in events),
            description=description or "",
            status=_status(status),
            format="mlflow",
            secret_env=secret_env,
            created_at=stamp,
            updated_at=stamp,
        )
        with self._writing() as reg:
            hooks = records(reg.config.webhooks)
            _save(reg, [*hooks, hook], f"create webhook {name}")
            return _entity(hook)

    def get_webhook(self, webhook_id: str) -> Webhook:
        return _entity(self._find(self._hooks(), webhook_id))

    def list_webhooks(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        return _page(self._hooks(), max_results, page_token)

    def list_webhooks_by_event(
        self, event: WebhookEvent, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        name = f"{event.entity.value}.{event.action.value}"
        found = [h for h in self._hooks() if name in _events(h)]
        return _page(found, max_results, page_token)

    def update_webhook(  # noqa: PLR0913 (keyword-only switches)
        self,
        webhook_id: str,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: list[WebhookEvent] | None = None,
        secret: str | None = None,
        status: WebhookStatus | None = None,
    ) -> Webhook:
        with self._writing() as reg:
            hooks = records(reg.config.webhooks)
            old = self._find(hooks, webhook_id)
            changes: dict[str, Any] = {}
            if name is not None:
                _validate_webhook_name(name)
                changes["name"] = name
            if url is not None:
                _validate_webhook_url(url)
                changes["url"] = url
            if events is not None:
                _validate_webhook_events(events)
                changes["events"] = tuple(f"{e.entity.value}.{e.action.value}" for e in events)
            if description is not None:
                changes["description"] = description
            if secret is not None:
                changes["secret_env"] = _secret_env(secret)
            if status is not None:
                changes["status"] = _status(status)
            new = HookRecord(**{**_fields(old), **changes, "id": old.id, "updated_at": now()})
            _save(reg, [new if h is old else h for h in hooks], f"update webhook {new.name}")
            return _entity(new)

    def delete_webhook(self, webhook_id: str) -> None:
        with self._writing() as reg:
            hooks = records(reg.config.webhooks)
            old = self._find(hooks, webhook_id)
            _save(reg, [h for h in hooks if h is not old], f"delete webhook {old.name or old.url}")

    # --- helpers ---------------------------------------------------------------------

    def _hooks(self) -> list[HookRecord]:
        reg = self._reg()
        with mlflow_errors():
            return records(reg.config.webhooks)

    @staticmethod
    def _find(hooks: list[HookRecord], webhook_id: str) -> HookRecord:
        for h in hooks:
            if h.id == webhook_id:
                return h
        raise MlflowException(f"Webhook with ID {webhook_id} not found.", RESOURCE_DOES_NOT_EXIST)


def _secret_env(secret: str | None) -> str:
    if not secret:
        return ""
    m = _ENV.fullmatch(secret)
    if m is None:
        raise MlflowException(
            "gitreg keeps no webhook secret: the registry's history is cloned everywhere. "
            "Put the secret in an environment variable and pass secret='env:NAME' (gitreg.yaml "
            "records secret_env: NAME), or set secret_env in gitreg.yaml's webhooks entry.",
            INVALID_PARAMETER_VALUE,
        )
    return m.group(1)


def _status(status: WebhookStatus | str | None) -> str:
    return "disabled" if str(status or "ACTIVE").upper() == "DISABLED" else "active"


def _fields(h: HookRecord) -> dict[str, Any]:
    return {k: getattr(h, k) for k in HookRecord.__slots__}


def _events(h: HookRecord) -> list[str]:
    """The MLflow events a hook's patterns (none: every event) cover."""
    return [
        e for e in _ALL_EVENTS if not h.events or any(fnmatch.fnmatchcase(e, p) for p in h.events)
    ]


def _entity(h: HookRecord) -> Webhook:
    created = millis(h.created_at) if h.created_at else 0
    return Webhook(
        webhook_id=h.id,
        name=h.name or h.url,
        url=h.url,
        events=[WebhookEvent.from_str(e) for e in _events(h)],  # type: ignore[arg-type]
        creation_timestamp=created,
        last_updated_timestamp=millis(h.updated_at) if h.updated_at else created,
        description=h.description or None,
        status=WebhookStatus.DISABLED if h.status == "disabled" else WebhookStatus.ACTIVE,
        secret=os.environ.get(h.secret_env) if h.secret_env else None,
    )


def _page(
    hooks: list[HookRecord], max_results: int | None, token: str | None
) -> PagedList[Webhook]:
    max_results = max_results or 100
    if max_results < 1 or max_results > 1000:
        raise MlflowException("max_results must be between 1 and 1000.", INVALID_PARAMETER_VALUE)
    newest_first = sorted(hooks, key=lambda h: h.created_at, reverse=True)
    page, next_token = SearchUtils.paginate(newest_first, token, max_results)
    return PagedList([_entity(h) for h in page], next_token)


def _save(reg: Registry, hooks: list[HookRecord], message: str) -> None:
    text = (reg.root / CONFIG).read_text(encoding="utf-8")
    with mlflow_errors():
        reg.write_config(with_hooks(text, hooks), message)
