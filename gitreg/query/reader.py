"""Reader: every query over a registry's files, read through a Tree (the work tree or one
commit), so each can be asked "as of" any commit. Lists, point reads, ``models:/`` URIs
and searches, answered from the query index (``query.index``) where the repository has
one. The public face over it is ``registry.RegistryView``."""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from gitreg import model_uris
from gitreg.config import Config
from gitreg.errors import ManifestError, NotFound, UsageError
from gitreg.files import schema
from gitreg.files.tree import Tree, WorkTree
from gitreg.layout import (
    CONFIG,
    MODELS,
    VERSION_FILE,
    check_model_name,
    folder_name,
    model_dir,
    model_path,
    parse_path,
    version_number,
    version_path,
    versions_dir,
)
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.query.rows import VersionRow, model_row
from gitreg.query.scan import bulk, only_names, prefiltered
from gitreg.repo import lock
from gitreg.repo.git import Git
from gitreg.repo.tree import CommitTree

if TYPE_CHECKING:
    # imported where used: most reads never touch the parser or YAML
    from gitreg.files import yamlio
    from gitreg.query import index

T = TypeVar("T")


class Head(NamedTuple):
    """A version's number and stage: all ``gitreg list`` shows of it."""

    name: str
    version: int
    stage: str


V = TypeVar("V", ModelVersion, Head)


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding gitreg.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG).is_file():
            return folder
    raise NotFound(f"{start} is not inside a gitreg registry (no {CONFIG}); run 'gitreg init'")


class Reader:
    """Read-only queries over the files of ``tree`` (the work tree of ``root`` unless
    given). ``registry.RegistryView`` adds ``at()``, history and artifacts."""

    def __init__(self, root: str | os.PathLike[str] = ".", *, _tree: Tree | None = None) -> None:
        self.root = find_root(Path(root)) if _tree is None else Path(root)
        if _tree is None:
            lock.settle(self.root)  # a write killed half-way is undone before any read
        self.tree: Tree = _tree or WorkTree(self.root)

    # --- plumbing ---------------------------------------------------------------------

    @cached_property
    def git(self) -> Git:
        # a view of a commit shares its tree's git (and its one cat-file process)
        return self.tree.git if isinstance(self.tree, CommitTree) else Git(self.root)

    @cached_property
    def _index(self) -> index.Index | None:
        from gitreg.query import index  # noqa: PLC0415 (no index is opened until a query needs one)

        return index.open_index(self.root)

    def _indexed(self, rel: str) -> dict[str, Any] | None:
        """A work-tree file's record from the query index (None: read it the slow way)."""
        if not isinstance(self.tree, WorkTree) or self._index is None:
            return None
        return self._index.file(self.root, rel)

    def _doc(self, rel: str) -> yamlio.Document | None:
        """A registry file, loaded with the hardened loader, or None if it is absent."""
        # a read the query index answers never needs YAML
        from gitreg.files import yamlio  # noqa: PLC0415

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

    # --- reads --------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        names = (folder_name(entry) for entry in self.tree.children(MODELS))
        return [n for n in names if n is not None and self.tree.read(model_path(n)) is not None]

    def get_model(self, name: str) -> RegisteredModel:
        data = self._indexed(model_path(check_model_name(name)))
        if data is not None and data["name"] == name:
            return RegisteredModel.from_index(data)
        doc = self._doc(model_path(name))
        if doc is None:
            raise NotFound.model(name, self.model_names())
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
        with bulk():
            return self._catalog(names, versions, _build)

    def catalog_blobs(
        self,
    ) -> tuple[list[tuple[RegisteredModel, list[ModelVersion]]], dict[str, str]]:
        """``catalog()`` of every model, and the git blob id of each file it read (path ->
        id; empty where the repository keeps no query index): what a record is a pure
        function of, so a caller can key its own caches by it."""
        oids: dict[str, str] = {}
        with bulk():
            found: list[tuple[RegisteredModel, list[ModelVersion]]] = self._catalog(
                None, True, _build, oids
            )
        return found, oids

    def stage_heads(self) -> list[tuple[RegisteredModel, list[Head]]]:
        """Each model with its newest version in each stage in use, oldest first: what
        ``gitreg list`` shows, without building every version in full (at 100,000
        versions that would take most of the time and memory)."""
        with bulk():
            fast = self._sql_heads()
            if fast is not None:
                return fast
            found: list[tuple[RegisteredModel, list[Any]]] = self._catalog(None, True, _head)
        return [
            (m, [Head(v.name, v.version, v.stage) for v in newest_per_stage(vs)]) for m, vs in found
        ]

    def _sql_heads(self) -> list[tuple[RegisteredModel, list[Head]]] | None:
        """``stage_heads`` of the work tree from one SQL aggregate over the query index, or
        None where there is none or it cannot vouch for the answer (query.heads)."""
        if not isinstance(self.tree, WorkTree) or self._index is None:
            return None
        from gitreg.query import heads  # noqa: PLC0415 (only gitreg list asks for it)

        found = heads.worktree_heads(self._index, self.root, RegisteredModel.from_index)
        if found is None:
            return None
        return [(m, [Head(m.name, v, s) for v, s in newest]) for m, newest in found]

    def _catalog(
        self,
        names: Iterable[str] | None,
        versions: bool,
        build: index.Build,
        oids: dict[str, str] | None = None,
    ) -> list[Any]:
        """``catalog`` with each record made by ``build``; ``oids`` (if given) gets each
        indexed file's blob id."""
        wanted = None if names is None else sorted({n for n in names if _is_name(n)})
        idx = self._index
        if idx is None:
            return [
                (self.get_model(n), self._scan_versions(n) if versions else [])
                for n in (self.model_names() if wanted is None else wanted)
                if self.tree.read(model_path(n)) is not None
            ]
        if isinstance(self.tree, CommitTree):
            entries = self._ls_tree(wanted, versions)
            records = idx.commit(entries, self.tree.read, build)
            if oids is not None:
                oids.update(entries)
        else:
            folders = None if wanted is None else [model_dir(n)[len(MODELS) + 1 :] for n in wanted]
            records = idx.worktree(self.root, folders, versions, build, oids)
        models: dict[str, RegisteredModel] = {}
        found: dict[str, list[Any]] = {}
        for path, record in records.items():
            where = parse_path(path)
            if where is None:  # a folder no valid name encodes to: not a model's
                continue
            name = where.name
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
        from gitreg.query import index  # noqa: PLC0415 (no index is opened until a query needs one)

        return {
            path: blob
            for path, blob in self.git.blobs(self.tree.sha, spec)
            if (versions or path.endswith("/model.yaml")) and index.in_layout(path)
        }

    def version_numbers(self, name: str) -> list[int]:
        files = self.tree.children(versions_dir(name))
        return sorted(int(f[:-5]) for f in files if VERSION_FILE.fullmatch(f))

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        number = version_number(version)
        rel = version_path(check_model_name(name), number)
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
                raise NotFound.alias(u.name, u.alias, model.aliases)
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

    def search_versions(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> list[ModelVersion]:
        """Versions matching an MLflow filter string (plus stage, metrics, params, aliases)."""
        return [mv for mv, _ in self.search_version_records(filter, order_by, max_results)]

    def search_version_records(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> list[tuple[ModelVersion, tuple[str, ...]]]:
        """What ``search_versions`` finds, with each one's aliases (sorted): what the
        search command prints, in one pass (no second read of every model.yaml)."""
        with bulk():
            return list(self._search_records(filter, order_by, max_results, None))

    def each_version_record(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> Iterator[tuple[ModelVersion, tuple[str, ...]]]:
        """``search_version_records``, given out one at a time where it can be, so that
        printing every version never holds every record."""
        return self._search_records(filter, order_by, max_results, None)

    def search_version_texts(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> Iterator[str]:
        """What ``search --json`` prints of each version ``search_versions`` finds (the
        items of the list), each rendered once per blob and then kept in the query index
        (``query.texts``)."""
        from gitreg.query import texts  # noqa: PLC0415 (only search --json renders kept texts)

        return texts.search_texts(self, filter, list(order_by), max_results)

    def _search_records(
        self,
        filter: str,
        order_by: Iterable[str],
        max_results: int | None,
        oids: dict[str, str] | None,
    ) -> Iterator[tuple[ModelVersion, tuple[str, ...]]]:
        """What ``search_version_records`` finds, streamed where SQL answers (the records
        of 100,000 versions are then never all held at once)."""
        from gitreg.query import search  # noqa: PLC0415 (the filter parser loads only for searches)

        flt = search.parse(filter)
        order = list(order_by)
        names = only_names(flt.node)
        if names is None and isinstance(self.tree, WorkTree) and self._index is not None:
            # the ordered search loads only for searches of every model
            from gitreg.query import ordered  # noqa: PLC0415

            fast = ordered.search_versions(self._index, self.root, flt, order, max_results, oids)
            if fast is not None:
                return fast
        with bulk():
            rows = []
            build = prefiltered(flt)
            for model, versions in self._catalog(names, True, build, oids):
                by_version: dict[int, list[str]] = {}
                for alias, v in sorted(model.aliases.items()):
                    by_version.setdefault(v, []).append(alias)
                # the catalog is by name, oldest first: newest first is the default order
                for vd in versions if order else reversed(versions):
                    mv = vd if isinstance(vd, ModelVersion) else vd.mv
                    if mv is None:
                        continue  # ruled out as it was read
                    row = VersionRow(mv, tuple(by_version.get(vd.version, ())))
                    if flt.matches(row):
                        rows.append(row)
                if not order and max_results is not None and len(rows) >= max_results:
                    break
            ranked = search.sort_records(rows, order) if order else rows
            kept = cast(list[VersionRow], ranked[:max_results])
            return iter([(row.version, row.aliases) for row in kept])

    def search_models(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> list[RegisteredModel]:
        from gitreg.query import search  # noqa: PLC0415 (the filter parser loads only for searches)

        flt = search.parse(filter)
        records = [model_row(m) for m in self.list_models()]
        ordered = search.sort_records([r for r in records if flt.matches(r)], list(order_by))
        return [r["_object"] for r in ordered[:max_results]]


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


def _build(path: str, stored: bytes) -> RegisteredModel | ModelVersion:
    data = marshal.loads(stored)
    if path.endswith("/model.yaml"):
        return RegisteredModel.from_index(data)
    return ModelVersion.from_index(data)


def _head(path: str, stored: bytes) -> RegisteredModel | Head:
    data = marshal.loads(stored)
    if path.endswith("/model.yaml"):
        return RegisteredModel.from_index(data)
    return Head(data["name"], data["version"], data["stage"])


def _is_name(name: str) -> bool:
    try:
        return bool(check_model_name(name))
    except UsageError:
        return False
