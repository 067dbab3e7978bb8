"""Registry: the writes. Each changes a few files and makes exactly one commit of exactly
those paths, with a Gitreg-Op trailer; if anything fails before the commit lands, the
files are put back as HEAD has them."""

from __future__ import annotations

import math
import os
import re
import stat
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitreg import secrets
from gitreg.errors import (
    AlreadyExists,
    ArtifactError,
    Conflict,
    GitError,
    NotFound,
    PolicyError,
    UsageError,
)
from gitreg.files import schema, schema_memo
from gitreg.manifest import ModelVersion, RegisteredModel, check_key, check_name
from gitreg.registry.view import (
    CONFIG,
    MODELS,
    Progress,
    RegistryView,
    dump_record,
    model_dir,
    model_path,
    now,
    version_files,
    version_path,
)
from gitreg.repo import lock, objects

if TYPE_CHECKING:
    from gitreg.promotion.propose import Proposal

_RESERVED_ALIAS = re.compile(r"(latest|[vV][0-9]+)")


class Registry(RegistryView):
    """A registry repository: ``Registry(path)`` reads and writes its work tree."""

    _op_id: str | None = None  # set by gitreg.repo.sync so a replayed write keeps its id

    # --- writes --------------------------------------------------------------------------

    @lock.locked
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
        secrets.refuse(tags=tags, params=params, lineage=lineage, description=description)
        secrets.refuse(artifact=str(artifact))
        cfg = self.config
        try:
            model = self.get_model(name)
        except NotFound:
            model = None
        ref = self._artifact(name, str(artifact), progress)
        ident = self.git.ident()
        if model is None:
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
            created_by=ident,
            description=description,
            tags=tags,
            metrics=metrics,
            params=params,
            lineage=lineage,
        )
        model = model.evolve(last_version=number)
        self._commit(
            f"register {name} v{number}",
            {model_path(name): dump_record(model.to_dict(), "model"), **version_files([mv])},
        )
        return mv

    @lock.locked
    def create_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create registered model ``name`` with no versions (one commit)."""
        self._writable()
        check_name(name)
        tags = _check_strs(tags or {}, "tag")
        _check_strs({"description": description}, "description", limit=65536)
        if self.tree.read(model_path(name)) is not None or (self.root / model_dir(name)).exists():
            raise AlreadyExists(f"a model named {name!r} already exists")
        model = RegisteredModel(
            name=name,
            created_at=now(),
            created_by=self.git.ident(),
            description=description,
            tags=tags,
            last_version=self._max_ever(name),
        )
        self._commit(
            f"create model {name}", {model_path(name): dump_record(model.to_dict(), "model")}
        )
        return model

    @lock.locked
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
                "prepare one with propose_transition() (the CLI's 'gitreg transition' does)"
            )
        if rule.gates:  # gates bind direct commits too, not only pull requests
            from gitreg.promotion import gates
            from gitreg.trail.stays import gate_context

            ctx = gate_context(self, self.git, "HEAD", mv, stage)
            failed = gates.failures(gates.evaluate(rule.gates, mv, ctx))
            if failed:
                raise gates.GatesFailed(name, mv.version, stage, failed)
        changed, message = self.stage_change(mv, stage, archive_existing=archive_existing)
        changed = [v.evolve(updated_at=now()) for v in changed]
        self._commit(message, version_files(changed))
        return changed[0]

    def propose_transition(
        self,
        name: str,
        version: int | str,
        stage: str,
        *,
        ignore_gates: bool = False,
        push: bool = True,
        open_pr: bool = True,
    ) -> Proposal:
        """Prepare a transition as a pull request: a branch from the default branch with the
        change (the work tree and current branch untouched), pushed, and the pull request
        opened where a forge is configured. Raises GatesFailed unless ``ignore_gates``."""
        from gitreg.promotion import propose

        return propose.propose(
            self, name, version, stage, ignore_gates=ignore_gates, push=push, open_pr=open_pr
        )

    def propose_rollback(
        self, name: str, stage: str = "Production", *, push: bool = True, open_pr: bool = True
    ) -> Proposal:
        """``propose_transition`` back to the version that held ``stage`` before."""
        from gitreg.promotion import propose

        version = propose.previous_holder(self, name, stage)
        return propose.propose(self, name, version, stage, push=push, open_pr=open_pr)

    @lock.locked
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
            {model_path(name): dump_record(model.to_dict(), "model")},
        )
        return model

    @lock.locked
    def delete_alias(self, name: str, alias: str) -> RegisteredModel:
        self._writable()
        model = self.get_model(name)
        if alias not in model.aliases:
            raise NotFound(f"{name} has no alias {alias!r}")
        old = model.aliases[alias]
        model = model.evolve(aliases={k: v for k, v in model.aliases.items() if k != alias})
        self._commit(
            f"{name}: delete alias {alias} (was v{old})",
            {model_path(name): dump_record(model.to_dict(), "model")},
        )
        return model

    @lock.locked
    def set_tag(self, name: str, key: str, value: str, version: int | str | None = None) -> None:
        self._writable()
        check_key(key)
        _check_strs({key: value}, "tag")
        secrets.refuse(tags={key: value})
        self._edit(name, version, f"tag {key}={value}", lambda tags: {**tags, key: value})

    @lock.locked
    def delete_tag(self, name: str, key: str, version: int | str | None = None) -> None:
        self._writable()

        def drop(tags: dict[str, str]) -> dict[str, str]:
            if key not in tags:
                where = f"{name} v{version}" if version is not None else name
                raise NotFound(f"{where} has no tag {key!r}")
            return {k: v for k, v in tags.items() if k != key}

        self._edit(name, version, f"delete tag {key}", drop)

    @lock.locked
    def describe(self, name: str, text: str, version: int | str | None = None) -> None:
        self._writable()
        _check_strs({"description": text}, "description", limit=65536)
        secrets.refuse(description=text)
        self._edit(name, version, "edit description", None, description=text)

    @lock.locked
    def rename(self, old: str, new: str) -> RegisteredModel:
        self._writable()
        model = self.get_model(old)
        check_name(new)
        if self.tree.read(model_path(new)) is not None or (self.root / model_dir(new)).exists():
            raise AlreadyExists(f"a model named {new!r} already exists")
        versions = [v.evolve(name=new) for v in self.versions(old)]
        # ``new`` may be a retired name: its numbering continues above what it issued.
        renamed = model.evolve(name=new, last_version=max(model.last_version, self._max_ever(new)))
        files: dict[str, bytes | None] = {p: None for p in self._model_files(old)}
        files[model_path(new)] = dump_record(renamed.to_dict(), "model")
        files.update(version_files(versions))
        files.update(self._retire(model, versions))
        self._commit(f"rename {old} -> {new}", files)
        return renamed

    @lock.locked
    def delete_model(self, name: str) -> None:
        self._writable()
        model = self.get_model(name)
        versions = self.versions(name)
        self._refuse_protected(versions)
        files: dict[str, bytes | None] = dict.fromkeys(self._model_files(name))
        files.update(self._retire(model, versions))
        self._commit(f"delete {name}", files)

    @lock.locked
    def delete_version(self, name: str, version: int | str) -> None:
        self._writable()
        mv = self.get_version(name, version)
        self._refuse_protected([mv])
        model = self.get_model(name)
        aliases = {k: v for k, v in model.aliases.items() if v != mv.version}
        files: dict[str, bytes | None] = {version_path(name, mv.version): None}
        if aliases != model.aliases:
            files[model_path(name)] = dump_record(model.evolve(aliases=aliases).to_dict(), "model")
        self._commit(f"delete {name} v{mv.version}", files)

    @lock.locked
    def write_config(self, text: str, message: str) -> None:
        """Commit a new gitreg.yaml, refused unless it passes the schema (one commit).
        The policy is governed: ``gitreg audit`` reports this commit unless it arrives
        through a pull request."""
        from gitreg.files import yamlio

        self._writable()
        raw = text.encode()
        schema.validate(yamlio.load(raw, CONFIG), "config")
        self._commit(message, {CONFIG: raw})

    # --- write helpers ----------------------------------------------------------------

    def _writable(self) -> None:
        raw = self.tree.read(CONFIG)
        if raw is None or schema_memo.seen(self.root, raw, "config"):
            return
        from gitreg.files import yamlio

        schema.validate(yamlio.load(raw, CONFIG), "config")
        schema_memo.remember(self.root, raw, "config")

    def _artifact(self, name: str, artifact: str, progress: Progress) -> Any:
        from gitreg import store  # here, not at the top: read commands never need it

        cfg = self.config
        store.check_options(cfg.storage_options)
        if "://" in artifact:
            store.check_uri(artifact, cfg.allowed)
            return store.describe(artifact, cfg.storage_options, progress)
        path = Path(artifact)
        if not path.exists() and not path.is_symlink():
            raise ArtifactError(f"no such file or folder: {artifact}")
        store.check_uri(self.store_uri(), cfg.allowed)  # the store itself, before any I/O
        ref = store.upload(path, self.store_uri(), name, cfg.storage_options, progress)
        store.check_uri(ref.uri, cfg.allowed)
        return ref

    def store_uri(self) -> str:
        """``artifacts.store`` as an absolute URI (``file://../x`` is relative to the repo)."""
        uri = self.config.store
        if uri.startswith("file://") and not uri.startswith("file:///"):
            return (self.root / uri[len("file://") :]).resolve().as_uri()
        if "://" not in uri:
            return (self.root / uri).resolve().as_uri()
        return uri

    def _max_ever(self, name: str) -> int:
        """The highest version number a model of this name had when it was last deleted or
        renamed away (0 if never), so re-creating it never reissues a number. Read from
        ``.gitreg/retired.yaml``, which those writes keep: one file read, whatever the
        length of the history."""
        from gitreg.files.check import RETIRED, retired_numbers  # here: it loads the YAML reader

        return retired_numbers(self.tree.read(RETIRED)).get(name, 0)

    def _retire(self, model: RegisteredModel, versions: Iterable[ModelVersion]) -> dict[str, bytes]:
        """``.gitreg/retired.yaml`` with ``model``'s name mapped to the highest number it
        was issued, for the commit that makes the name disappear."""
        from gitreg.files.check import RETIRED, dump_retired, retired_numbers

        retired = retired_numbers(self.tree.read(RETIRED))
        top = max([model.last_version, *(v.version for v in versions)])
        if top <= retired.get(model.name, 0):
            return {}
        return {RETIRED: dump_retired({**retired, model.name: top})}

    def _edit(
        self,
        name: str,
        version: int | str | None,
        what: str,
        tags: Callable[[dict[str, str]], dict[str, str]] | None,
        **changes: Any,
    ) -> None:
        """Change the tags or description of a model, or of one of its versions."""
        changes["updated_at"] = now()
        if version is None:
            model = self.get_model(name)
            if tags:
                changes["tags"] = tags(model.tags)
            self._commit(
                f"{name}: {what}",
                {model_path(name): dump_record(model.evolve(**changes).to_dict(), "model")},
            )
        else:
            mv = self.get_version(name, version)
            if tags:
                changes["tags"] = tags(mv.tags)
            self._commit(f"{name} v{mv.version}: {what}", version_files([mv.evolve(**changes)]))

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
        """Write ``files`` (None deletes) and commit exactly those paths, or change nothing.

        ``git commit -- paths`` costs hundreds of ms in a registry of 100,000 files (it
        rebuilds the whole index), so the commit is made from objects instead: the blobs,
        the trees along the changed paths (objects.TreeEdit), commit-tree, and HEAD moved
        by a compare-and-swap ``update-ref``; ``update-index`` brings just these paths'
        index entries along (with ``core.splitIndex`` it writes only what changed). Other
        staged changes stay staged and stay out of the commit."""
        head = self.git.head()
        if head is None:  # the branch has no commit yet: let git commit make the root
            return self._commit_first(message, files)
        parent, tree = head
        paths = list(files)
        # Both run while the work tree is compared with HEAD here.
        staged = self.git.start("diff-index", "--cached", "--name-only", "-z", parent, "--", *paths)
        settings = self.git.start(
            "config", "-z", "--type=bool", "--get-regexp", r"^(commit\.gpgsign|core\.splitindex)$"
        )
        try:
            edit = objects.TreeEdit(self.git, tree)
            stale = [
                p for p in paths if _on_disk(self.root, p, edit.hexlen) != _blob(edit.entry(p))
            ]
            # Bytes that differ from HEAD may still be clean to git (filters, line endings).
            dirty = self.git.dirty_paths(*stale) if stale else []
            dirty += [p for p in staged.result().split("\0") if p]
            conf = dict(
                item.split("\n", 1) for item in settings.result(check=False).split("\0") if item
            )
        finally:
            staged.cancel()
            settings.cancel()
        if dirty:
            raise Conflict(f"{dirty[0]} has uncommitted changes; commit or discard them first")
        new_tree = edit.plan(
            {
                p: None if b is None else objects.object_id("blob", b, edit.hexlen)
                for p, b in files.items()
            }
        )
        if new_tree == tree:
            return parent  # every file already reads as given: no commit
        if "core.splitindex" not in conf:  # a registry made before gitreg set it
            self.git.run("config", "core.splitIndex", "true")
        with self._journal(files) as op:
            self._write_files(files)
            self.git.update_index(paths)  # also writes the blobs the new trees name
            edit.write()
            sha = objects.commit_tree(
                self.git,
                new_tree or self.git.run("mktree", input=b"").strip(),
                parent,
                f"{message}\n\nGitreg-Op: {op}",
                sign=conf.get("commit.gpgsign") == "true",
            )
            try:
                self.git.move_head(sha, parent, f"commit: {message.partition(chr(10))[0]}")
            except GitError as e:
                raise Conflict(
                    f"HEAD moved while gitreg was committing, so nothing was committed ({e}); "
                    "run the command again"
                ) from None
        return sha

    def _commit_first(self, message: str, files: Mapping[str, bytes | None]) -> str:
        """``_commit`` on a branch with no commit yet, through ``git commit``."""
        dirty = self.git.dirty_paths(*files)
        if dirty:
            raise Conflict(f"{dirty[0]} has uncommitted changes; commit or discard them first")
        with self._journal(files) as op:
            self._write_files(files)
            return self.git.commit(list(files), f"{message}\n\nGitreg-Op: {op}")

    @contextmanager
    def _journal(self, files: Mapping[str, bytes | None]) -> Iterator[str]:
        """The operation id, with ``files`` journaled (gitreg.repo.lock) until the block ends;
        if it fails, the files go back to HEAD's bytes (the journal stays if even that
        fails, for the next command to recover)."""
        op = self._op_id or uuid.uuid4().hex
        lock.begin(self.root, op, list(files))
        try:
            yield op
        except BaseException:
            self.git.restore(files)
            lock.end(self.root)
            raise
        lock.end(self.root)

    def _write_files(self, files: Mapping[str, bytes | None]) -> None:
        for rel, content in files.items():
            target = self.root / rel
            if content is None:
                target.unlink(missing_ok=True)
                _prune_empty(target.parent, self.root / MODELS)
            else:
                _atomic_write(target, content)


def _on_disk(root: Path, rel: str, hexlen: int) -> str | None:
    """The blob id of the regular file at ``rel``; None if nothing is there; "" for
    anything else (a folder, a symbolic link, or a path through one)."""
    folder = root
    for part in rel.split("/")[:-1]:
        folder = folder / part
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return ""
        except FileNotFoundError:
            return None
    try:
        st = os.lstat(root / rel)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return ""
    return objects.object_id("blob", (root / rel).read_bytes(), hexlen)


def _blob(entry: tuple[str, str] | None) -> str | None:
    """The blob id of a tree entry that is a regular file; None if there is no entry."""
    if entry is None:
        return None
    return entry[1] if entry[0] in ("100644", "100755") else "not a regular file"


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
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".gitreg-tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        lock.crash_point("before_replace")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
