"""webhooks: delivering events to the ``webhooks:`` of gitreg.yaml.

One JSON POST per event and hook (stdlib urllib, http/https only, no redirects), with
``X-Gitreg-Event``, ``X-Gitreg-Delivery`` (the event's stable id, for idempotent
receivers) and ``X-Gitreg-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` keyed
with the secret from the environment variable the hook names (never from the
repository). A hook may also name ``token_env``: that variable's value is sent as
``Authorization: Bearer <token>`` (https, or a loopback host, only). ``stages`` and
``models`` narrow what a hook gets (``matches``): only events that move a version into
one of those stages, only models whose name matches one of those patterns.

Connection errors, timeouts, 5xx and 429 are retried with exponential back-off, a
bounded number of times; once a delivery to a hook finally fails, that hook gets no
later events in this run, so a receiver never sees them out of order.

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


class WebhookError(GitregError):
    """A webhook is misconfigured, or a delivery finally failed."""


@dataclass(frozen=True, slots=True)
class Hook:
    url: str
    events: tuple[str, ...]  # patterns (fnmatch); empty means every event
    secret_env: str | None
    stages: tuple[str, ...] = ()  # target stages (to_stage); empty means no stage filter
    models: tuple[str, ...] = ()  # model name patterns (fnmatch); empty means every model
    token_env: str | None = None  # the variable holding the bearer token
    format: str = "gitreg"  # gitreg | mlflow

    def wants(self, event_type: str) -> bool:
        return not self.events or any(fnmatch.fnmatchcase(event_type, p) for p in self.events)


def matches(hook: Hook, change: Change) -> bool:
    """Whether ``hook`` gets ``change``: its event type, then (if the hook lists stages)
    a move into one of them, then (if it lists models) a model name that matches."""
    if not hook.wants(change.type):
        return False
    if hook.stages and change.data.get("to_stage") not in hook.stages:
        return False
    return not hook.models or any(fnmatch.fnmatchcase(change.name, p) for p in hook.models)


def auth_headers(body: bytes, secret: str | None, token: str | None) -> dict[str, str]:
    """The signature and bearer token headers for one delivery (either may be absent)."""
    out = {}
    if secret is not None:
        out["X-Gitreg-Signature"] = sign(body, secret)
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    return out


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    event: Change
    status: str  # delivered | failed | skipped | dry-run
    attempts: int = 0
    detail: str = ""


def hooks(config: Config) -> list[Hook]:
    """The configured webhooks, checked: http(s) URLs only, known stages, and credentials
    only by the name of an environment variable."""
    out = []
    for i, raw in enumerate(config.webhooks):
        where = f"gitreg.yaml webhooks[{i}]"
        url = raw.get("url") if isinstance(raw, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise UsageError(f"{where}: url must be an http:// or https:// URL")
        if not urlsplit(url).hostname:
            raise UsageError(f"{where}: url {url!r} has no host")
        for literal in ("secret", "token"):
            if literal in raw:
                raise UsageError(
                    f"{where}: {literal} may not be written in gitreg.yaml; put it in an "
                    f"environment variable and name that with {literal}_env"
                )
        events, stages, models = (
            _strings(raw, key, where) for key in ("events", "stages", "models")
        )
        for stage in stages:
            if stage not in config.stages:
                raise UsageError(
                    f"{where}: stage {stage!r} is not one of {', '.join(config.stages)}"
                )
        if str(raw.get("status", "active")).lower() == "disabled":
            continue
        fmt = raw.get("format", "gitreg")
        if fmt not in FORMATS:
            raise UsageError(f"{where}: format must be one of {', '.join(FORMATS)}")
        token_env = raw.get("token_env")
        host = urlsplit(url).hostname or ""
        if token_env and urlsplit(url).scheme != "https" and host not in _LOOPBACK:
            raise UsageError(f"{where}: a bearer token (token_env) is sent only over https://")
        out.append(
            Hook(
                url=url,
                events=events,
                secret_env=raw.get("secret_env"),
                stages=stages,
                models=models,
                token_env=token_env,
                format=fmt,
            )
        )
    return out


_LOOPBACK = ("127.0.0.1", "::1", "localhost")
FORMATS = ("gitreg", "mlflow")


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = raw.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UsageError(f"{where}: {key} must be a list of strings")
    return tuple(values)


def sign(body: bytes, secret: str) -> str:
    """The ``X-Gitreg-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(event: Change) -> bytes:
    return json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False).encode()


def notify(  # noqa: PLR0913 (keyword-only delivery settings)
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
    tokens: dict[str, str | None] = {}
    for hook in targets:
        for var, what, found in (
            (hook.secret_env, "secret", secrets),
            (hook.token_env, "token", tokens),
        ):
            if var and not dry_run:
                if not env.get(var):
                    raise WebhookError(
                        f"environment variable {var} (the {what} for {hook.url}) is not set"
                    )
                found[hook.url] = env[var]
    out: list[Delivery] = []
    for hook in targets:
        broken = False
        for event in events:
            if not matches(hook, event):
                continue
            if dry_run:
                d = Delivery(hook.url, event, "dry-run")
            elif broken:
                d = Delivery(hook.url, event, "skipped", detail="an earlier delivery failed")
            else:
                body, headers = request_of(
                    event, fmt or hook.format, secrets.get(hook.url), tokens.get(hook.url)
                )
                d = _deliver(hook.url, event, body, headers, timeout, attempts, backoff)
                broken = d.status == "failed"
            out.append(d)
            if on_delivery:
                on_delivery(d)
    return out


def request_of(
    event: Change, fmt: str, secret: str | None, token: str | None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery in ``fmt``: gitreg's (``X-Gitreg-*``, signed
    with ``sha256=`` HMAC) or MLflow's (``mlflow_format``); either with the bearer token."""
    if fmt == "mlflow":
        body, headers = mlflow_format.request(event, secret)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return body, headers
    body = body_of(event)
    headers = {"X-Gitreg-Event": event.type, "X-Gitreg-Delivery": event.id}
    return body, {**headers, **auth_headers(body, secret, token)}


def _deliver(  # noqa: PLR0913 (keyword-only switches)
    url: str,
    event: Change,
    body: bytes,
    auth: Mapping[str, str],
    timeout: float,
    attempts: int,
    backoff: float,
) -> Delivery:
    import urllib.error  # noqa: PLC0415 (HTTP delivery only for notify)
    import urllib.request  # noqa: PLC0415 (HTTP delivery only for notify)

    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **auth,
    }
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
    import urllib.request  # noqa: PLC0415 (HTTP delivery only for notify)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirect)
