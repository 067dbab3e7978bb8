"""What a commit changed that only review may change: a version entering a stage the policy
sends through a pull request, a protected alias moving, or the rules themselves
(gitreg.yaml's protection keys, the schemas, CODEOWNERS, workflows, accepted findings).

A stage or alias counts as protected if *any* policy seen so far protected it (for the
model's current or any former name), so relaxing the policy in one commit does not
unprotect the next. A rename (``former_names``) carrying a version's stage or an alias
unchanged to the new name is no move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitreg.config import PROTECTION_KEYS, Config
from gitreg.errors import ManifestError
from gitreg.files import yamlio
from gitreg.layout import ACCEPTED, CONFIG, SCHEMA_DIR, model_path, parse_path, version_path
from gitreg.repo.git import Git
from gitreg.repo.log import LogEntry
from gitreg.trail.stays import stage_of

_RULE_FILES = (".github/", f"{SCHEMA_DIR}/", "schemas/")


@dataclass(frozen=True, slots=True)
class Change:
    """One protected change in a commit: ``kind`` stage | alias | policy, where (a path),
    what to say, and for a stage or alias move the model, target and version."""

    kind: str
    path: str
    message: str
    name: str = ""
    target: str = ""  # a stage, or "@alias"
    version: int | None = None


def is_rule_file(path: str) -> bool:
    """The files whose change is a change of the rules (gitreg.yaml is judged by key)."""
    return (
        path.startswith(_RULE_FILES) or path.rsplit("/", 1)[-1] == "CODEOWNERS" or path == ACCEPTED
    )


def _data(git: Git, sha: str | None, path: str) -> dict[str, Any]:
    raw = git.show(sha, path) if sha else None
    if raw is None:
        return {}
    try:
        data = yamlio.load(raw, path).data
    except ManifestError:
        return {"": "unreadable"}
    return data if isinstance(data, dict) else {"": "not a mapping"}


def _former(git: Git, sha: str, name: str) -> tuple[str, ...]:
    found = _data(git, sha, model_path(name)).get("former_names")
    return tuple(n for n in found if isinstance(n, str)) if isinstance(found, list) else ()


def _protects(seen: Sequence[Config], name: str, target: str, former: Sequence[str]) -> bool:
    if target.startswith("@"):
        return any(
            (r := cfg.alias_rule(name, target[1:], former)) is not None and r.via == "pull_request"
            for cfg in seen
        )
    return any(cfg.rule(name, target, former).via == "pull_request" for cfg in seen)


def changes(git: Git, c: LogEntry, seen: Sequence[Config]) -> list[Change]:
    """Every protected change ``c`` makes against its first parent, judged by ``seen``."""
    parent = c.parent
    found: list[Change] = []
    if parent is None:
        return found  # the registry's creation
    for path in sorted(c.paths):
        where = parse_path(path)
        if path == CONFIG:
            before, after = _data(git, parent, CONFIG), _data(git, c.sha, CONFIG)
            keys = [k for k in PROTECTION_KEYS if before.get(k) != after.get(k)]
            if keys or "" in after:
                what = ", ".join(keys) or "an unreadable policy"
                found.append(Change("policy", path, f"the policy changed ({what})"))
        elif is_rule_file(path):
            found.append(Change("policy", path, f"{path} changed"))
        elif where is not None and where.version is not None:
            found += _stage(git, c, parent, where.name, where.version, path, seen)
        elif where is not None:
            found += _aliases(git, c, parent, where.name, path, seen)
    return found


def _stage(  # noqa: PLR0913 (the facts one judgement needs)
    git: Git, c: LogEntry, parent: str, name: str, number: int, path: str, seen: Sequence[Config]
) -> list[Change]:
    new = stage_of(git, c.sha, path)
    old = stage_of(git, parent, path)
    former = _former(git, c.sha, name)
    if old is None and former and new is not None:
        old = stage_of(git, parent, version_path(former[-1], number))  # renamed, not moved
    if new is None or new == old or not _protects(seen, name, new, former):
        return []
    msg = f"{name} v{number} entered {new}"
    return [Change("stage", path, msg, name, new, number)]


def _aliases(  # noqa: PLR0913 (the facts one judgement needs)
    git: Git, c: LogEntry, parent: str, name: str, path: str, seen: Sequence[Config]
) -> list[Change]:
    after = _data(git, c.sha, path)
    before = _data(git, parent, path)
    former = _former(git, c.sha, name)
    if not before and former:
        before = _data(git, parent, model_path(former[-1]))  # renamed, not moved
    old, new = before.get("aliases") or {}, after.get("aliases") or {}
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    found = []
    for alias in sorted(set(old) | set(new)):
        if old.get(alias) == new.get(alias) or not _protects(seen, name, f"@{alias}", former):
            continue
        v = new.get(alias)
        msg = f"{name}@{alias} moved to v{v}" if v is not None else f"{name}@{alias} was deleted"
        found.append(
            Change("alias", path, msg, name, f"@{alias}", v if isinstance(v, int) else None)
        )
    return found


def same_on(git: Git, sha: str, change: Change) -> bool:
    """Whether commit ``sha`` (a merge's second parent) already has ``change``."""
    if change.kind == "stage":
        return stage_of(git, sha, change.path) == change.target
    if change.kind == "alias":
        aliases = _data(git, sha, change.path).get("aliases") or {}
        return isinstance(aliases, dict) and aliases.get(change.target[1:]) == change.version
    return git.show(sha, change.path) is not None or change.path == CONFIG
