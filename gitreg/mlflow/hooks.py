"""MLflow's webhook API."""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList

from gitreg.mlflow.base import StoreBase


class WebhookMethods(StoreBase):
    """Webhooks."""

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
