"""Dates and times users type (``--at``, ``--since``): parsed here, so a typo is an error
rather than git's best guess."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from gitreg.errors import UsageError


def parse(text: str, *, end_of_day: bool) -> datetime:
    """``YYYY-MM-DD`` (its first or last second, UTC) or an RFC 3339 time (UTC if no zone)."""
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T23:59:59" if end_of_day else "T00:00:00"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise UsageError(f"invalid date {text!r}: use YYYY-MM-DD or an RFC 3339 time") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def now() -> str:
    """The current time as gitreg records it: RFC 3339 UTC with milliseconds, so versions
    made a few ms apart keep their order (as MLflow's store does)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
