"""What serving code needs, and nothing that waits on the registry.

    from gitreg.serving import load_lock, fetch

    lock = load_lock("models.lock")                 # written by `gitreg pin`
    paths = fetch(lock, "/srv/models")              # verified, through the local cache
    model_file = paths["models:/fraud-detector@champion"]

A fleet without the lock file resolves through the static API ``gitreg site`` publishes::

    from gitreg.serving import StaticAPI
    api = StaticAPI("https://registry.example.com/")
    mv = api.resolve("models:/fraud-detector@champion")
    lock = api.pin(["models:/fraud-detector@champion"])

``fetch`` needs neither the registry nor, once the bytes were fetched, the store: the cache
(``GITREG_CACHE_DIR``, bounded by ``GITREG_CACHE_MAX``) serves them, re-verified.
"""

from __future__ import annotations

from gitreg.serving.client import APIError, StaticAPI
from gitreg.store.lockfile import (
    Lock,
    LockEntry,
    dumps,
    fetch_lock,
    load_lock,
    parse_lock,
    verify_lock,
    write_lock,
)

fetch = fetch_lock

__all__ = [
    "APIError",
    "Lock",
    "LockEntry",
    "StaticAPI",
    "dumps",
    "fetch",
    "fetch_lock",
    "load_lock",
    "parse_lock",
    "verify_lock",
    "write_lock",
]
