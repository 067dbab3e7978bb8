"""``gitreg gc --store``: which objects in the registry's artifact store no manifest on any
branch or tag references, and (only when asked) deleting them.

Fails closed: a manifest in the history that cannot be read means gc cannot tell what it
references, so it refuses to run rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from gitreg.errors import GitregError
from gitreg.manifest import ModelVersion
from gitreg.repo.reachable import version_blobs

if TYPE_CHECKING:
    from gitreg.registry.writes import Registry
    from gitreg.store.gc import StoreObject


def referenced_uris(reg: Registry) -> Iterator[str]:
    """The artifact URI of every version manifest in the history of any branch, tag or
    remote-tracking branch, and in the work tree."""
    # a read the query index answers never needs YAML
    from gitreg.files import yamlio  # noqa: PLC0415

    for path, raw in version_blobs(reg.git):
        try:
            yield ModelVersion.from_dict(yamlio.load(raw, path).data).artifact.uri
        except (GitregError, ValueError, KeyError, TypeError) as e:
            raise GitregError(
                f"cannot tell what a past {path} references ({e}); gc deletes nothing"
            ) from None
    for _model, versions in reg.catalog():
        for mv in versions:
            yield mv.artifact.uri


def collect(reg: Registry, grace_seconds: float, *, delete: bool = False) -> list[StoreObject]:
    """Every object in the store, classified; with ``delete``, the orphans are deleted."""
    from gitreg import store  # noqa: PLC0415 (fsspec loads only when bytes move)
    from gitreg.store import gc  # noqa: PLC0415 (fsspec loads only when bytes move)

    options = reg.config.storage_options
    store.check_options(options)
    found = gc.scan(reg.store_uri(), referenced_uris(reg), grace_seconds, options)
    if delete:
        gc.delete([o for o in found if o.status == "orphan"], options)
    return found
