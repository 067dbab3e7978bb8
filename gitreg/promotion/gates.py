"""Promotion gates: pure functions from a candidate version (plus the facts git and the
store supply, in a ``GateContext``) to one ``GateResult`` per gate.

Gates fail closed: a missing metric, a bool, a string, NaN or infinity fails; so does a
gate of a form this version of gitreg does not know (a typo'd key), and a fact nobody
supplied (no artifact verifier, no stage history).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitreg.errors import PolicyError, UsageError
from gitreg.manifest import ArtifactRef, ModelVersion

Verifier = Callable[[ArtifactRef], str]  # "" when the bytes match the manifest, else why not


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict. ``gate`` is the gate's kind (``metric``, ``tags`` ...),
    ``subject`` what it looked at (a metric name, a tag key, a stage)."""

    gate: str
    subject: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        where = f"{self.gate} {self.subject}" if self.subject else self.gate
        return f"gate {where}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "subject": self.subject, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class GateContext:
    """The facts gates need beyond the candidate manifest.

    ``current``: the version that holds the target stage now (another version), if any.
    ``stage_hours``: hours the candidate spent in a stage during its latest stay there
    (still running: up to now), or None if it never was in that stage.
    ``verify``: checks the artifact's bytes; None means nobody can, so the gate fails.
    ``rollback``: the candidate held the target stage before; the gates that judge a
    first promotion (time in the previous stage, not worse than current) are waived."""

    current: ModelVersion | None = None
    stage_hours: Callable[[str], float | None] = lambda _stage: None
    verify: Verifier | None = None
    rollback: bool = False


class GatesFailed(PolicyError):
    """A promotion whose gates do not hold; ``failures`` says which and why."""

    def __init__(self, name: str, version: int, stage: str, failures: Sequence[GateResult]):
        self.failures = list(failures)
        listed = "; ".join(str(f) for f in self.failures)
        super().__init__(f"{name} v{version} fails the gates for {stage}: {listed}")


def number(value: Any) -> float | None:
    """``value`` as a finite number, or None (bools, strings, NaN and inf are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def evaluate(
    gates: Iterable[Mapping[str, Any]], mv: ModelVersion, ctx: GateContext
) -> list[GateResult]:
    """Every gate's verdict on ``mv``, in the policy's order."""
    return [_one(gate, mv, ctx) for gate in gates]


def failures(results: Iterable[GateResult]) -> list[GateResult]:
    return [r for r in results if not r.ok]


def _one(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    if not isinstance(gate, Mapping) or len(gate.keys() & _KINDS.keys()) != 1:
        return GateResult("unknown", "", False, f"gate {dict(gate)!r} is not one gitreg knows")
    kind = next(k for k in gate if k in _KINDS)
    if set(gate) - ({kind, "min", "max"} if kind == "metric" else {kind}):
        return GateResult(kind, "", False, f"gate {dict(gate)!r} has an unknown key")
    try:
        return _KINDS[kind](gate, mv, ctx)
    except (KeyError, TypeError, ValueError, AttributeError):
        return GateResult(kind, "", False, f"gate {dict(gate)!r} is malformed")


def _metric(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    key = gate["metric"]
    if not isinstance(key, str) or not ({"min", "max"} & gate.keys()):
        raise ValueError(key)
    value = number(mv.metrics.get(key))
    if value is None:
        return GateResult("metric", key, False, _missing(mv.metrics, key))
    low, high = gate.get("min"), gate.get("max")
    for bound, name in ((low, "min"), (high, "max")):
        if bound is not None and number(bound) is None:
            return GateResult("metric", key, False, f"{name} {bound!r} is not a finite number")
    if low is not None and not value >= low:
        return GateResult("metric", key, False, f"{key} = {value:g} is below the minimum {low:g}")
    if high is not None and not value <= high:
        return GateResult("metric", key, False, f"{key} = {value:g} is above the maximum {high:g}")
    bounds = " and ".join(
        f"{'>=' if n == 'min' else '<='} {b:g}"
        for b, n in ((low, "min"), (high, "max"))
        if b is not None
    )
    return GateResult("metric", key, True, f"{key} = {value:g} ({bounds})")


def _missing(metrics: Mapping[str, Any], key: str) -> str:
    if key not in metrics:
        return f"{key} is missing"
    return f"{key} = {metrics[key]!r} is not a finite number"


def _tags(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    wanted = gate["tags"]
    if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
        raise ValueError(wanted)
    # a key recorded in lineage (data_version, source_commit: immutable, and copied from the
    # MLflow run a version was created from) counts as well as a tag of that name
    absent = [t for t in wanted if not str(mv.tags.get(t) or mv.lineage.get(t) or "").strip()]
    subject = ", ".join(wanted)
    if absent:
        return GateResult("tags", subject, False, f"missing tag {', '.join(absent)}")
    return GateResult("tags", subject, True, "every required tag is set")


def _description(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    if gate["description"] != "required":
        raise ValueError(gate["description"])
    if not mv.description.strip():
        return GateResult("description", "", False, "the version has no description")
    return GateResult("description", "", True, "present")


def _time_in_stage(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    spec = gate["time_in_stage"]
    stage, need = spec["stage"], number(spec["min_hours"])
    if not isinstance(stage, str) or need is None:
        raise ValueError(spec)
    if ctx.rollback:
        return GateResult("time_in_stage", stage, True, "waived: a rollback")
    hours = ctx.stage_hours(stage)
    if hours is None:
        return GateResult("time_in_stage", stage, False, f"the version was never in {stage}")
    if hours < need:
        return GateResult(
            "time_in_stage", stage, False, f"in {stage} for {hours:.1f} h; needs {need:g} h"
        )
    return GateResult("time_in_stage", stage, True, f"in {stage} for {hours:.1f} h")


def _not_worse(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    spec = gate["not_worse_than_current"]
    key = spec["metric"]
    tolerance = number(spec.get("tolerance", 0))
    higher = spec.get("higher_is_better", True)
    if not isinstance(key, str) or tolerance is None or not isinstance(higher, bool):
        raise ValueError(spec)
    name = "not_worse_than_current"
    if ctx.rollback:
        return GateResult(name, key, True, "waived: a rollback")
    value = number(mv.metrics.get(key))
    if value is None:
        return GateResult(name, key, False, _missing(mv.metrics, key))
    if ctx.current is None:
        return GateResult(name, key, True, f"{key} = {value:g}; no current version to beat")
    cur = number(ctx.current.metrics.get(key))
    if cur is None:
        return GateResult(
            name, key, True, f"{key} = {value:g}; v{ctx.current.version} has no {key} to compare"
        )
    worse = value < cur - tolerance if higher else value > cur + tolerance
    vs = f"{key} = {value:g} against v{ctx.current.version}'s {cur:g} (tolerance {tolerance:g})"
    return GateResult(name, key, not worse, ("worse: " if worse else "") + vs)


def _artifact(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    if gate["artifact"] != "verified":
        raise ValueError(gate["artifact"])
    if ctx.verify is None:
        return GateResult("artifact", "verified", False, "the artifact was not checked")
    why = ctx.verify(mv.artifact)
    ok_detail = f"{mv.artifact.digest[:19]}..., {mv.artifact.size} bytes"
    return GateResult("artifact", "verified", not why, why or ok_detail)


def _uri_prefix(gate: Mapping[str, Any], mv: ModelVersion, ctx: GateContext) -> GateResult:
    from gitreg.store import check_uri

    prefixes = gate["uri_prefix"]
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        raise ValueError(prefixes)
    try:
        check_uri(mv.artifact.uri, prefixes or ["\0"])
    except UsageError as e:
        return GateResult("uri_prefix", mv.artifact.uri, False, str(e))
    return GateResult("uri_prefix", mv.artifact.uri, True, "inside an allowed location")


_KINDS: dict[str, Callable[[Mapping[str, Any], ModelVersion, GateContext], GateResult]] = {
    "metric": _metric,
    "tags": _tags,
    "description": _description,
    "time_in_stage": _time_in_stage,
    "not_worse_than_current": _not_worse,
    "artifact": _artifact,
    "uri_prefix": _uri_prefix,
}
