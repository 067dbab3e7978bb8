"""gitreg.yaml: the registry's stages, artifact settings and promotion rules.

``Config.from_dict`` checks the shape of every value it keeps (ValueError otherwise), so
a mistyped policy never fails later with a TypeError; the caller reports where.
``Config.rule`` answers "how may model M enter stage S" (or move protected alias ``@A``),
with per-pattern overrides applied under every name the model has had, the strictest
winning.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitreg.errors import UsageError
from gitreg.manifest import DEFAULT_STAGES

DEFAULT_STORE = "file://../registry-artifacts"
_KEYS = {
    "stages", "default_branch", "artifacts", "promotion", "overrides", "webhooks", "remote",
    "require_signed", "break_glass", "writes",
}  # fmt: skip
# The keys whose change is a change of the rules: audit flags one that was not reviewed.
PROTECTION_KEYS = ("promotion", "overrides", "writes", "require_signed", "break_glass")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """How a version may enter one stage."""

    via: str = "commit"  # commit | pull_request
    from_stages: tuple[str, ...] | None = None  # None: from any stage
    exclusive: bool = False  # the previous holder is archived in the same commit
    gates: tuple[dict[str, Any], ...] = ()
    approvals: Approvals | None = None  # counted by `gitreg check` through the forge

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: Rule | None = None) -> Rule:
        base = base or cls()
        if not isinstance(d, dict):
            raise ValueError("a rule is a mapping")
        _want(d.get("via", "commit"), str, "via")
        _want(d.get("from", []), list, "from", str)
        _want(d.get("exclusive", False), bool, "exclusive")
        _want(d.get("gates", []), list, "gates", dict)
        return cls(
            via=d.get("via", base.via),
            from_stages=tuple(d["from"]) if "from" in d else base.from_stages,
            exclusive=d.get("exclusive", base.exclusive),
            gates=tuple(d["gates"]) if "gates" in d else base.gates,
            approvals=Approvals.from_dict(d["approvals"]) if "approvals" in d else base.approvals,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Approvals:
    """``approvals: {min: N, from: [user, "@org/team"]}``: approvals of the pull request's
    current head by N different allowed people, never its author."""

    min: int = 1
    allowed: tuple[str, ...] = ()  # users and @org/team (GitHub) or @group (GitLab); empty: anyone

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Approvals:
        return cls(min=int(d.get("min", 1)), allowed=tuple(str(x) for x in d.get("from", ())))


@dataclass(frozen=True, slots=True, kw_only=True)
class Writes:
    """``writes:``: how a write shared with ``--push`` reaches the default branch."""

    via: str = "commit"  # commit | pull_request
    auto_merge: bool = True  # with pull_request: ask the forge to merge once checks pass

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Writes:
        if not isinstance(d, dict):
            raise ValueError("writes")
        return cls(via=str(d.get("via", "commit")), auto_merge=d.get("auto_merge", True) is True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    stages: tuple[str, ...] = DEFAULT_STAGES
    default_branch: str = "main"
    store: str = DEFAULT_STORE
    allowed: tuple[str, ...] = ()
    storage_options: dict[str, Any] = field(default_factory=dict)
    promotion: dict[str, Rule] = field(default_factory=dict)
    overrides: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    webhooks: tuple[dict[str, Any], ...] = ()
    remote: dict[str, Any] = field(default_factory=dict)
    require_signed: bool = False  # gitreg audit: every default-branch commit must be signed
    break_glass: bool = False  # gitreg rollback --emergency may commit on the default branch
    writes: Writes = field(default_factory=Writes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """From gitreg.yaml's data; raises ValueError on a shape the schema would refuse."""
        if not isinstance(d, dict) or set(d) - _KEYS:
            raise ValueError("unknown key")
        stages = d.get("stages", DEFAULT_STAGES)
        if not isinstance(stages, (list, tuple)) or not all(isinstance(s, str) for s in stages):
            raise ValueError("stages")
        artifacts = d.get("artifacts") or {}
        if not isinstance(artifacts, dict) or not isinstance(artifacts.get("store", ""), str):
            raise ValueError("artifacts")
        # Every value is checked for the shape used below: a mistyped policy is a ValueError
        # here (the caller then reports the schema's file:line), never a TypeError later.
        _want(d.get("default_branch", "main"), str, "default_branch")
        _want(artifacts.get("allowed") or [], list, "artifacts.allowed", str)
        _want(artifacts.get("storage_options") or {}, dict, "artifacts.storage_options")
        _want(d.get("promotion") or {}, dict, "promotion", dict)
        _want(d.get("overrides") or {}, dict, "overrides", dict)
        for stages_rules in (d.get("overrides") or {}).values():
            _want(stages_rules, dict, "overrides", dict)
            for r in stages_rules.values():
                Rule.from_dict(r)
        _want(d.get("webhooks") or [], list, "webhooks", dict)
        _want(d.get("remote") or {}, dict, "remote")
        return cls(
            stages=tuple(d.get("stages") or DEFAULT_STAGES),
            default_branch=d.get("default_branch", "main"),
            store=artifacts.get("store", DEFAULT_STORE),
            allowed=tuple(artifacts.get("allowed") or ()),
            storage_options=dict(artifacts.get("storage_options") or {}),
            promotion={s: Rule.from_dict(r) for s, r in (d.get("promotion") or {}).items()},
            overrides=dict(d.get("overrides") or {}),
            webhooks=tuple(d.get("webhooks") or ()),
            remote=dict(d.get("remote") or {}),
            require_signed=d.get("require_signed") is True,
            break_glass=(d.get("break_glass") or {}).get("allowed") is True,
            writes=Writes.from_dict(d.get("writes") or {}),
        )

    @property
    def initial_stage(self) -> str:
        return self.stages[0]

    @property
    def archive_stage(self) -> str | None:
        """The stage an exclusive promotion sends the previous holder to."""
        return "Archived" if "Archived" in self.stages else None

    def canonical_stage(self, stage: str) -> str:
        """The configured spelling of ``stage`` (matched case-insensitively, as MLflow does)."""
        for s in self.stages:
            if s.lower() == stage.lower():
                return s
        raise UsageError(f"unknown stage {stage!r}: gitreg.yaml allows {', '.join(self.stages)}")

    def rule(self, model: str, stage: str, former: Sequence[str] = ()) -> Rule:
        """The rule for entering ``stage`` (or moving alias ``"@name"``), with the first
        matching override applied; with ``former`` names, the strictest of the rules under
        each name (so a rename never escapes an override)."""
        rules = [self._rule(n, stage) for n in dict.fromkeys([model, *former])]
        return rules[0] if len(rules) == 1 else strictest(rules)

    def _rule(self, model: str, stage: str) -> Rule:
        rule = self.promotion.get(stage, Rule())
        for pattern, stages in self.overrides.items():
            if fnmatch.fnmatchcase(model, pattern) and stage in stages:
                return Rule.from_dict(stages[stage], base=rule)
        return rule

    def alias_rule(self, model: str, alias: str, former: Sequence[str] = ()) -> Rule | None:
        """The rule for moving ``alias`` of ``model``, or None if the alias is not protected."""
        key = "@" + alias
        names = [model, *former]
        if key in self.promotion or any(
            key in stages and any(fnmatch.fnmatchcase(n, p) for n in names)
            for p, stages in self.overrides.items()
        ):
            return self.rule(model, key, former)
        return None


def strictest(rules: Sequence[Rule]) -> Rule:
    """One rule at least as strict as each of ``rules``: a pull request if any asks for
    one, every gate of each, only the ``from`` stages all allow."""
    froms = [set(r.from_stages) for r in rules if r.from_stages is not None]
    gates: list[dict[str, Any]] = []
    for r in rules:
        gates += [g for g in r.gates if g not in gates]
    first = next((r.from_stages for r in rules if r.from_stages is not None), None)
    return Rule(
        via="pull_request" if any(r.via == "pull_request" for r in rules) else "commit",
        from_stages=None
        if first is None
        else tuple(s for s in first if all(s in f for f in froms)),
        exclusive=any(r.exclusive for r in rules),
        gates=tuple(gates),
    )


def _want(value: Any, kind: type, key: str, item: type | None = None) -> None:
    """Raise ValueError unless ``value`` is a ``kind`` (whose items, or values for a
    mapping, are ``item``s)."""
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{key}: expected {kind.__name__}")
    if item is not None:
        items: Any = value.values() if isinstance(value, dict) else value
        if not all(isinstance(v, item) for v in items):
            raise ValueError(f"{key}: expected items of type {item.__name__}")
