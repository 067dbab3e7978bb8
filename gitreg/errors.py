"""The errors gitreg raises. The library raises only these; ``cli.app`` turns them into
one sentence on stderr and an exit status."""

from __future__ import annotations


class GitregError(Exception):
    """Root of every error a user can cause. ``str(err)`` is the one sentence shown."""

    exit_code = 1


class UsageError(GitregError):
    """The call itself is wrong (a bad name, an unknown stage, a malformed filter)."""

    exit_code = 2


class ManifestError(GitregError):
    """A registry file is malformed. Carries the file and, where known, the line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class NotFound(GitregError):
    """A model, version, alias or ref that does not exist."""


class AlreadyExists(GitregError):
    """Something that must be new already exists."""


class Conflict(GitregError):
    """The operation is valid in general but not in the registry's current state."""


class PolicyError(GitregError):
    """gitreg.yaml's promotion policy refuses the operation."""


class ArtifactError(GitregError):
    """An artifact is missing, unreadable, or not where it may be."""


class DigestMismatch(ArtifactError):
    """An artifact's bytes are not the ones its manifest names."""

    def __init__(self, uri: str, expected: str, actual: str) -> None:
        self.uri, self.expected, self.actual = uri, expected, actual
        super().__init__(f"{uri} does not match its manifest: expected {expected}, got {actual}")


class GitError(GitregError):
    """git failed or the repository is not in a usable state."""


class PushRejected(GitError):
    """The remote refused a push (a hook, protection, or a race lost too often)."""
