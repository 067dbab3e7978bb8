"""RegistryView: the public read face of a registry. The queries themselves are
``query.reader.Reader``'s; this adds what reaches other parts: the registry as of a ref
or a date (``at``), its history and events (``trail``), ``check`` (``files``), and
artifacts' bytes (``store``)."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from gitreg import dates
from gitreg.errors import ManifestError
from gitreg.manifest import ModelVersion
from gitreg.query.reader import Reader
from gitreg.repo.tree import CommitTree

if TYPE_CHECKING:
    # imported where used: most reads never touch artifacts or history
    from gitreg import store
    from gitreg.trail.changes import Change

Progress = Callable[[int], None] | None


class RegistryView(Reader):
    """Read-only queries. ``Registry`` adds the writes; ``at()`` gives a view of the past."""

    def at(self, ref: str | None = None, date: str | None = None) -> RegistryView:
        """A read-only view of the registry as commit ``ref`` (or the newest commit on or
        before ``date``, a date alone meaning the end of that day, UTC) had it."""
        branch = ref or "HEAD"
        sha = self.git.commit_before(_as_of(date), branch) if date else None
        sha = sha or self.git.rev_parse(branch)
        return RegistryView(self.root, _tree=CommitTree(self.git, sha))

    @property
    def tip(self) -> str:
        """The commit this view reads ("HEAD" for the work tree)."""
        return self.tree.sha if isinstance(self.tree, CommitTree) else "HEAD"

    def history(
        self,
        name: str,
        version: int | str | None = None,
        stage: str | None = None,
        since: str | None = None,
        *,
        memo: MutableMapping[str, list[Change]] | None = None,
    ) -> list[Change]:
        """Every change to model ``name`` up to this view's commit, oldest first (``memo``:
        each commit's changes, kept between calls; see ``trail.history``)."""
        from gitreg.trail.history import history  # noqa: PLC0415 (most reads need no history)

        return history(
            self.git, self.tip, name, version=version, stage=stage, since=since, memo=memo
        )

    def events(self, from_ref: str, to_ref: str = "HEAD") -> list[Change]:
        """The changes in the first-parent commits ``from_ref..to_ref`` as typed events."""
        from gitreg.trail.events import events  # noqa: PLC0415 (most reads need no history)

        return events(self.git, from_ref, to_ref)

    def check(self) -> list[ManifestError]:
        """Every problem in every registry file, as ``path:line: message`` errors."""
        # loads the YAML reader and jsonschema
        from gitreg.files.check import check_tree  # noqa: PLC0415

        return check_tree(self.tree)

    def download(
        self,
        uri: str,
        dest: Path,
        progress: Progress = None,
        *,
        cache: bool = True,
        replace: bool = False,
    ) -> ModelVersion:
        """Copy a version's artifact to ``dest``, verified; through the local cache
        (``store.cached_download``) unless ``cache`` is False. With ``replace``, an existing
        ``dest`` is replaced once the new bytes verified."""
        from gitreg import store  # noqa: PLC0415 (fsspec loads only when bytes move)

        mv = self.resolve(uri)
        opts = self.config.storage_options
        if cache:
            store.cached_download(mv.artifact, dest, opts, progress, replace=replace)
        else:
            store.download(mv.artifact, dest, opts, progress, replace=replace)
        return mv

    def verify(self, version: str | ModelVersion, progress: Progress = None) -> store.Verification:
        """Check the bytes behind a version (a ``models:/`` URI or a ModelVersion) against
        its manifest: size first, then sha256. ("OK" | "MISMATCH" | "MISSING", why)."""
        from gitreg import store  # noqa: PLC0415 (fsspec loads only when bytes move)

        mv = self.resolve(version) if isinstance(version, str) else version
        return store.verify_detail(mv.artifact, self.config.storage_options, progress)


def _as_of(date: str) -> str:
    """``--at`` as git's ``@<epoch>``: a date alone means the end of that day, UTC."""
    return f"@{int(dates.parse(date, end_of_day=True).timestamp())}"
