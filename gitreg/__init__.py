"""gitreg: a model registry whose database is a git repository."""

from typing import TYPE_CHECKING, Any

from gitreg.errors import (
    AlreadyExists,
    ArtifactError,
    Conflict,
    DigestMismatch,
    GitError,
    GitregError,
    ManifestError,
    NotFound,
    PolicyError,
    PushRejected,
    UsageError,
)
from gitreg.manifest import ArtifactRef, FileEntry, ModelVersion, RegisteredModel

if TYPE_CHECKING:
    from gitreg.registry import Registry


def __getattr__(name: str) -> Any:
    # Registry (and with it the write machinery) loads on first use, so that the
    # command line's read commands start without it.
    if name == "Registry":
        # the writes load on first use; reads start without them
        from gitreg.registry import Registry  # noqa: PLC0415

        return Registry
    raise AttributeError(f"module 'gitreg' has no attribute {name!r}")


__all__ = [
    "AlreadyExists",
    "ArtifactError",
    "ArtifactRef",
    "Conflict",
    "DigestMismatch",
    "FileEntry",
    "GitError",
    "GitregError",
    "ManifestError",
    "ModelVersion",
    "NotFound",
    "PolicyError",
    "PushRejected",
    "RegisteredModel",
    "Registry",
    "UsageError",
]
