"""A version's stage over time, read from the first-parent history of a branch, and the
facts the gates need (``gate_context``): time in a stage, the current holder of a stage,
whether the version held the stage before (a rollback), and an artifact verifier.

A stay starts at the commit (on the branch's first-parent line: for a merged pull request,
the merge) whose manifest first shows the stage, and ends at the commit that shows another.

Reading a version's stays is one ``git log --first-parent -- <its manifest>``: git walks
the branch's commits but diffs only that path (with a commit-graph's changed-path Bloom
filters it skips the commits that did not touch it), and gitreg reads only the manifests
of the commits that did. ``needs_history`` tells whether a promotion's gates ask at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitreg.errors import ArtifactError, ManifestError, UsageError
from gitreg.files import yamlio
from gitreg.manifest import ArtifactRef, ModelVersion
from gitreg.promotion.gates import GateContext
from gitreg.registry.view import RegistryView, version_path
from gitreg.repo.git import Git


@dataclass(frozen=True, slots=True)
class Stay:
    stage: str
    since: int  # unix time of the commit that moved the version into the stage
    until: int | None  # when it left; None while it is still there
    commit: str


def stage_of(git: Git, sha: str, path: str) -> str | None:
    """The ``stage`` a manifest has at ``sha``, or None if absent or unreadable."""
    raw = git.show(sha, path)
    if raw is None:
        return None
    try:
        stage = yamlio.load(raw, path).data.get("stage")
    except (ManifestError, AttributeError):
        return None
    return stage if isinstance(stage, str) else None


def stays(git: Git, ref: str, path: str) -> list[Stay]:
    """The stages the manifest at ``path`` went through on ``ref``'s first-parent line,
    oldest first."""
    out = git.run("log", "--first-parent", "--reverse", "--format=%H %ct", ref, "--", path)
    found: list[Stay] = []
    for line in out.splitlines():
        sha, _, when = line.partition(" ")
        stage = stage_of(git, sha, path)
        if found and found[-1].stage == stage:
            continue
        if found and found[-1].until is None:
            last = found[-1]
            found[-1] = Stay(last.stage, last.since, int(when), last.commit)
        if stage is not None:
            found.append(Stay(stage, int(when), None, sha))
    return found


def hours_in(found: list[Stay], stage: str, now: float | None = None) -> float | None:
    """Hours of the latest stay in ``stage`` (up to now if it has not ended), or None."""
    for stay in reversed(found):
        if stay.stage == stage:
            end = stay.until if stay.until is not None else (now or time.time())
            return max(0.0, (end - stay.since) / 3600)
    return None


def current_holder(
    view: RegistryView, name: str, stage: str, other_than: int
) -> ModelVersion | None:
    """The newest version of ``name`` in ``stage`` (besides ``other_than``), as ``view`` has it."""
    holders = [v for v in view.versions(name) if v.stage == stage and v.version != other_than]
    return holders[-1] if holders else None


def verifier(storage_options: Mapping[str, Any]) -> Callable[[ArtifactRef], str]:
    """Check an artifact's size and digest where it lives; "" when they match."""
    from gitreg import store

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


def gate_context(
    view: RegistryView,
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
        current=current_holder(view, mv.name, stage, mv.version),
        stage_hours=lambda s: hours_in(found, s),
        stay_running=lambda s: next(
            (x.until is None for x in reversed(found) if x.stage == s), False
        ),
        verify=verifier(view.config.storage_options) if verify else None,
        rollback=any(s.stage == stage for s in found),
    )
