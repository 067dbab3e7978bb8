"""webhooks: delivering events to the ``webhooks:`` of gitreg.yaml.

One JSON POST per event and hook (stdlib urllib, http/https only, no redirects), with
``X-Gitreg-Event``, ``X-Gitreg-Delivery`` (the event's stable id, for idempotent
receivers) and ``X-Gitreg-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` keyed
with the secret from the environment variable the hook names (never from the
repository). Connection errors, timeouts, 5xx and 429 are retried with exponential
back-off, a bounded number of times; once a delivery to a hook finally fails, that hook
gets no later events in this run, so a receiver never sees them out of order.

A hook with ``format: mlflow`` (or every hook, with ``notify(fmt="mlflow")``) gets MLflow's
body, headers and signature instead (``mlflow_format``); a hook with ``status: disabled``
gets nothing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gitreg.config import Config
from gitreg.errors import GitregError, UsageError
from gitreg.trail import mlflow_format
from gitreg.trail.changes import Change

USER_AGENT = "gitreg-webhooks/1"
FORMATS = ("gitreg", "mlflow")


class WebhookError(GitregError):
    """A webhook is misconfigured, or a delivery finally failed."""


@dataclass(frozen=True, slots=True)
class Hook:
    url: str
    events: tuple[str, ...]  # patterns (fnmatch); empty means every event
    secret_env: str | None
    format: str = "gitreg"  # gitreg | mlflow

    def wants(self, event_type: str) -> bool:
        return not self.events or any(fnmatch.fnmatchcase(event_type, p) for p in self.events)


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    event: Change
    status: str  # delivered | failed | skipped | dry-run
    attempts: int = 0
    detail: str = ""


def hooks(config: Config) -> list[Hook]:
    """The configured webhooks, checked: http(s) URLs only."""
    out = []
    for i, raw in enumerate(config.webhooks):
        url = raw.get("url") if isinstance(raw, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise UsageError(f"gitreg.yaml webhooks[{i}]: url must be an http:// or https:// URL")
        if not urlsplit(url).hostname:
            raise UsageError(f"gitreg.yaml webhooks[{i}]: url {url!r} has no host")
        events = raw.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise UsageError(f"gitreg.yaml webhooks[{i}]: events must be a list of event types")
        secret_env = raw.get("secret_env")
        if str(raw.get("status", "active")).lower() == "disabled":
            continue
        fmt = raw.get("format", "gitreg")
        if fmt not in FORMATS:
            raise UsageError(
                f"gitreg.yaml webhooks[{i}]: format must be one of {', '.join(FORMATS)}"
            )
        out.append(Hook(url=url, events=tuple(events), secret_env=secret_env, format=fmt))
    return out


def sign(body: bytes, secret: str) -> str:
    """The ``X-Gitreg-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(event: Change) -> bytes:
    return json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False).encode()


def notify(
    config: Config,
    events: Sequence[Change],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    attempts: int = 3,
    backoff: float = 1.0,
    dry_run: bool = False,
    on_delivery: Callable[[Delivery], None] | None = None,
    fmt: str | None = None,
) -> list[Delivery]:
    """Deliver ``events`` to every configured hook that wants them; the result lists each
    delivery. Every secret is looked up before anything is sent. ``fmt`` (gitreg or
    mlflow) overrides each hook's own ``format``."""
    env = os.environ if env is None else env
    targets = hooks(config)
    secrets: dict[str, str | None] = {}
    for hook in targets:
        if hook.secret_env and not dry_run:
            if not env.get(hook.secret_env):
                raise WebhookError(
                    f"environment variable {hook.secret_env} (the secret for {hook.url}) is not set"
                )
            secrets[hook.url] = env[hook.secret_env]
    out: list[Delivery] = []
    for hook in targets:
        broken = False
        for event in events:
            if not hook.wants(event.type):
                continue
            if dry_run:
                d = Delivery(hook.url, event, "dry-run")
            elif broken:
                d = Delivery(hook.url, event, "skipped", detail="an earlier delivery failed")
            else:
                how = fmt or hook.format
                d = _deliver(
                    hook.url, event, secrets.get(hook.url), timeout, attempts, backoff, how
                )
                broken = d.status == "failed"
            out.append(d)
            if on_delivery:
                on_delivery(d)
    return out


def _deliver(
    url: str, event: Change, secret: str | None, timeout: float, attempts: int, backoff: float,
    fmt: str = "gitreg",
) -> Delivery:  # fmt: skip
    import urllib.error
    import urllib.request

    body = body_of(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Gitreg-Event": event.type,
        "X-Gitreg-Delivery": event.id,
    }
    if secret is not None:
        headers["X-Gitreg-Signature"] = sign(body, secret)
    if fmt == "mlflow":
        body, headers = mlflow_format.request(event, secret)
        headers["User-Agent"] = USER_AGENT
    opener = _opener()
    detail = ""
    for attempt in range(1, max(1, attempts) + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(1 << 16)
                return Delivery(url, event, "delivered", attempt, f"HTTP {response.status}")
        except urllib.error.HTTPError as e:
            detail = f"HTTP {e.code}"
            if e.code != 429 and e.code < 500:
                return Delivery(url, event, "failed", attempt, detail)
        except (urllib.error.URLError, OSError) as e:
            reason: Any = getattr(e, "reason", e)
            detail = str(reason) or type(reason).__name__
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    return Delivery(url, event, "failed", max(1, attempts), detail)


def _opener() -> Any:
    """urllib without redirects: a 3xx is a failed delivery (re-POSTing a signed body to
    wherever a receiver points is not ours to decide)."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirect)
