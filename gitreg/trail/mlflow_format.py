"""Events as MLflow's webhooks deliver them, so receivers written for MLflow work unchanged.

The body is ``{"entity", "action", "timestamp", "data"}`` (``data`` shaped as MLflow's
payload for that event; ``version`` a string, as MLflow sends it), serialised as MLflow
does (``json.dumps`` defaults). Headers: ``X-MLflow-Delivery-Id`` (the event's stable id
as a UUID, so a receiver that drops repeated deliveries drops a retried one too),
``X-MLflow-Timestamp`` (Unix seconds at sending) and, with a secret,
``X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "delivery_id.timestamp.body">``.

gitreg's own events that MLflow has no webhook for (a stage transition, a rename, a
deletion, a description edit) go out the same way, their ``entity`` and ``action`` split
from gitreg's event name (``model_version`` / ``stage_transitioned``) and ``data`` holding
the name, the version and the event's own fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from gitreg.trail.changes import Change

DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
SIGNATURE_HEADER = "X-MLflow-Signature"


def payload(event: Change, now: datetime | None = None) -> dict[str, Any]:
    """MLflow's webhook body for ``event``."""
    entity, _, action = event.type.rpartition(".")
    return {
        "entity": entity,
        "action": action,
        "timestamp": (now or datetime.now(timezone.utc)).isoformat(),
        "data": _data(event),
    }


def _data(event: Change) -> dict[str, Any]:
    d = event.data
    version = None if event.version is None else str(event.version)
    if event.type == "registered_model.created":
        return {"name": event.name, "tags": {}, "description": None}
    if event.type == "model_version.created":
        source = d.get("given_source") or d.get("source")
        return {"name": event.name, "version": version, "source": source,
                "run_id": d.get("run_id"), "tags": {}, "description": None}  # fmt: skip
    if event.type == "model_version_tag.set":
        return {"name": event.name, "version": version, "key": d["key"], "value": d["value"]}
    if event.type == "model_version_tag.deleted":
        return {"name": event.name, "version": version, "key": d["key"]}
    if event.type == "model_version_alias.created":
        return {"name": event.name, "alias": d["alias"], "version": version}
    if event.type == "model_version_alias.deleted":
        return {"name": event.name, "alias": d["alias"]}
    return {"name": event.name, "version": version, **d}


def signature(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``delivery_id.timestamp.body``, MLflow's scheme."""
    signed = f"{delivery_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def request(
    event: Change, secret: str | None, clock: Callable[[], float] = time.time
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery of ``event``."""
    sent = clock()
    body = json.dumps(payload(event, datetime.fromtimestamp(sent, timezone.utc)))
    delivery_id = str(uuid.UUID(event.id))
    stamp = str(int(sent))
    headers = {
        "Content-Type": "application/json",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: stamp,
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, delivery_id, stamp, body)
    return body.encode(), headers
