"""Registry: the public API over one registry repository.

Reads go through a Tree (the work tree, or any commit), so every query can be asked "as
of" a ref or a date. Every write changes a few files and makes exactly one commit of
exactly those paths; if anything fails before the commit lands, the files are put back.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from gitreg import schema, search, store, uris, yamlio
from gitreg.errors import (
    AlreadyExists,
    ArtifactError,
    Conflict,
    ManifestError,
    NotFound,
    PolicyError,
    UsageError,
)
from gitreg.git import Git
from gitreg.manifest import ModelVersion, RegisteredModel, check_key, check_name
from gitreg.policy import Config
from gitreg.tree import CommitTree, Tree, WorkTree

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


def model_dir(name: str) -> str:
    return f"{MODELS}/{name}"


def model_path(name: str) -> str:
    return f"{MODELS}/{name}/model.yaml"


def version_path(name: str, version: int) -> str:
    return f"{MODELS}/{name}/versions/{version}.yaml"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding gitreg.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG).is_file():
            return folder
    raise NotFound(f"{start} is not inside a gitreg registry (no {CONFIG}); run 'gitreg init'")


class Registry:
    """A registry repository. ``Registry(path)`` reads and writes its work tree;
    ``registry.at(ref=...)`` or ``registry.at(date=...)`` is a read-only view of the past."""

    def __init__(self, root: str | os.PathLike[str] = ".", *, _tree: Tree | None = None) -> None:
        self.root = find_root(Path(root)) if _tree is None else Path(root)
        self.tree: Tree = _tree or WorkTree(self.root)
        self.read_only = _tree is not None

    # --- plumbing ---------------------------------------------------------------------

    @cached_property
    def git(self) -> Git:
        return Git(self.root)

    def _doc(self, rel: str) -> yamlio.Document | None:
        """A registry file, loaded with the hardened loader, or None if it is absent."""
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

    def at(self, ref: str | None = None, date: str | None = None) -> Registry:
        """A read-only view of the registry as commit ``ref`` (or the newest commit on or
        before ``date``, a date alone meaning the end of that day, UTC) had it."""
        branch = ref or "HEAD"
        sha = self.git.commit_before(_as_of(date), branch) if date else None
        sha = sha or self.git.rev_parse(branch)
        return Registry(self.root, _tree=CommitTree(self.git, sha))

    # --- reads --------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        return [n for n in self.tree.children(MODELS) if self.tree.read(model_path(n)) is not None]

    def get_model(self, name: str) -> RegisteredModel:
        doc = self._doc(model_path(check_name(name)))
        if doc is None:
            raise NotFound(f"no registered model named {name!r}")
        model = self._record(doc, "model", RegisteredModel.from_dict)
        if model.name != name:
            raise ManifestError(model_path(name), doc.line(["name"]), "name does not match folder")
        return model

    def list_models(self) -> list[RegisteredModel]:
        return [self.get_model(n) for n in self.model_names()]

    def version_numbers(self, name: str) -> list[int]:
        files = self.tree.children(f"{model_dir(name)}/versions")
        return sorted(int(f[:-5]) for f in files if _VERSION_FILE.fullmatch(f))

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        number = _version_number(version)
        rel = version_path(check_name(name), number)
        doc = self._doc(rel)
        if doc is None:
            self.get_model(name)  # "no such model" beats "no such version"
            raise NotFound(f"{name} has no version {number}")
        mv = self._record(doc, "version", ModelVersion.from_dict)
        if (mv.name, mv.version) != (name, number):
            raise ManifestError(rel, doc.line(["version"]), "name/version do not match the path")
        return mv

    def versions(self, name: str) -> list[ModelVersion]:
        return [self.get_version(name, n) for n in self.version_numbers(name)]

    def latest_versions(self, name: str, stages: Iterable[str] | None = None) -> list[ModelVersion]:
        """The newest version in each stage (each of ``stages``, or every stage in use)."""
        wanted = [self.config.canonical_stage(s) for s in stages] if stages else None
        newest: dict[str, ModelVersion] = {}
        for mv in self.versions(name):
            if wanted is None or mv.stage in wanted:
                newest[mv.stage] = mv
        return sorted(newest.values(), key=lambda mv: mv.version)

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names."""
        u = uris.parse(uri)
        if u.version is not None:
            return self.get_version(u.name, u.version)
        if u.alias is not None:
            model = self.get_model(u.name)
            if u.alias not in model.aliases:
                raise NotFound(f"{u.name} has no alias {u.alias!r}")
            return self.get_version(u.name, model.aliases[u.alias])
        numbers = self.version_numbers(self.get_model(u.name).name)
        if u.latest:
            if not numbers:
                raise NotFound(f"{u.name} has no versions")
            return self.get_version(u.name, numbers[-1])
        stage = self.config.canonical_stage(u.stage or "")
        for n in reversed(numbers):
            mv = self.get_version(u.name, n)
            if mv.stage == stage:
                return mv
        raise NotFound(f"{u.name} has no version in stage {stage}")

    def search_versions(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> list[ModelVersion]:
        """Versions matching an MLflow filter string (plus stage, metrics, params, aliases)."""
        flt = search.parse(filter)
        records = []
        for model in self.list_models():
            by_version: dict[int, list[str]] = {}
            for alias, v in model.aliases.items():
                by_version.setdefault(v, []).append(alias)
            for mv in self.versions(model.name):
                rec = version_record(mv, sorted(by_version.get(mv.version, [])))
                if flt.matches(rec):
                    records.append(rec)
        ordered = search.sort_records(records, list(order_by))
        return [r["_object"] for r in ordered[:max_results]]

    def search_models(
        self, filter: str = "", order_by: Iterable[str] = (), max_results: int | None = None
    ) -> list[RegisteredModel]:
        flt = search.parse(filter)
        records = [model_record(m) for m in self.list_models()]
        ordered = search.sort_records([r for r in records if flt.matches(r)], list(order_by))
        return [r["_object"] for r in ordered[:max_results]]

    def check(self) -> list[ManifestError]:
        """Every problem in every registry file, as ``path:line: message`` errors."""
        from gitreg.check import check_tree

        return check_tree(self.tree)

    def download(self, uri: str, dest: Path, progress: Progress = None) -> ModelVersion:
        mv = self.resolve(uri)
        store.download(mv.artifact, dest, self.config.storage_options, progress)
        return mv

    # --- writes --------------------------------------------------------------------------

    def register(
        self,
        name: str,
        artifact: str | os.PathLike[str],
        *,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        lineage: Mapping[str, str] | None = None,
        progress: Progress = None,
    ) -> ModelVersion:
        """Register a new version of ``name`` (creating the model on first use).

        ``artifact`` is a local file or folder (copied into the configured store under a
        content-addressed key) or an fsspec URI (referenced in place). Its digest and size
        are computed by streaming and recorded in the manifest."""
        self._writable()
        check_name(name)
        metrics = _check_metrics(metrics or {})
        params = _check_strs(params or {}, "param")
        tags = _check_strs(tags or {}, "tag")
        lineage = {k: v for k, v in _check_strs(lineage or {}, "lineage key").items() if v}
        cfg = self.config
        try:
            model = self.get_model(name)
        except NotFound:
            model = None
        ref = self._artifact(name, str(artifact), progress)
        if model is None:
            ident = self.git.ident()
            model = RegisteredModel(
                name=name, created_at=now(), created_by=ident, last_version=self._max_ever(name)
            )
        number = max([model.last_version, *self.version_numbers(name)]) + 1
        mv = ModelVersion(
            name=name,
            version=number,
            stage=cfg.initial_stage,
            artifact=ref,
            created_at=now(),
            created_by=self.git.ident(),
            description=description,
            tags=tags,
            metrics=metrics,
            params=params,
            lineage=lineage,
        )
        model = model.evolve(last_version=number)
        self._commit(
            f"register {name} v{number}",
            {model_path(name): _dump(model.to_dict(), "model"), **_files([mv])},
        )
        return mv

    def transition(
        self, name: str, version: int | str, stage: str, *, archive_existing: bool = False
    ) -> ModelVersion:
        """Move a version to ``stage`` by a direct commit, as gitreg.yaml's policy allows."""
        self._writable()
        cfg = self.config
        stage = cfg.canonical_stage(stage)
        mv = self.get_version(name, version)
        if mv.stage == stage:
            raise Conflict(f"{name} v{mv.version} is already in {stage}")
        rule = cfg.rule(name, stage)
        if rule.via == "pull_request":
            raise PolicyError(
                f"gitreg.yaml sends {stage} through a pull request; "
                f"open one with 'gitreg transition {name} {mv.version} {stage} --pr'"
            )
        if rule.from_stages is not None and mv.stage not in rule.from_stages:
            allowed = ", ".join(rule.from_stages)
            raise PolicyError(
                f"{name} v{mv.version} is in {mv.stage}; gitreg.yaml allows {stage} "
                f"only from {allowed}"
            )
        changed = [mv.evolve(stage=stage)]
        lines = []
        if rule.exclusive or archive_existing:
            archive = cfg.archive_stage
            holders = [v for v in self.versions(name) if v.stage == stage]
            if holders and archive is None:
                raise PolicyError(f"cannot archive {stage} versions: no Archived stage")
            for other in holders:
                changed.append(other.evolve(stage=archive))
                lines.append(f"{name} v{other.version}: {stage} -> {archive}")
        message = f"{name} v{mv.version}: {mv.stage} -> {stage}"
        if lines:
            message += "\n\n" + "\n".join(lines)
        self._commit(message, _files(changed))
        return changed[0]

    def set_alias(self, name: str, alias: str, version: int | str) -> RegisteredModel:
        self._writable()
        check_name(alias, "alias")
        if _RESERVED_ALIAS.fullmatch(alias):
            raise UsageError(f"alias {alias!r} is reserved; 'latest' and v<N> name versions")
        mv = self.get_version(name, version)
        model = self.get_model(name)
        old = model.aliases.get(alias)
        if old == mv.version:
            return model
        model = model.evolve(aliases={**model.aliases, alias: mv.version})
        was = f"v{old} -> " if old else ""
        self._commit(
            f"{name}: alias {alias} {was}v{mv.version}",
            {model_path(name): _dump(model.to_dict(), "model")},
        )
        return model

    def delete_alias(self, name: str, alias: str) -> RegisteredModel:
        self._writable()
        model = self.get_model(name)
        if alias not in model.aliases:
            raise NotFound(f"{name} has no alias {alias!r}")
        old = model.aliases[alias]
        model = model.evolve(aliases={k: v for k, v in model.aliases.items() if k != alias})
        self._commit(
            f"{name}: delete alias {alias} (was v{old})",
            {model_path(name): _dump(model.to_dict(), "model")},
        )
        return model

    def set_tag(self, name: str, key: str, value: str, version: int | str | None = None) -> None:
        self._writable()
        check_key(key)
        _check_strs({key: value}, "tag")
        self._edit(name, version, f"tag {key}={value}", lambda tags: {**tags, key: value})

    def delete_tag(self, name: str, key: str, version: int | str | None = None) -> None:
        self._writable()

        def drop(tags: dict[str, str]) -> dict[str, str]:
            if key not in tags:
                where = f"{name} v{version}" if version is not None else name
                raise NotFound(f"{where} has no tag {key!r}")
            return {k: v for k, v in tags.items() if k != key}

        self._edit(name, version, f"delete tag {key}", drop)

    def describe(self, name: str, text: str, version: int | str | None = None) -> None:
        self._writable()
        _check_strs({"description": text}, "description", limit=65536)
        self._edit(name, version, "edit description", None, description=text)

    def rename(self, old: str, new: str) -> RegisteredModel:
        self._writable()
        model = self.get_model(old)
        check_name(new)
        if self.tree.read(model_path(new)) is not None or (self.root / model_dir(new)).exists():
            raise AlreadyExists(f"a model named {new!r} already exists")
        versions = [v.evolve(name=new) for v in self.versions(old)]
        renamed = model.evolve(name=new)
        files: dict[str, bytes | None] = {p: None for p in self._model_files(old)}
        files[model_path(new)] = _dump(renamed.to_dict(), "model")
        files.update(_files(versions))
        self._commit(f"rename {old} -> {new}", files)
        return renamed

    def delete_model(self, name: str) -> None:
        self._writable()
        self.get_model(name)
        self._refuse_protected(self.versions(name))
        self._commit(f"delete {name}", dict.fromkeys(self._model_files(name)))

    def delete_version(self, name: str, version: int | str) -> None:
        self._writable()
        mv = self.get_version(name, version)
        self._refuse_protected([mv])
        model = self.get_model(name)
        aliases = {k: v for k, v in model.aliases.items() if v != mv.version}
        files: dict[str, bytes | None] = {version_path(name, mv.version): None}
        if aliases != model.aliases:
            files[model_path(name)] = _dump(model.evolve(aliases=aliases).to_dict(), "model")
        self._commit(f"delete {name} v{mv.version}", files)

    # --- write helpers ----------------------------------------------------------------

    def _writable(self) -> None:
        if self.read_only:
            raise UsageError(f"the registry as of {self.tree.label} is read-only")
        doc = self._doc(CONFIG)
        if doc is not None:
            schema.validate(doc, "config")

    def _artifact(self, name: str, artifact: str, progress: Progress) -> Any:
        cfg = self.config
        if "://" in artifact:
            store.check_uri(artifact, cfg.allowed)
            return store.describe(artifact, cfg.storage_options, progress)
        path = Path(artifact)
        if not path.exists() and not path.is_symlink():
            raise ArtifactError(f"no such file or folder: {artifact}")
        return store.upload(path, self.store_uri(), name, cfg.storage_options, progress)

    def store_uri(self) -> str:
        """``artifacts.store`` as an absolute URI (``file://../x`` is relative to the repo)."""
        uri = self.config.store
        if uri.startswith("file://") and not uri.startswith("file:///"):
            return (self.root / uri[len("file://") :]).resolve().as_uri()
        if "://" not in uri:
            return (self.root / uri).resolve().as_uri()
        return uri

    def _max_ever(self, name: str) -> int:
        """The highest version number a model of this name ever had (it may have been
        deleted), so re-creating it never reissues a number."""
        out = self.git.run(
            "log",
            "--all",
            "--format=",
            "--name-only",
            "--",
            f"{model_dir(name)}/versions/",
            check=False,
        )
        found = [int(m) for m in re.findall(r"/versions/([1-9][0-9]*)\.yaml$", out, re.M)]
        return max(found, default=0)

    def _edit(
        self,
        name: str,
        version: int | str | None,
        what: str,
        tags: Callable[[dict[str, str]], dict[str, str]] | None,
        **changes: Any,
    ) -> None:
        """Change the tags or description of a model, or of one of its versions."""
        if version is None:
            model = self.get_model(name)
            if tags:
                changes["tags"] = tags(model.tags)
            self._commit(
                f"{name}: {what}",
                {model_path(name): _dump(model.evolve(**changes).to_dict(), "model")},
            )
        else:
            mv = self.get_version(name, version)
            if tags:
                changes["tags"] = tags(mv.tags)
            self._commit(f"{name} v{mv.version}: {what}", _files([mv.evolve(**changes)]))

    def _refuse_protected(self, versions: Iterable[ModelVersion]) -> None:
        for mv in versions:
            rule = self.config.rule(mv.name, mv.stage)
            if mv.stage == "Production" or rule.via == "pull_request":
                raise PolicyError(
                    f"{mv.name} v{mv.version} is in {mv.stage} and cannot be deleted; "
                    "transition it out first"
                )

    def _model_files(self, name: str) -> list[str]:
        out = []
        for folder, _dirs, files in os.walk(self.root / model_dir(name)):
            rel = Path(folder).relative_to(self.root).as_posix()
            out += [f"{rel}/{f}" for f in files]
        return sorted(out)

    def _commit(self, message: str, files: Mapping[str, bytes | None]) -> str:
        """Write ``files`` (None deletes) and commit exactly those paths, or change nothing."""
        dirty = self.git.dirty_paths(*files)
        if dirty:
            raise Conflict(f"{dirty[0]} has uncommitted changes; commit or discard them first")
        try:
            for rel, content in files.items():
                target = self.root / rel
                if content is None:
                    target.unlink(missing_ok=True)
                    _prune_empty(target.parent, self.root / MODELS)
                else:
                    _atomic_write(target, content)
            return self.git.commit(list(files), f"{message}\n\nGitreg-Op: {uuid.uuid4().hex}")
        except BaseException:
            self.git.restore(files)
            raise


# --- module helpers ------------------------------------------------------------------------


def version_record(mv: ModelVersion, aliases: list[str]) -> dict[str, Any]:
    """A version as the search module sees it (MLflow's field names)."""
    ts = _millis(mv.created_at)
    return {
        "name": mv.name,
        "version_number": mv.version,
        "stage": mv.stage,
        "run_id": mv.lineage.get("run_id"),
        "source_path": mv.artifact.uri,
        "description": mv.description,
        "creation_timestamp": ts,
        "last_updated_timestamp": ts,
        "tags": mv.tags,
        "metrics": mv.metrics,
        "params": mv.params,
        "aliases": aliases,
        "_object": mv,
    }


def model_record(model: RegisteredModel) -> dict[str, Any]:
    ts = _millis(model.created_at)
    return {
        "name": model.name,
        "description": model.description,
        "creation_timestamp": ts,
        "last_updated_timestamp": ts,
        "tags": model.tags,
        "aliases": sorted(model.aliases),
        "_object": model,
    }


def _millis(ts: str) -> int:
    return int(
        datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
        * 1000
    )


def _as_of(date: str) -> str:
    """``--at`` as git's ``@<epoch>``: a date alone means the end of that day, UTC; a time
    without a zone is UTC. Parsed here so a typo is an error, not git's best guess."""
    text = date.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T23:59:59"
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise UsageError(f"invalid date {date!r}: use YYYY-MM-DD or an RFC 3339 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return f"@{int(when.timestamp())}"


def _version_number(version: int | str) -> int:
    text = str(version).lstrip("v")
    if not text.isdigit() or not text.isascii() or int(text) < 1:
        raise UsageError(f"invalid version {version!r}: versions are whole numbers from 1")
    return int(text)


def _dump(data: dict[str, Any], kind: str) -> bytes:
    return yamlio.dump(data, _SCHEMA_REF[kind]).encode()


def _files(versions: Iterable[ModelVersion]) -> dict[str, bytes | None]:
    return {version_path(v.name, v.version): _dump(v.to_dict(), "version") for v in versions}


def _check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in metrics.items():
        check_key(k, "metric name")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise UsageError(f"metric {k} must be a finite number, got {v!r}")
        out[k] = v
    return out


def _check_strs(values: Mapping[str, Any], what: str, limit: int = 6000) -> dict[str, str]:
    for k, v in values.items():
        check_key(k, what)
        if not isinstance(v, str):
            raise UsageError(f"{what} {k} must be a string, got {v!r}")
        if len(v) > limit:
            raise UsageError(f"{what} {k} is longer than {limit} characters")
    return dict(values)


def _atomic_write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gitreg-tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
