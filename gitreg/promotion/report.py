"""What ``gitreg check --base`` reports: findings (path, line, rule, message), the
transitions and protected alias moves it judged with their gates, and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.errors import ManifestError
from gitreg.files import yamlio
from gitreg.promotion.gates import GateResult
from gitreg.repo.git import Git


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int | None
    rule: str  # schema | immutable | numbering | file | transition | gate | exclusive | ...
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "rule": self.rule, "message": self.message}


@dataclass(frozen=True, slots=True)
class Transition:
    name: str
    version: int
    from_stage: str
    to_stage: str
    path: str
    results: tuple[GateResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "from": self.from_stage,
            "to": self.to_stage,
            "gates": [r.to_dict() for r in self.results],
        }


@dataclass(slots=True)
class Report:
    base: str
    head: str
    merge_base: str
    findings: list[Finding] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "base": self.base,
            "head": self.head,
            "merge_base": self.merge_base,
            "changed": self.changed,
            "transitions": [t.to_dict() for t in self.transitions],
            "findings": [f.to_dict() for f in self.findings],
        }


def doc_at(git: Git, sha: str, path: str) -> yamlio.Document | None:
    raw = git.show(sha, path)
    if raw is None:
        return None
    try:
        doc = yamlio.load(raw, path)
    except ManifestError:
        return None  # the schema check reports it
    return doc if isinstance(doc.data, dict) else None
