"""Pinning: resolve ``models:/`` URIs against a registry (or its static API) into a Lock,
and say what moved between two locks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitreg.registry.view import RegistryView
from gitreg.repo.tree import CommitTree
from gitreg.store.lockfile import Lock, LockEntry, pinned


def pin(view: RegistryView, uris: Iterable[str]) -> Lock:
    """A lock pinning each URI as ``view`` resolves it; ``view`` should be at a commit
    (``RegistryView.at``), whose id every entry records."""
    if isinstance(view.tree, CommitTree):
        commit = view.tree.sha
    else:
        commit = view.git.rev_parse("HEAD")
        view = view.at(commit)
    return pinned(view.resolve, uris, commit, view.config.storage_options)


@dataclass(frozen=True, slots=True)
class Move:
    """How one pinned URI changed between two locks (a side is None where it is absent)."""

    uri: str
    old: LockEntry | None
    new: LockEntry | None

    @property
    def status(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        same = (self.old.name, self.old.version, self.old.artifact) == (
            self.new.name, self.new.version, self.new.artifact,
        )  # fmt: skip
        return "unchanged" if same else "moved"

    def __str__(self) -> str:
        def label(e: LockEntry | None) -> str:
            return "-" if e is None else f"{e.name} v{e.version}"

        if self.status == "unchanged":
            return f"{self.uri}: {label(self.new)} (unchanged)"
        return f"{self.uri}: {label(self.old)} -> {label(self.new)} ({self.status})"

    def to_dict(self) -> dict[str, Any]:
        def side(e: LockEntry | None) -> dict[str, Any] | None:
            return None if e is None else {
                "name": e.name, "version": e.version, "digest": e.artifact.digest,
                "commit": e.commit,
            }  # fmt: skip

        return {"uri": self.uri, "status": self.status, "old": side(self.old),
                "new": side(self.new)}  # fmt: skip


def moves(old: Lock, new: Lock) -> list[Move]:
    """Per resolved-from URI in either lock, what it pinned before and after, by URI."""
    before = {e.resolved_from: e for e in old.entries}
    after = {e.resolved_from: e for e in new.entries}
    return [Move(u, before.get(u), after.get(u)) for u in sorted(before.keys() | after.keys())]
