"""The errors gitreg raises. The library raises only these; ``cli.app`` turns them into
one sentence on stderr and an exit status."""

from __future__ import annotations

from collections.abc import Iterable


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

    @classmethod
    def model(cls, name: str, known: Iterable[str]) -> NotFound:
        """No model ``name``; the message suggests the nearest of ``known``."""
        import difflib  # noqa: PLC0415 (lazily: only an error pays for the import)

        near = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        hint = f"; did you mean {_either(near)}?" if near else ""
        return cls(f"no registered model named {name!r}{hint}")

    @classmethod
    def alias(cls, name: str, alias: str, aliases: Iterable[str]) -> NotFound:
        """Model ``name`` has no ``alias``; the message lists the aliases it has."""
        have = sorted(aliases)
        listed = f"its aliases are {', '.join(have)}" if have else "it has no aliases"
        return cls(f"{name} has no alias {alias!r}; {listed}")


def _either(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


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
