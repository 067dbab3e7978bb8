"""Registry: the writes, each a few checked files made into exactly one commit by
``repo.commit.Committer`` (the commit engine), with a ``Gitreg-Op`` trailer. Promotions
that policy sends through a pull request go to ``promotion.propose``."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from gitreg import dates, secrets
from gitreg.errors import AlreadyExists, ArtifactError, Conflict, NotFound, PolicyError, UsageError
from gitreg.files import schema, schema_memo
from gitreg.files.records import dump_record, version_files
from gitreg.files.tree import refuse_irregular
from gitreg.layout import (
    CONFIG,
    MODELS,
    RESERVED_ALIAS,
    RETIRED,
    check_key,
    check_model_name,
    check_name,
    check_new_name,
    folded,
    folder,
    folder_name,
    model_dir,
    model_path,
    version_path,
    versions_dir,
)
from gitreg.manifest import ModelVersion, RegisteredModel
from gitreg.registry.governed import Governed
from gitreg.registry.view import Progress, RegistryView
from gitreg.repo import lock
from gitreg.repo.commit import Committer


class Registry(Governed, RegistryView):
    """A registry repository: ``Registry(path)`` reads and writes its work tree."""

    @cached_property
    def committer(self) -> Committer:
        """Makes each write's one commit (``repo.commit``)."""
        return Committer(self.root, self.git)

    # --- writes --------------------------------------------------------------------------

    @lock.locked
    def register(  # noqa: PLR0913 (the manifest's fields, keyword-only)
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
        check_model_name(name)
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
        if model is None:  # a new folder: a name every checkout can hold, no case twin
            check_new_name(name)
            self._refuse_case_twin(name)
        ref = self._artifact(name, str(artifact), progress)
        ident = self.git.ident()
        if model is None:
            model = RegisteredModel(
                name=name,
                created_at=dates.now(),
                created_by=ident,
                last_version=self._max_ever(name),
            )
        refuse_irregular(self.root, versions_dir(name))  # a FIFO there: refused, not skipped
        number = max([model.last_version, *self.version_numbers(name)]) + 1
        mv = ModelVersion(
            name=name,
            version=number,
            stage=cfg.initial_stage,
            artifact=ref,
            created_at=dates.now(),
            created_by=ident,
            description=description,
            tags=tags,
            metrics=metrics,
            params=params,
            lineage=lineage,
        )
        model = model.evolve(last_version=number)
        self.committer.commit(
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
        check_new_name(name)
        tags = _check_strs(tags or {}, "tag")
        _check_strs({"description": description}, "description", limit=65536)
        if self.tree.read(model_path(name)) is not None or (self.root / model_dir(name)).exists():
            raise AlreadyExists(f"a model named {name!r} already exists")
        self._refuse_case_twin(name)
        model = RegisteredModel(
            name=name,
            created_at=dates.now(),
            created_by=self.git.ident(),
            description=description,
            tags=tags,
            last_version=self._max_ever(name),
        )
        self.committer.commit(
            f"create model {name}", {model_path(name): dump_record(model.to_dict(), "model")}
        )
        return model

    @lock.locked
    def transition(
        self,
        name: str,
        version: int | str,
        stage: str,
        *,
        archive_existing: bool = False,
        message: str = "",
    ) -> ModelVersion:
        """Move a version to ``stage`` by a direct commit, as gitreg.yaml's policy allows;
        ``message`` (a reviewer's note) goes into the commit body."""
        self._writable()
        cfg = self.config
        stage = cfg.canonical_stage(stage)
        mv = self.get_version(name, version)
        if mv.stage == stage:
            raise Conflict(f"{name} v{mv.version} is already in {stage}")
        from gitreg.promotion import gates, plan  # noqa: PLC0415 (only promotions need it)

        rule = plan.rule_for(self, name, stage)
        if rule.via == "pull_request":
            raise PolicyError(
                f"gitreg.yaml sends {stage} through a pull request; "
                "prepare one with propose_transition() (the CLI's 'gitreg transition' does)"
            )
        if rule.gates:  # gates bind direct commits too, not only pull requests
            ctx = plan.gate_context(self, self.git, "HEAD", mv, stage)
            failed = gates.failures(gates.evaluate(rule.gates, mv, ctx))
            if failed:
                raise gates.GatesFailed(name, mv.version, stage, failed)
        changed, subject = plan.stage_change(
            self, mv, stage, archive_existing=archive_existing, note=message
        )
        changed = [v.evolve(updated_at=dates.now()) for v in changed]
        self.committer.commit(subject, version_files(changed))
        return changed[0]

    @lock.locked
    def set_alias(self, name: str, alias: str, version: int | str) -> RegisteredModel:
        self._writable()
        check_name(alias, "alias")
        if RESERVED_ALIAS.fullmatch(alias):
            raise UsageError(f"alias {alias!r} is reserved; 'latest' and v<N> name versions")
        mv = self.get_version(name, version)
        model = self.get_model(name)
        old = model.aliases.get(alias)
        if old == mv.version:
            return model
        self._protected_alias(name, alias, mv.version)
        model = model.evolve(aliases={**model.aliases, alias: mv.version})
        was = f"v{old} -> " if old else ""
        self.committer.commit(
            f"{name}: alias {alias} {was}v{mv.version}",
            {model_path(name): dump_record(model.to_dict(), "model")},
        )
        return model

    @lock.locked
    def delete_alias(self, name: str, alias: str) -> RegisteredModel:
        self._writable()
        model = self.get_model(name)
        if alias not in model.aliases:
            raise NotFound.alias(name, alias, model.aliases)
        self._protected_alias(name, alias, None)
        old = model.aliases[alias]
        model = model.evolve(aliases={k: v for k, v in model.aliases.items() if k != alias})
        self.committer.commit(
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
        check_new_name(new)
        if self.tree.read(model_path(new)) is not None or (self.root / model_dir(new)).exists():
            raise AlreadyExists(f"a model named {new!r} already exists")
        self._refuse_case_twin(new, but=old)
        versions = [v.evolve(name=new) for v in self.versions(old)]
        # ``new`` may be a retired name: its numbering continues above what it issued.
        renamed = model.evolve(
            name=new,
            last_version=max(model.last_version, self._max_ever(new)),
            former_names=(*model.former_names, old),  # overrides keep applying under it
        )
        files: dict[str, bytes | None] = {p: None for p in self._model_files(old)}
        files[model_path(new)] = dump_record(renamed.to_dict(), "model")
        files.update(version_files(versions))
        files.update(self._retire(model, versions))
        self.committer.commit(f"rename {old} -> {new}", files)
        return renamed

    @lock.locked
    def delete_model(self, name: str) -> None:
        self._writable()
        model = self.get_model(name)
        versions = self.versions(name)
        self._refuse_protected(versions)
        files: dict[str, bytes | None] = dict.fromkeys(self._model_files(name))
        files.update(self._retire(model, versions))
        self.committer.commit(f"delete {name}", files)

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
        self.committer.commit(f"delete {name} v{mv.version}", files)

    @lock.locked
    def write_config(self, text: str, message: str) -> None:
        """Commit a new gitreg.yaml, refused unless it passes the schema (one commit).
        The policy is governed: ``gitreg audit`` reports this commit unless it arrives
        through a pull request."""
        from gitreg.files import yamlio  # noqa: PLC0415 (only policy writes parse it here)

        self._writable()
        raw = text.encode()
        schema.validate(yamlio.load(raw, CONFIG), "config")
        self.committer.commit(message, {CONFIG: raw})

    # --- write helpers ----------------------------------------------------------------

    @lock.locked
    def _commit_files(self, message: str, files: dict[str, bytes | None]) -> str:
        return self.committer.commit(message, files)

    def _protected_alias(self, name: str, alias: str, version: int | None) -> None:
        """Refuse a direct move of an alias policy sends through a pull request; judge
        the gates of one it lets move by commit."""
        from gitreg.promotion import aliases, gates  # noqa: PLC0415 (only promotions need it)

        rule = aliases.rule_for(self, name, alias)
        if rule is None:
            return
        if rule.via == "pull_request":
            raise PolicyError(
                f"gitreg.yaml protects @{alias}: it moves through a pull request; "
                "prepare one with propose_alias() (the CLI's 'gitreg alias' does)"
            )
        if version is not None:
            failed = gates.failures(aliases.judge(self, "HEAD", name, alias, version))
            if failed:
                raise gates.GatesFailed(name, version, "@" + alias, failed)

    def _refuse_case_twin(self, name: str, but: str | None = None) -> None:
        """Refuse a folder differing only in case from one that exists (macOS, Windows)."""
        mine = folded(folder(name))  # folders: what the disk holds
        for entry in self.tree.children(MODELS):
            if folded(entry) == mine and entry not in (folder(name), folder(but or name)):
                raise AlreadyExists(
                    f"a model named {folder_name(entry) or entry!r} already exists, and "
                    f"{name!r} differs from it only in case: on macOS and Windows both would "
                    "share one folder; pick another name"
                )

    def _writable(self) -> None:
        raw = self.tree.read(CONFIG)
        if raw is None or schema_memo.seen(self.root, raw, "config"):
            return
        # a read the query index answers never needs YAML
        from gitreg.files import yamlio  # noqa: PLC0415

        schema.validate(yamlio.load(raw, CONFIG), "config")
        schema_memo.remember(self.root, raw, "config")

    def _artifact(self, name: str, artifact: str, progress: Progress) -> Any:
        from gitreg import store  # noqa: PLC0415 (fsspec loads only when bytes move)

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
        # loads the YAML reader and jsonschema
        from gitreg.files.check import retired_numbers  # noqa: PLC0415

        return retired_numbers(self.tree.read(RETIRED)).get(name, 0)

    def _retire(self, model: RegisteredModel, versions: Iterable[ModelVersion]) -> dict[str, bytes]:
        """``.gitreg/retired.yaml`` with ``model``'s name mapped to the highest number it
        was issued, for the commit that makes the name disappear."""
        # loads the YAML reader and jsonschema
        from gitreg.files.check import dump_retired, retired_numbers  # noqa: PLC0415

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
        changes["updated_at"] = dates.now()
        if version is None:
            model = self.get_model(name)
            if tags:
                changes["tags"] = tags(model.tags)
            self.committer.commit(
                f"{name}: {what}",
                {model_path(name): dump_record(model.evolve(**changes).to_dict(), "model")},
            )
        else:
            mv = self.get_version(name, version)
            if tags:
                changes["tags"] = tags(mv.tags)
            message = f"{name} v{mv.version}: {what}"
            self.committer.commit(message, version_files([mv.evolve(**changes)]))

    def _refuse_protected(self, versions: Iterable[ModelVersion]) -> None:
        for mv in versions:
            rule = self.config.rule(mv.name, mv.stage, self.get_model(mv.name).former_names)
            if mv.stage == "Production" or rule.via == "pull_request":
                raise PolicyError(
                    f"{mv.name} v{mv.version} is in {mv.stage} and cannot be deleted; "
                    "transition it out first"
                )

    def _model_files(self, name: str) -> list[str]:
        out = []
        for here, _dirs, files in os.walk(self.root / model_dir(name)):
            rel = Path(here).relative_to(self.root).as_posix()
            out += [f"{rel}/{f}" for f in files]
        return sorted(out)


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
