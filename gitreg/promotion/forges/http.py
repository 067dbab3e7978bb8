"""The forges' one HTTP client: urllib3 (the ``forge`` extra), imported here only and only
when a forge is called.

Why urllib3 and not the forges' SDKs: gitreg makes a dozen calls to two forges. urllib3
2.x brings what hand-written urllib lacked (connection reuse, bounded retries with
back-off on 429 and 5xx, and ``Retry-After``) in one dependency without requests' stack,
and its answers are plain JSON that a 127.0.0.1 fake serves exactly as the forges
document them. python-gitlab and PyGithub would add requests and a lazily-loading object
model whose response shapes a fake has to reproduce field by field.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitreg.errors import GitregError

if TYPE_CHECKING:
    import urllib3

TIMEOUT = 30.0
RETRIES = 4
MAX_RETRY_AFTER = 60.0  # a Retry-After longer than this is cut to it


class ForgeError(GitregError):
    """The forge refused or could not be reached."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    data: Any  # decoded JSON, or None
    headers: Mapping[str, str]


class Http:
    """JSON over HTTP(S) to one API root, with retries that honour ``Retry-After``."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout: float = TIMEOUT,
        retries: int = RETRIES,
        backoff: float = 0.5,
    ) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("https", "http"):
            raise ForgeError(f"the forge API URL must be http(s): {base_url}")
        try:
            import urllib3  # noqa: PLC0415 (the forge extra, loaded only on forge paths)
        except ImportError:
            raise ForgeError(
                "talking to the forge needs urllib3: pip install 'gitreg-ml[forge]'"
            ) from None

        class CappedRetry(urllib3.Retry):
            def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
                after = super().get_retry_after(response)
                return None if after is None else min(after, MAX_RETRY_AFTER)

        self.base_url = base_url.rstrip("/")
        self.headers = {"User-Agent": "gitreg", **headers}
        retry = CappedRetry(
            total=retries,
            connect=retries,
            read=1,
            status=retries,
            backoff_factor=backoff,
            backoff_max=10,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # creates are safe to repeat: an existing PR/MR is found
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self._pool: urllib3.PoolManager = urllib3.PoolManager(
            retries=retry, timeout=urllib3.Timeout(total=timeout)
        )
        self._errors = (urllib3.exceptions.HTTPError, OSError)

    def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        query: Mapping[str, str | int] | None = None,
    ) -> Answer:
        """``method path`` (relative to the API root, or absolute); never raises on a
        status, only when the forge cannot be reached."""
        url = path if "://" in path else self.base_url + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        body = None if payload is None else json.dumps(payload).encode()
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            resp = self._pool.request(method, url, body=body, headers=headers)
        except self._errors as e:
            reason = getattr(e, "reason", None) or e
            raise ForgeError(f"could not reach {self.base_url}: {reason}") from None
        try:
            data = json.loads(resp.data or b"null")
        except ValueError:
            data = None
        return Answer(resp.status, data, {k.lower(): v for k, v in resp.headers.items()})

    def pages(self, path: str, query: Mapping[str, str | int] | None = None) -> list[Any]:
        """Every item of a paginated list (``Link: rel="next"``), up to 50 pages."""
        items: list[Any] = []
        answer = self.call("GET", path, query={**(query or {}), "per_page": 100})
        for _ in range(50):
            if answer.status != 200 or not isinstance(answer.data, list):
                raise ForgeError(f"GET {path} answered {answer.status}: {message(answer.data)}")
            items += answer.data
            nxt = _next_link(answer.headers.get("link", ""))
            if not nxt:
                break
            answer = self.call("GET", nxt)
        return items


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return url.strip().strip("<>")
    return None


def message(answer: Any) -> str:
    """A forge's error body in a few words."""
    if not isinstance(answer, dict):
        return "no details"
    msg = answer.get("message", answer.get("error", "no details"))
    msg = json.dumps(msg) if not isinstance(msg, str) else msg
    errors = answer.get("errors")
    if isinstance(errors, list):
        msg += "; " + "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return msg
