"""gitreg.yaml: the registry's stages, artifact settings and promotion rules.

``Config.from_dict`` takes data that already passed the schema. ``Config.rule`` answers
"how may model M enter stage S", with per-pattern overrides applied.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from gitreg.errors import UsageError
from gitreg.manifest import DEFAULT_STAGES

DEFAULT_STORE = "file://../registry-artifacts"
_KEYS = {
    "stages", "default_branch", "artifacts", "promotion", "overrides", "webhooks", "remote",
    "require_signed", "writes",
}  # fmt: skip


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

    def rule(self, model: str, stage: str) -> Rule:
        """The rule for entering ``stage``, with the first matching override applied."""
        rule = self.promotion.get(stage, Rule())
        for pattern, stages in self.overrides.items():
            if fnmatch.fnmatchcase(model, pattern) and stage in stages:
                return Rule.from_dict(stages[stage], base=rule)
        return rule
