"""gitreg: a model registry whose database is a git repository."""

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
from gitreg.registry import Registry

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
