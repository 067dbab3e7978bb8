"""``gitreg check --base REF``: what CI runs on a pull request. It judges the whole diff
base...head (from their merge base to head, as GitHub shows it) with the policy read from
the BASE commit, so a pull request cannot weaken the rules it is judged by.

It fails on: schema problems in the files the diff touched; a changed immutable field
(named); a new version not numbered above every number ever issued; anything but a regular
file under ``models/`` (symlink, submodule, executable); a transition the base policy does
not allow or whose gates fail; two holders of an exclusive stage; deleting a protected
version; and a change to ``gitreg.yaml``, ``.github/`` or a CODEOWNERS file together with a
move into a ``via: pull_request`` stage (policy changes are reviewed on their own).

Its cost follows the diff, not the registry: it reads ``gitreg.yaml`` (base and head), the
files the diff touched, and, for each model the diff touched, that model's folder (its
agreements, its exclusive stages, the current holder for ``not_worse_than_current``) and
that model's history only (a pathspec-limited ``git log`` for numbering, and for the stays
of a version whose gates ask for them). A file the diff did not touch is not read, even if
it is broken: it was checked when it landed, and a pull request is not answerable for it
(``gitreg check`` without ``--base`` validates the whole tree).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from gitreg.config import Config
from gitreg.errors import ManifestError, NotFound
from gitreg.files import schema, yamlio
from gitreg.files.check import check_changed, retired_numbers
from gitreg.layout import (
    CONFIG,
    MODELS,
    RETIRED,
    VERSION_FILE,
    model_path,
    parse_path,
    version_path,
    versions_dir,
)
from gitreg.manifest import ModelVersion
from gitreg.promotion import approvals, gates, protected
from gitreg.promotion.plan import gate_context, needs_history
from gitreg.promotion.report import Finding, Report, Transition, doc_at
from gitreg.promotion.review_aliases import alias_moves
from gitreg.query.reader import Reader
from gitreg.repo.git import Git
from gitreg.repo.log import diff, read_log
from gitreg.repo.tree import CommitTree

_IMMUTABLE_TOP = ("name", "version", "created_at", "created_by")
_IMMUTABLE_MAPS = ("params", "lineage")
_MUTABLE = ("stage", "description", "tags")
_MODES = {"120000": "a symbolic link", "160000": "a submodule", "100755": "an executable file"}


def protects_policy(path: str) -> bool:
    """Files that define the rules or who reviews them: the ones ``audit`` protects."""
    return path == CONFIG or protected.is_rule_file(path)


def check_diff(  # noqa: PLR0913 (the change, and where its pull request is)
    git: Git,
    base: str,
    head: str = "HEAD",
    *,
    verify: bool = True,
    pull_request: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Report:
    """Judge the change base...head. ``verify``: check artifacts' bytes for ``artifact`` gates;
    ``pull_request`` (else the CI environment's): where rules' approvals are counted."""
    base_sha, head_sha = git.rev_parse(base), git.rev_parse(head)
    mb = git.merge_base(base_sha, head_sha)
    if not mb:
        raise NotFound(f"{base} and {head} have no common history")
    report = Report(base_sha, head_sha, mb)
    base_view = Reader(git.root, _tree=CommitTree(git, base_sha))
    cfg = _base_policy(git, base_sha, report)
    if cfg is None:
        return report
    entries = [(c.old_mode, c.new_mode, path) for path, c in diff(git, mb, head_sha).items()]
    report.changed = [path for _, _, path in entries]
    report.findings += [
        Finding(e.path, e.line, "schema", e.message)
        for e in check_changed(CommitTree(git, head_sha), report.changed)
    ]
    policy_touched = [p for p in report.changed if protects_policy(p)]
    for _old_mode, new_mode, path in entries:
        if _registry_owned(path) and new_mode in {"120000", "160000"}:
            # ``models`` itself, or gitreg.yaml, as a link: after the merge every read fails
            report.findings.append(
                Finding(
                    path,
                    None,
                    "file",
                    f"{_MODES[new_mode]}; gitreg reads {path}, so it must be a regular file "
                    "or folder",
                )
            )
            continue
        if not path.startswith(f"{MODELS}/"):
            continue
        if new_mode not in {"000000", "100644"}:
            what = _MODES.get(new_mode, f"mode {new_mode}")
            report.findings.append(
                Finding(path, None, "file", f"{what}; only regular files may be under models/")
            )
            continue
        where = parse_path(path)
        if where is not None and where.version is not None:
            _version_change(git, cfg, base_view, report, path, mb, head_sha, verify)
        elif where is not None:
            _model_change(git, report, path, mb, head_sha)
            alias_moves(git, cfg, base_view, report, path, mb, head_sha, verify)
        elif path != "models/.gitkeep":
            report.findings.append(Finding(path, None, "file", "unexpected file under models/"))
    for t in report.transitions:
        if policy_touched and cfg.rule(t.name, t.to_stage).via == "pull_request":
            report.findings.append(
                Finding(
                    t.path,
                    None,
                    "policy",
                    f"this change edits {', '.join(policy_touched)} and also moves {t.name} "
                    f"v{t.version} into {t.to_stage}; change the policy in its own pull request",
                )
            )
    needs = [
        approvals.Need(t.path, f"{t.name} v{t.version} -> {t.to_stage}", rule.approvals)
        for t in report.transitions
        if (rule := cfg.rule(t.name, t.to_stage)).approvals is not None
    ]
    for path, problem in approvals.judge(
        git, cfg, needs, head_sha, pull_request=pull_request, env=env
    ):
        report.findings.append(Finding(path, None, "approvals", problem))
    report.findings.sort(key=lambda f: (f.path, f.line or 0, f.rule))
    return report


def _registry_owned(path: str) -> bool:
    """A path gitreg reads outside ``models/`` (judged file by file below): the ``models``
    folder itself, ``gitreg.yaml``, ``.gitreg/``."""
    return path in (MODELS, CONFIG, ".gitreg") or path.startswith(".gitreg/")


def _base_policy(git: Git, base: str, report: Report) -> Config | None:
    raw = git.show(base, CONFIG)
    if raw is None:
        return Config()
    try:
        doc = yamlio.load(raw, CONFIG)
        schema.validate(doc, "config")
        return Config.from_dict(doc.data)
    except (ManifestError, ValueError) as e:
        report.findings.append(Finding(CONFIG, None, "policy", f"the base policy is invalid: {e}"))
        return None


def judged(base: dict[str, Any] | None, head: dict[str, Any]) -> dict[str, Any]:
    """The manifest the gates judge: the head's mutable fields (stage, description, tags)
    over the base's immutable ones, so a change cannot write the facts it is judged on (a
    metric added in the change that promotes never counts toward a gate in it)."""
    if base is None:
        return head
    return {**base, **{k: head[k] for k in _MUTABLE if k in head}}


def _immutable(report: Report, path: str, old: dict[str, Any], new: yamlio.Document) -> None:
    data = new.data
    changed: list[tuple[str, list[str | int]]] = []
    for key in _IMMUTABLE_TOP:
        if old.get(key) != data.get(key):
            changed.append((key, [key]))
    old_art, new_art = old.get("artifact") or {}, data.get("artifact") or {}
    for key in sorted(set(old_art) | set(new_art)):
        if old_art.get(key) != new_art.get(key):
            changed.append((f"artifact.{key}", ["artifact", key]))
    for group in _IMMUTABLE_MAPS:
        before, after = old.get(group) or {}, data.get(group) or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changed.append((f"{group}.{key}", [group, key]))
    before, after = old.get("metrics") or {}, data.get("metrics") or {}
    for key in sorted(before):  # new metric keys may be added
        if before.get(key) != after.get(key):
            changed.append((f"metrics.{key}", ["metrics", key]))
    for name, pointer in changed:
        report.findings.append(
            Finding(
                path,
                new.line(pointer),
                "immutable",
                f"{name} is immutable once merged and was changed",
            )
        )


def _version_change(  # noqa: PLR0913 (one version's review state)
    git: Git,
    cfg: Config,
    base_view: Reader,
    report: Report,
    path: str,
    mb: str,
    head: str,
    verify: bool,
) -> None:
    where = parse_path(path)
    assert where is not None and where.version is not None
    name, number = where.name, where.version
    old, new = doc_at(git, mb, path), doc_at(git, head, path)
    if new is None:
        if old is not None:
            stage = str(old.data.get("stage"))
            if _carried(git, report, head, name, number):
                return  # renamed in this change: judged under its new name
            if stage == "Production" or cfg.rule(name, stage).via == "pull_request":
                report.findings.append(
                    Finding(
                        path,
                        None,
                        "delete",
                        f"{name} v{number} is in {stage} and cannot be deleted",
                    )
                )
        return
    former = _former_names(git, (report.base, head), name)
    if old is None:
        old = _renamed_from(git, mb, head, former, number, name)
    if old is not None:
        _immutable(report, path, old.data, new)
        old_stage = old.data.get("stage")
    else:
        _numbering(git, report, base_view, name, number, path)
        old_stage = cfg.initial_stage
    new_stage = new.data.get("stage")
    if new_stage == old_stage or not isinstance(new_stage, str):
        return
    line = new.line(["stage"])
    if new_stage not in cfg.stages:
        report.findings.append(
            Finding(
                path,
                line,
                "transition",
                f"stage {new_stage!r} is not one of {', '.join(cfg.stages)} (base policy)",
            )
        )
        return
    try:
        mv = ModelVersion.from_dict(judged(old.data if old else None, new.data))
    except (ValueError, KeyError, TypeError):
        return  # the schema check reports it
    rule = cfg.rule(name, new_stage, former)
    history = needs_history(rule.gates, rule.from_stages, old_stage)
    ctx = gate_context(base_view, git, report.base, mv, new_stage, verify=verify, history=history)
    if rule.from_stages is not None and old_stage not in rule.from_stages and not ctx.rollback:
        report.findings.append(
            Finding(
                path,
                line,
                "transition",
                f"{name} v{number}: {old_stage} -> {new_stage} is not allowed; the base policy "
                f"allows {new_stage} only from {', '.join(rule.from_stages)}",
            )
        )
    results = tuple(gates.evaluate(rule.gates, mv, ctx))
    for r in gates.failures(results):
        report.findings.append(Finding(path, line, "gate", f"{name} v{number} -> {new_stage}: {r}"))
    report.transitions.append(Transition(name, number, str(old_stage), new_stage, path, results))
    if rule.exclusive:
        holders = [n for n in _head_stages(git, head, name) if n[1] == new_stage]
        if len(holders) > 1:
            listed = ", ".join(f"v{n}" for n, _ in holders)
            report.findings.append(
                Finding(
                    path,
                    line,
                    "exclusive",
                    f"{new_stage} is exclusive but {name} {listed} are all in it; archive the "
                    "previous holder in the same change",
                )
            )


def _former_names(git: Git, shas: tuple[str, ...], name: str) -> tuple[str, ...]:
    """Every former name of ``name`` on either side (the base's cannot be dropped by the
    change; the head's can only add names, which only makes the rule stricter)."""
    found: list[str] = []
    for sha in shas:
        doc = doc_at(git, sha, model_path(name))
        names = doc.data.get("former_names") if doc is not None else None
        found += [n for n in names or () if isinstance(n, str) and n not in found]
    return tuple(found)


def _carried(git: Git, report: Report, head: str, name: str, number: int) -> bool:
    """Whether this change renames ``name`` and carries its version ``number`` along."""
    for path in report.changed:
        where = parse_path(path)
        if (
            where
            and where.version == number
            and where.name != name
            and name in _former_names(git, (head,), where.name)
        ):
            return True
    return False


def _renamed_from(  # noqa: PLR0913 (the facts one judgement needs)
    git: Git, mb: str, head: str, former: tuple[str, ...], number: int, name: str
) -> yamlio.Document | None:
    """The manifest a rename in this change carried over (under the new name), or None."""
    for old_name in reversed(former):
        path = version_path(old_name, number)
        doc = doc_at(git, mb, path)
        if doc is not None and git.show(head, path) is None:
            doc.data["name"] = name
            return doc
    return None


def _head_stages(git: Git, head: str, name: str) -> list[tuple[int, str]]:
    out = []
    for mode, entry in git.list_tree(head, versions_dir(name)):
        if mode == "100644" and VERSION_FILE.fullmatch(entry):
            doc = doc_at(git, head, f"{versions_dir(name)}/{entry}")
            if doc is not None:
                out.append((int(entry[:-5]), str(doc.data.get("stage"))))
    return sorted(out)


def _numbering(  # noqa: PLR0913 (one version's review state)
    git: Git, report: Report, base_view: Reader, name: str, number: int, path: str
) -> None:
    """A new version must be numbered above every number the base ever issued."""
    issued = [0]
    model = doc_at(git, report.base, model_path(name))
    if model is not None and isinstance(model.data.get("last_version"), int):
        issued.append(model.data["last_version"])
    issued += base_view.version_numbers(name)
    # Kept by gitreg's deletes and renames, so a squashed history does not hide them. A
    # malformed file is reported by the schema check when the change touches it.
    with contextlib.suppress(ManifestError):
        issued.append(retired_numbers(git.show(report.base, RETIRED)).get(name, 0))
    # Also every number the base's history shows: deletions made before retired.yaml
    # existed, or by hand.
    for entry in read_log(git, [report.base], [f"{versions_dir(name)}/"], first_parent=False):
        issued += [w.version for w in map(parse_path, entry.paths) if w and w.version]
    if number <= max(issued):
        report.findings.append(
            Finding(
                path,
                None,
                "numbering",
                f"{name} v{number} is new but the base already issued numbers up to {max(issued)}; "
                f"number it {max(issued) + 1} or above",
            )
        )


def _model_change(git: Git, report: Report, path: str, mb: str, head: str) -> None:
    old, new = doc_at(git, mb, path), doc_at(git, head, path)
    if old is None or new is None:
        return
    for key in ("name", "created_at", "created_by"):
        if old.data.get(key) != new.data.get(key):
            report.findings.append(
                Finding(
                    path,
                    new.line([key]),
                    "immutable",
                    f"{key} is immutable once merged and was changed",
                )
            )
    before, after = old.data.get("last_version", 0), new.data.get("last_version", 0)
    if isinstance(before, int) and isinstance(after, int) and after < before:
        report.findings.append(
            Finding(
                path,
                new.line(["last_version"]),
                "numbering",
                f"last_version went down from {before} to {after}; numbers are never reissued",
            )
        )
