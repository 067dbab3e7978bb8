"""Credentials that must never be written into the registry: the detector the write path
calls on every free-text value (tags, params, lineage, descriptions, artifact URIs).

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
            hit, shown_key = find(str(value)), key
            if hit is None and find(str(key)) is not None:
                hit, shown_key = find(str(key)), redact(str(key))
            if hit is not None:
                what, shown = hit
                where = f"{field.rstrip('s')} {shown_key!r}" if key else field
                raise UsageError(
                    f"{where} looks like it holds {what} ({shown}); secrets must not be "
                    "stored in the registry, whose history every clone keeps"
                )
