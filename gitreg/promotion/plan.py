"""Planning a stage change: the manifests and message that move a version into a stage
as the policy's ``from`` and ``exclusive`` rules say (``stage_change``), and the facts the
gates judge it on (``gate_context``): time in a stage, the current holder of the stage,
whether the version held it before (a rollback), and an artifact verifier.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitreg import secrets
from gitreg.config import Rule
from gitreg.errors import ArtifactError, Conflict, NotFound, PolicyError, UsageError
from gitreg.layout import version_path
from gitreg.manifest import ArtifactRef, ModelVersion, check_note
from gitreg.promotion import gates
from gitreg.promotion.gates import GateContext, GateResult
from gitreg.query.reader import Reader
from gitreg.repo.git import Git
from gitreg.trail.stays import hours_in, stays


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A transition worked out against one commit: what changes and what the gates say."""

    version: ModelVersion  # as it is now
    stage: str
    changed: tuple[ModelVersion, ...]  # the candidate first, then those it archives
    message: str
    results: tuple[GateResult, ...]
    current: ModelVersion | None
    rollback: bool
    note: str = ""  # the proposer's words (transition -m), as the commit body has them


def rule_for(reader: Reader, name: str, stage: str) -> Rule:
    """The rule for ``name`` entering ``stage``: the strictest under every name the model
    has had (``former_names``), so a rename never escapes an override."""
    try:
        former = reader.get_model(name).former_names
    except NotFound:
        former = ()
    return reader.config.rule(name, stage, former)


def plan(  # noqa: PLR0913 (the facts one judgement needs)
    reader: Reader, ref: str, name: str, version: int | str, stage: str, note: str = ""
) -> Plan:
    """Work out moving ``name`` v``version`` into ``stage`` as commit ``ref`` (read through
    ``reader``) has the registry; raises PolicyError if the rule's ``from`` refuses it.
    ``note`` (``transition -m``) goes into the commit body."""
    cfg = reader.config
    stage = cfg.canonical_stage(stage)
    mv = reader.get_version(name, version)
    if mv.stage == stage:
        raise Conflict(f"{name} v{mv.version} is already in {stage}")
    rule = rule_for(reader, name, stage)
    ctx = gate_context(reader, reader.git, ref, mv, stage)
    changed, message = stage_change(reader, mv, stage, rollback=ctx.rollback, note=note)
    return Plan(
        version=mv,
        stage=stage,
        changed=tuple(changed),
        message=message,
        results=tuple(gates.evaluate(rule.gates, mv, ctx)),
        current=ctx.current,
        rollback=ctx.rollback,
        note=check_note(note),
    )


def stage_change(  # noqa: PLR0913 (the facts one judgement needs)
    reader: Reader,
    mv: ModelVersion,
    stage: str,
    *,
    archive_existing: bool = False,
    rollback: bool = False,
    note: str = "",
) -> tuple[list[ModelVersion], str]:
    """The manifests and commit message that move ``mv`` into ``stage`` (already in its
    configured spelling) as gitreg.yaml's ``from`` and ``exclusive`` rules say. A
    rollback may return to a stage it held before whatever ``from`` says. ``note``
    (``transition -m``) is the commit body's first paragraph."""
    rule = rule_for(reader, mv.name, stage)
    if rule.from_stages is not None and mv.stage not in rule.from_stages and not rollback:
        how = "through a pull request, and " if rule.via == "pull_request" else ""
        raise PolicyError(
            f"{mv.name} v{mv.version} is in {mv.stage}; gitreg.yaml allows {stage} "
            f"{how}only from {', '.join(rule.from_stages)}"
        )
    changed = [mv.evolve(stage=stage)]
    lines = []
    if rule.exclusive or archive_existing:
        archive = reader.config.archive_stage
        holders = [v for v in reader.versions(mv.name) if v.stage == stage]
        if holders and archive is None:
            raise PolicyError(f"cannot archive {stage} versions: no Archived stage")
        for other in holders:
            changed.append(other.evolve(stage=archive))
            lines.append(f"{mv.name} v{other.version}: {stage} -> {archive}")
    message = f"{mv.name} v{mv.version}: {mv.stage} -> {stage}"
    if rollback:
        message += " (rollback)"
    if note := check_note(note):
        secrets.refuse(message=note)
        message += "\n\n" + note
    if lines:
        message += "\n\n" + "\n".join(lines)
    return changed, message


def current_holder(reader: Reader, name: str, stage: str, other_than: int) -> ModelVersion | None:
    """The newest version of ``name`` in ``stage`` (besides ``other_than``), as ``view`` has it."""
    holders = [v for v in reader.versions(name) if v.stage == stage and v.version != other_than]
    return holders[-1] if holders else None


def verifier(storage_options: Mapping[str, Any]) -> Callable[[ArtifactRef], str]:
    """Check an artifact's size and digest where it lives; "" when they match."""
    from gitreg import store  # noqa: PLC0415 (fsspec loads only when bytes move)

    def check(ref: ArtifactRef) -> str:
        try:
            result = store.verify_detail(ref, storage_options)
        except (ArtifactError, UsageError) as e:
            return str(e)
        return "" if result.status == "OK" else f"{result.status}: {result.detail}"

    return check


_HISTORY_GATES = ("time_in_stage", "not_worse_than_current")


def needs_history(
    rule_gates: Iterable[Any], from_stages: Collection[str] | None, old_stage: Any
) -> bool:
    """Whether judging a move from ``old_stage`` needs the version's stage history: only
    the gates a rollback waives read it, and the ``from`` rule when the move breaks it
    (a rollback may)."""
    if from_stages is not None and old_stage not in from_stages:
        return True
    return any(isinstance(g, Mapping) and g.keys() & set(_HISTORY_GATES) for g in rule_gates)


def gate_context(  # noqa: PLR0913 (keyword-only switches)
    reader: Reader,
    git: Git,
    ref: str,
    mv: ModelVersion,
    stage: str,
    *,
    verify: bool = True,
    history: bool = True,
) -> GateContext:
    """What the gates need to judge ``mv`` entering ``stage``, from branch tip ``ref`` (whose
    tree ``view`` reads): its stage history there (unless not ``history``: then it counts
    as never having been anywhere, see ``needs_history``), the version now holding
    ``stage``, and (if ``verify``) a verifier of the artifact's bytes."""
    found = stays(git, ref, version_path(mv.name, mv.version)) if history else []
    return GateContext(
        current=current_holder(reader, mv.name, stage, mv.version),
        stage_hours=lambda s: hours_in(found, s),
        stay_running=lambda s: next(
            (x.until is None for x in reversed(found) if x.stage == s), False
        ),
        verify=verifier(reader.config.storage_options) if verify else None,
        rollback=any(s.stage == stage for s in found),
    )
