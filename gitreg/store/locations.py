"""Artifact URIs: which ones gitreg accepts (``check_uri``), how they are shown
(``redact``: never a credential), and the small parsers the other store modules share."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from gitreg.errors import ArtifactError, UsageError

SCHEMES = frozenset({"file", "s3", "gs", "gcs", "az", "abfs", "memory"})
_SIGNED = {"x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature",
           "x-goog-credential", "sig", "signature", "awsaccesskeyid"}  # fmt: skip


def redact(uri: str) -> str:
    """``uri`` safe to show: user-info and query/fragment become ``***``, controls escaped."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "", uri
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    rest = netloc + slash + path
    cut = [i for i in (rest.find("?"), rest.find("#")) if i >= 0]
    if cut:
        rest = rest[: min(cut)] + "?***"
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in scheme + sep + rest)


def check_uri(uri: str, allowed: Sequence[str] = ()) -> str:
    """Return ``uri`` if gitreg may use it as an artifact location, else raise UsageError.

    Refused before any I/O: schemes outside SCHEMES, relative ``file:`` URIs (pass
    ``file:///absolute/path``), user-info with a password (``az``/``abfs`` may name
    ``container@account``), any query or fragment (signed ones get their own message),
    ``..`` segments (also percent-encoded), control characters, and, when ``allowed`` is
    non-empty, URIs under none of its prefixes (``"file://"`` allows every file URI; a
    prefix matches whole path segments only).
    """
    if not isinstance(uri, str) or not uri:
        raise UsageError("artifact URI is empty")
    shown = redact(uri)
    if any(ord(c) < 32 or ord(c) == 127 for c in uri + unquote(uri)):
        raise UsageError(f"artifact URI {shown} contains a control character")
    scheme, sep, rest = uri.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise UsageError(
            f"artifact URI {shown} is not supported: use one of "
            + ", ".join(f"{s}://" for s in sorted(SCHEMES))
        )
    netloc, _, path = rest.partition("/")
    user, at, _host = netloc.rpartition("@")
    if at and (":" in user or scheme not in ("az", "abfs")):
        raise UsageError(f"artifact URI {shown} must not carry credentials (user-info)")
    if "?" in rest or "#" in rest:
        query = rest.partition("?")[2].partition("#")[0]
        if any(k.lower() in _SIGNED for k, _ in parse_qsl(query, keep_blank_values=True)):
            raise UsageError(f"artifact URI {shown} carries a signed credential; use a plain URI")
        raise UsageError(f"artifact URI {shown} must not have a query string or fragment")
    segments = re.split(r"[/\\]", path) + re.split(r"[/\\]", unquote(path))
    if ".." in segments:
        raise UsageError(f"artifact URI {shown} must not contain '..' segments")
    if scheme == "file" and netloc not in ("", "localhost"):
        raise UsageError(f"file URI {shown} must be absolute (file:///path): resolve it first")
    if allowed and not any(_under(uri, prefix) for prefix in allowed):
        where = ", ".join(redact(p) for p in allowed)
        raise UsageError(f"artifact URI {shown} is outside the allowed locations ({where})")
    return uri


def _under(uri: str, prefix: str) -> bool:
    def norm(u: str) -> str:
        s, sep, rest = u.partition("://")
        return s.lower() + sep + rest

    u, p = norm(uri), norm(prefix)
    if p.endswith("://"):
        return u.startswith(p)
    p = p.rstrip("/")
    return u == p or u.startswith(p + "/")


def scheme_of(uri: str) -> str:
    return uri.partition("://")[0].lower()


def file_path(uri: str) -> Path:
    path = unquote("/" + uri.partition("://")[2].partition("/")[2])
    if os.name == "nt" and re.match(r"/[A-Za-z]:", path):  # pragma: no cover
        path = path[1:]
    return Path(path)


def check_rel(rel: str) -> str:
    parts = rel.split("/")
    bad = any(p in ("", ".", "..") for p in parts) or "\\" in rel
    if bad or any(ord(c) < 32 or ord(c) == 127 for c in rel):
        raise ArtifactError(f"unsupported file name in artifact: {rel!a}")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ArtifactError(f"file name is not valid UTF-8: {rel!a}") from None
    return rel


_SECRET_OPTIONS = {"key", "secret", "password", "aws_access_key_id", "aws_secret_access_key",
                   "aws_session_token", "session_token", "security_token", "account_key",
                   "sas_token", "connection_string", "client_secret", "credential"}  # fmt: skip
_TOKEN_MODES = {"anon", "google_default", "cache", "cloud", "browser"}  # gcsfs, not secrets


def check_options(options: Mapping[str, Any], where: str = "storage_options") -> None:
    """Refuse credentials in storage options meant for a committed file (gitreg.yaml):
    they belong in the environment, a profile or an instance role. Names the key, never
    the value."""
    for k, v in options.items():
        path = f"{where}.{k}"
        if isinstance(v, Mapping):
            check_options(v, path)
        elif str(k).lower() in _SECRET_OPTIONS or (
            str(k).lower() == "token" and not (isinstance(v, str) and v in _TOKEN_MODES)
        ):
            raise UsageError(
                f"gitreg.yaml must not hold credentials ({path}): use the environment "
                "(AWS_PROFILE, AWS_ACCESS_KEY_ID ...) or the store's own config files"
            )
