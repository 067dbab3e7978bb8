"""RegistryView: every query over a registry, read through a Tree (the work tree or any
commit), so each can be asked "as of" a ref or a date. Also the file layout."""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from gitreg import dates, model_uris
from gitreg.config import Config
from gitreg.errors import (
    ManifestError,
    NotFound,
    PolicyError,
    UsageError,
)
from gitreg.files import schema
from gitreg.manifest import ModelVersion, RegisteredModel, check_name
from gitreg.query.rows import VersionRow, model_row
from gitreg.repo.git import Git
from gitreg.repo.tree import CommitTree, Tree, WorkTree

if TYPE_CHECKING:
    # imported where used: most reads never touch artifacts, the parser or YAML
    from gitreg import store
    from gitreg.files import yamlio
    from gitreg.query import index, search
    from gitreg.trail.changes import Change

CONFIG = "gitreg.yaml"
MODELS = "models"
SCHEMA_DIR = ".gitreg/schemas"
_VERSION_FILE = re.compile(r"[1-9][0-9]*\.yaml")
_RESERVED_ALIAS = re.compile(r"(latest|[vV][0-9]+)")
_SCHEMA_REF = {
    "config": f"{SCHEMA_DIR}/gitreg.schema.json",
    "model": f"../../{SCHEMA_DIR}/model.schema.json",
    "version": f"../../../{SCHEMA_DIR}/version.schema.json",
}
Progress = Callable[[int], None] | None
T = TypeVar("T")


class Head(NamedTuple):
    """A version's number and stage: all ``gitreg list`` shows of it."""

    name: str
    version: int
    stage: str


V = TypeVar("V", ModelVersion, Head)


def model_dir(name: str) -> str:
    return f"{MODELS}/{name}"


def model_path(name: str) -> str:
    return f"{MODELS}/{name}/model.yaml"


def version_path(name: str, version: int) -> str:
    return f"{MODELS}/{name}/versions/{version}.yaml"


def now() -> str:
    """RFC 3339 UTC with milliseconds: versions made a few ms apart keep their order."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding gitreg.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG).is_file():
            return folder
    raise NotFound(f"{start} is not inside a gitreg registry (no {CONFIG}); run 'gitreg init'")


class RegistryView:
    """Read-only queries. ``Registry`` adds the writes; ``at()`` gives a view of the past."""

    def __init__(self, root: str | os.PathLike[str] = ".", *, _tree: Tree | None = None) -> None:
        self.root = find_root(Path(root)) if _tree is None else Path(root)
        self.tree: Tree = _tree or WorkTree(self.root)

    # --- plumbing ---------------------------------------------------------------------

    @cached_property
    def git(self) -> Git:
        return Git(self.root)

    @cached_property
    def _index(self) -> index.Index | None:
        from gitreg.query import index

        return index.open_index(self.root)

    def _indexed(self, rel: str) -> dict[str, Any] | None:
        """A work-tree file's record from the query index (None: read it the slow way)."""
        if not isinstance(self.tree, WorkTree) or self._index is None:
            return None
        return self._index.file(self.root, rel)

    def _doc(self, rel: str) -> yamlio.Document | None:
        """A registry file, loaded with the hardened loader, or None if it is absent."""
        from gitreg.files import yamlio  # here: a read the query index answers never needs YAML

        raw = self.tree.read(rel)
        return None if raw is None else yamlio.load(raw, rel)

    def _record(self, doc: yamlio.Document, kind: str, make: Callable[[Any], T]) -> T:
        """``make(doc.data)``; if the cheap shape check in ``make`` objects, the JSON
        Schema says exactly what is wrong, and where (it costs ~1 ms a file, so reads
        skip it; ``check`` and CI run it on every file)."""
        try:
            return make(doc.data)
        except (ValueError, KeyError, TypeError):
            schema.validate(doc, kind)
            raise ManifestError(doc.path, None, f"not a valid {kind} file") from None

    @cached_property
    def config(self) -> Config:
        doc = self._doc(CONFIG)
        if doc is None:
            raise NotFound(f"{self.tree.label} has no {CONFIG}")
        # Reads need only the stages and the store, which Config.from_dict checks for
        # itself; writes act on the policy, so _writable() validates all of it.
        return self._record(doc, "config", Config.from_dict)

    def at(self, ref: str | None = None, date: str | None = None) -> RegistryView:
        """A read-only view of the registry as commit ``ref`` (or the newest commit on or
        before ``date``, a date alone meaning the end of that day, UTC) had it."""
        branch = ref or "HEAD"
        sha = self.git.commit_before(_as_of(date), branch) if date else None
        sha = sha or self.git.rev_parse(branch)
        return RegistryView(self.root, _tree=CommitTree(self.git, sha))

    # --- reads --------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        return [n for n in self.tree.children(MODELS) if self.tree.read(model_path(n)) is not None]

    def get_model(self, name: str) -> RegisteredModel:
        data = self._indexed(model_path(check_name(name)))
        if data is not None and data["name"] == name:
            return RegisteredModel.from_index(data)
        doc = self._doc(model_path(name))
        if doc is None:
            raise NotFound(f"no registered model named {name!r}")
        model = self._record(doc, "model", RegisteredModel.from_dict)
        if model.name != name:
            raise ManifestError(model_path(name), doc.line(["name"]), "name does not match folder")
        return model

    def list_models(self) -> list[RegisteredModel]:
        return [model for model, _ in self.catalog(versions=False)]

    def catalog(
        self, names: Iterable[str] | None = None, *, versions: bool = True
    ) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
        """Each model of ``names`` that exists (every model if None), by name, with its
        versions oldest first (none unless ``versions``): one pass over the registry,
        through the query index (gitreg.query.index) where the repository has one."""
        with _bulk():
            return self._catalog(names, versions, _build)

    def stage_heads(self) -> list[tuple[RegisteredModel, list[Head]]]:
        """Each model with its newest version in each stage in use, oldest first: what
        ``gitreg list`` shows, without building every version in full (at 100,000
        versions that would take most of the time and memory)."""
        with _bulk():
            found: list[tuple[RegisteredModel, list[Any]]] = self._catalog(None, True, _head)
        return [
            (m, [Head(v.name, v.version, v.stage) for v in newest_per_stage(vs)]) for m, vs in found
        ]

    def _catalog(
        self, names: Iterable[str] | None, versions: bool, build: index.Build
    ) -> list[Any]:
        wanted = None if names is None else sorted({n for n in names if _is_name(n)})
        idx = self._index
        if idx is None:
            return [
                (self.get_model(n), self._scan_versions(n) if versions else [])
                for n in (self.model_names() if wanted is None else wanted)
                if self.tree.read(model_path(n)) is not None
            ]
        if isinstance(self.tree, CommitTree):
            records = idx.commit(self._ls_tree(wanted, versions), self.tree.read, build)
        else:
            records = idx.worktree(self.root, wanted, versions, build)
        models: dict[str, RegisteredModel] = {}
        found: dict[str, list[Any]] = {}
        for path, record in records.items():
            name = path.split("/", 2)[1]
            if isinstance(record, RegisteredModel):
                models[name] = record if record.name == name else self.get_model(name)
            elif (record.name, f"{record.version}.yaml") == (name, path.rsplit("/", 1)[1]):
                found.setdefault(name, []).append(record)
            else:  # the file's name or number is not its path's: read it to say where
                self.get_version(name, int(path.rsplit("/", 1)[1][:-5]))
                raise ManifestError(path, None, "name/version do not match the path")
        return [
            (models[n], sorted(found.get(n, []), key=lambda mv: mv.version)) for n in sorted(models)
        ]

    def _ls_tree(self, names: list[str] | None, versions: bool) -> dict[str, str]:
        """path -> blob id of the registry files of this view's commit."""
        assert isinstance(self.tree, CommitTree)
        spec = [f"{model_dir(n)}/" for n in names] if names is not None else [f"{MODELS}/"]
        if names == []:
            return {}
        from gitreg.query import index

        out = self.git.run_bytes("ls-tree", "-r", "-z", self.tree.sha, "--", *spec)
        entries = {}
        for line in out.split(b"\0"):
            meta, _, path = line.decode("utf-8", "replace").partition("\t")
            kind = meta.split(" ")
            wanted = versions or path.endswith("/model.yaml")
            if wanted and len(kind) == 3 and kind[1] == "blob" and index.in_layout(path):
                entries[path] = kind[2]
        return entries

    def version_numbers(self, name: str) -> list[int]:
        files = self.tree.children(f"{model_dir(name)}/versions")
        return sorted(int(f[:-5]) for f in files if _VERSION_FILE.fullmatch(f))

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        number = _version_number(version)
        rel = version_path(check_name(name), number)
        data = self._indexed(rel)
        if data is not None and (data["name"], data["version"]) == (name, number):
            return ModelVersion.from_index(data)
        doc = self._doc(rel)
        if doc is None:
            self.get_model(name)  # "no such model" beats "no such version"
            raise NotFound(f"{name} has no version {number}")
        mv = self._record(doc, "version", ModelVersion.from_dict)
        if (mv.name, mv.version) != (name, number):
            raise ManifestError(rel, doc.line(["version"]), "name/version do not match the path")
        return mv

    def versions(self, name: str) -> list[ModelVersion]:
        found = self.catalog([name])
        return found[0][1] if found else []

    def _scan_versions(self, name: str) -> list[ModelVersion]:
        return [self.get_version(name, n) for n in self.version_numbers(name)]

    def latest_versions(self, name: str, stages: Iterable[str] | None = None) -> list[ModelVersion]:
        """The newest version in each stage (each of ``stages``, or every stage in use)."""
        wanted = [self.config.canonical_stage(s) for s in stages] if stages else None
        return newest_per_stage(self.versions(name), wanted)

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names."""
        u = model_uris.parse(uri)
        if u.version is not None:
            return self.get_version(u.name, u.version)
        if u.alias is not None:
            model = self.get_model(u.name)
            if u.alias not in model.aliases:
                raise NotFound(f"{u.name} has no alias {u.alias!r}")
            return self.get_version(u.name, model.aliases[u.alias])
        if u.latest:
            numbers = self.version_numbers(self.get_model(u.name).name)
            if not numbers:
                raise NotFound(f"{u.name} has no versions")
            return self.get_version(u.name, numbers[-1])
        stage = self.config.canonical_stage(u.stage or "")
        self.get_model(u.name)
        for mv in reversed(self.versions(u.name)):
            if mv.stage == stage:
                return mv
        raise NotFound(f"{u.name} has no version in stage {stage}")

    def stage_change(
        self,
        mv: ModelVersion,
        stage: str,
        *,
        archive_existing: bool = False,
        rollback: bool = False,
    ) -> tuple[list[ModelVersion], str]:
        """The manifests and commit message that move ``mv`` into ``stage`` (already in its
        configured spelling) as gitreg.yaml's ``from`` and ``exclusive`` rules say. A
        rollback may return to a stage it held before whatever ``from`` says."""
        rule = self.config.rule(mv.name, stage)
        if rule.from_stages is not None and mv.stage not in rule.from_stages and not rollback:
            how = "through a pull request, and " if rule.via == "pull_request" else ""
            raise PolicyError(
                f"{mv.name} v{mv.version} is in {mv.stage}; gitreg.yaml allows {stage} "
                f"{how}only from {', '.join(rule.from_stages)}"
            )
        changed = [mv.evolve(stage=stage)]
        lines = []
        if rule.exclusive or archive_existing:
            archive = self.config.archive_stage
            holders = [v for v in self.versions(mv.name) if v.stage == stage]
            if holders and archive is None:
                raise PolicyError(f"cannot archive {stage} versions: no Archived stage")
            for other in holders:
                changed.append(other.evolve(stage=archive))
                lines.append(f"{mv.name} v{other.version}: {stage} -> {archive}")
        message = f"{mv.name} v{mv.version}: {mv.stage} -> {stage}"
        if rollback:
            message += " (rollback)"
        if lines:
            message += "\n\n" + "\n".join(lines)
        return changed, message

    def search_versions(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> list[ModelVersion]:
        """Versions matching an MLflow filter string (plus stage, metrics, params, aliases)."""
        from gitreg.query import search

        flt = search.parse(filter)
        with _bulk():
            return self._search_versions(flt, order_by, max_results)

    def _search_versions(
        self, flt: search.Filter, order_by: Iterable[str], max_results: int | None
    ) -> list[ModelVersion]:
        from gitreg.query import search

        rows = []
        for model, versions in self.catalog(_only_names(flt.node)):
            by_version: dict[int, list[str]] = {}
            for alias, v in sorted(model.aliases.items()):
                by_version.setdefault(v, []).append(alias)
            for mv in versions:
                row = VersionRow(mv, tuple(by_version.get(mv.version, ())))
                if flt.matches(row):
                    rows.append(row)
        ordered = search.sort_records(rows, list(order_by))
        return [cast(VersionRow, row).version for row in ordered[:max_results]]

    def search_models(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> list[RegisteredModel]:
        from gitreg.query import search

        flt = search.parse(filter)
        records = [model_row(m) for m in self.list_models()]
        ordered = search.sort_records([r for r in records if flt.matches(r)], list(order_by))
        return [r["_object"] for r in ordered[:max_results]]

    def history(
        self,
        name: str,
        version: int | str | None = None,
        stage: str | None = None,
        since: str | None = None,
    ) -> list[Change]:
        """Every change to model ``name`` up to this view's commit, oldest first."""
        from gitreg.trail.history import history

        return history(self, name, version=version, stage=stage, since=since)

    def events(self, from_ref: str, to_ref: str = "HEAD") -> list[Change]:
        """The changes in the first-parent commits ``from_ref..to_ref`` as typed events."""
        from gitreg.trail.events import events

        return events(self, from_ref, to_ref)

    def check(self) -> list[ManifestError]:
        """Every problem in every registry file, as ``path:line: message`` errors."""
        from gitreg.files.check import check_tree

        return check_tree(self.tree)

    def download(
        self, uri: str, dest: Path, progress: Progress = None, *, cache: bool = True
    ) -> ModelVersion:
        """Copy a version's artifact to ``dest``, verified; through the local cache
        (``store.cached_download``) unless ``cache`` is False."""
        from gitreg import store

        mv = self.resolve(uri)
        if cache:
            store.cached_download(mv.artifact, dest, self.config.storage_options, progress)
        else:
            store.download(mv.artifact, dest, self.config.storage_options, progress)
        return mv

    def verify(self, version: str | ModelVersion, progress: Progress = None) -> store.Verification:
        """Check the bytes behind a version (a ``models:/`` URI or a ModelVersion) against
        its manifest: size first, then sha256. ("OK" | "MISMATCH" | "MISSING", why)."""
        from gitreg import store

        mv = self.resolve(version) if isinstance(version, str) else version
        return store.verify_detail(mv.artifact, self.config.storage_options, progress)


# --- module helpers ------------------------------------------------------------------------


def newest_per_stage(versions: Iterable[V], stages: Iterable[str] | None = None) -> list[V]:
    """The newest of ``versions`` in each stage (each of ``stages``, or every one)."""
    wanted = None if stages is None else set(stages)
    newest: dict[str, V] = {}
    for mv in versions:
        held = newest.get(mv.stage)
        if (wanted is None or mv.stage in wanted) and (held is None or mv.version > held.version):
            newest[mv.stage] = mv
    return sorted(newest.values(), key=lambda mv: mv.version)


def _only_names(node: search.Node | None) -> frozenset[str] | None:
    """The only model names a record matching ``node`` can have, or None if any may."""
    from gitreg.query import search

    if isinstance(node, search.Compare):
        if node.field != search.Field("attr", "name") or node.op not in ("=", "IN"):
            return None
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        return frozenset(v for v in values if isinstance(v, str))
    if node is None:
        return None
    sets = [_only_names(item) for item in node.items]
    if node.op == "AND":
        known = [s for s in sets if s is not None]
        return frozenset.intersection(*known) if known else None
    known = [s for s in sets if s is not None]
    return frozenset().union(*known) if len(known) == len(sets) else None


def _build(path: str, data: dict[str, Any]) -> RegisteredModel | ModelVersion:
    if path.endswith("/model.yaml"):
        return RegisteredModel.from_index(data)
    return ModelVersion.from_index(data)


def _head(path: str, data: dict[str, Any]) -> RegisteredModel | Head:
    if path.endswith("/model.yaml"):
        return RegisteredModel.from_index(data)
    return Head(data["name"], data["version"], data["stage"])


@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while building many small objects (records hold no
    cycles): at 100,000 versions the collector's repeated passes cost half the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _is_name(name: str) -> bool:
    try:
        return bool(check_name(name))
    except UsageError:
        return False


def _as_of(date: str) -> str:
    """``--at`` as git's ``@<epoch>``: a date alone means the end of that day, UTC."""
    return f"@{int(dates.parse(date, end_of_day=True).timestamp())}"


def _version_number(version: int | str) -> int:
    text = str(version).lstrip("v")
    if not text.isdigit() or not text.isascii() or int(text) < 1:
        raise UsageError(f"invalid version {version!r}: versions are whole numbers from 1")
    return int(text)


def dump_record(data: dict[str, Any], kind: str) -> bytes:
    from gitreg.files import yamlio

    return yamlio.dump(data, _SCHEMA_REF[kind]).encode()


def version_files(versions: Iterable[ModelVersion]) -> dict[str, bytes | None]:
    return {version_path(v.name, v.version): dump_record(v.to_dict(), "version") for v in versions}
