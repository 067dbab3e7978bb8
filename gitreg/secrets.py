"""Credentials that must never be written into the registry: the detector the write path
calls on every free-text value (tags, params, lineage, descriptions, artifact URIs), each
key checked with its value, and ``scan``, which ``gitreg check`` runs on every file it reads.

A registry is read by everyone with clone access and its history is forever, so a value
that looks like a credential is refused, and the message shows it redacted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gitreg.errors import UsageError

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    (
        "a GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
    ),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a URI with a password", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
    (
        "a signed URL",
        re.compile(
            r"(?i)[?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|"
            r"x-goog-signature|x-goog-credential|sig|signature)="
        ),
    ),
    ("an AWS secret key", re.compile(r"(?i)aws_?secret_?access_?key\s*[=:]\s*\S{20,}")),
)


def find_pair(key: str, value: str) -> tuple[str, str] | None:
    """``find`` on the value, the key, and the two together (``AWS_SECRET_ACCESS_KEY=…``
    is a credential although neither half is one alone)."""
    return find(value) or find(key) or (find(f"{key}={value}") if key else None)


def scan(data: object, pointer: tuple[str | int, ...] = ()) -> list[tuple[list[str | int], str]]:
    """Every credential-like text anywhere in a parsed registry file (a manifest edited by
    hand never went through ``refuse``): ``(JSON pointer, message)`` pairs."""
    out: list[tuple[list[str | int], str]] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                hit = find_pair(str(key), str(value))
                if hit is not None:
                    where = "/".join(str(p) for p in (*pointer, key))
                    out.append(([*pointer, key], _message(where, *hit)))
            else:
                out += scan(value, (*pointer, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += scan({i: value} if isinstance(value, str) else value, (*pointer, i))
    return out


def _message(where: str, what: str, shown: str) -> str:
    return (
        f"{where} looks like it holds {what} ({shown}); secrets must not be stored in the "
        "registry, whose history every clone keeps"
    )


def find(value: str) -> tuple[str, str] | None:
    """``(what, redacted)`` for the first credential-like text in ``value``, else None."""
    for what, pattern in _PATTERNS:
        m = pattern.search(value)
        if m:
            return what, redact(m.group(0))
    return None


def redact(secret: str) -> str:
    """The first four characters and a marker: enough to find it, useless to an attacker."""
    return f"{secret[:4]}…REDACTED"


def refuse(**fields: Mapping[str, str] | str | None) -> None:
    """Raise UsageError naming the field if any value looks like a credential.

    Each keyword is a field (``tags``, ``description`` …): a mapping of values, or one text.
    """
    for field, values in fields.items():
        if values is None:
            continue
        items = values.items() if isinstance(values, Mapping) else [("", values)]
        for key, value in items:
            hit = find_pair(str(key), str(value))
            if hit is not None:
                shown_key = redact(str(key)) if find(str(key)) else key
                where = f"{field.rstrip('s')} {shown_key!r}" if key else field
                raise UsageError(_message(where, *hit))
