"""Artifact bytes: digest, upload, download + verify. The only fsspec importer (lazily).

Digests are ``sha256:<64 hex>``. A file's digest is the sha256 of its bytes. A folder's
digest is the sha256 of its *canonical listing*, which is part of the on-disk contract:
UTF-8 text with one line per regular file, sorted by relative POSIX path (Python ``str``
order), each line ``f"{hex}  {size}  {path}\\n"`` (two spaces, hex without ``sha256:``).
Empty folders count for nothing; a folder without files is refused, as are symbolic links
and special files (never followed) and names with control characters, ``\\``, ``.``/``..``
segments or bytes that are not UTF-8.

``upload`` stores a local file or folder write-once under a content-addressed key,
``<store>/<name>/sha256/<hex>/<basename>``: on ``file://`` it is staged under
``<store>/<name>/.staging/<random>/``, fsynced, re-hashed and published by ``link``
(file) or ``rename`` (folder), both of which refuse to replace; on ``s3://`` each file is
a multipart upload that stays invisible until it is completed with ``If-None-Match: *``
after every byte was sent and hashed (an error aborts them all); other fsspec stores
(``memory``, ``gs``, ``az``) stage under ``.staging/`` and move into place after an
existence check, which is write-once only as far as the store's copy allows.

Errors: refused URIs raise ``UsageError``; I/O problems ``ArtifactError``; bytes that
are not the manifest's ``DigestMismatch`` (a size difference too, with ``expected`` and
``actual`` of the form ``"size 123"``). Messages show URIs through ``redact``.
``progress`` callbacks get byte increments, from worker threads but one call at a time.

The package: ``uris`` (what is accepted, how it is shown), ``readers`` (describe),
``integrity`` (verify, download), ``publish`` (upload), ``cache`` (downloads keyed by
digest, any store, size-bounded), ``cache_admin`` (list, evict, prune), ``lockfile`` (lock
files: pin, fetch, verify), ``gc`` (unreferenced objects in the store), ``transfer``
(streaming, threads, error mapping). Import names from here.
"""

from gitreg.store.cache import cache_entry, cached_download, fresh_copy
from gitreg.store.cache_root import cache_dir, cache_max, parse_size
from gitreg.store.integrity import RETRY_DELAYS, Verification, download, verify, verify_detail
from gitreg.store.locations import SCHEMES, check_options, check_uri, redact
from gitreg.store.publish import upload
from gitreg.store.readers import describe, describe_local, listing_digest
from gitreg.store.transfer import CHUNK, WORKERS, Progress

__all__ = [
    "CHUNK",
    "RETRY_DELAYS",
    "SCHEMES",
    "WORKERS",
    "Progress",
    "Verification",
    "cache_dir",
    "cache_entry",
    "cache_max",
    "cached_download",
    "check_options",
    "check_uri",
    "describe",
    "describe_local",
    "download",
    "fresh_copy",
    "listing_digest",
    "parse_size",
    "redact",
    "upload",
    "verify",
    "verify_detail",
]
