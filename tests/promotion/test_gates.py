"""Promotion gates as pure functions: each names its gate and subject, and fails closed."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitreg.manifest import ArtifactRef, ModelVersion
from gitreg.promotion.gates import GateContext, GateResult, evaluate, failures

DIGEST = "sha256:" + "ab" * 32


def version(metrics: dict[str, Any] | None = None, **kw: Any) -> ModelVersion:
    return ModelVersion(
        name="m",
        version=kw.pop("version", 2),
        stage="Staging",
        artifact=ArtifactRef(uri=kw.pop("uri", "s3://acme/m/2"), digest=DIGEST, size=10),
        created_at="2026-01-01T00:00:00Z",
        created_by="A <a@b>",
        metrics=metrics if metrics is not None else {"auc": 0.9},
        **kw,
    )


def one(gate: dict[str, Any], mv: ModelVersion, ctx: GateContext | None = None) -> GateResult:
    [result] = evaluate([gate], mv, ctx or GateContext())
    return result


def test_metric_thresholds() -> None:
    assert one({"metric": "auc", "min": 0.8}, version()).ok
    low = one({"metric": "auc", "min": 0.95}, version())
    assert not low.ok and (low.gate, low.subject) == ("metric", "auc")
    assert str(low) == "gate metric auc: auc = 0.9 is below the minimum 0.95"
    high = one({"metric": "loss", "max": 0.1}, version({"loss": 0.3}))
    assert str(high) == "gate metric loss: loss = 0.3 is above the maximum 0.1"
    assert one({"metric": "auc", "min": 0.8, "max": 0.95}, version()).ok


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "auc is missing"),
        (math.nan, "auc = nan is not a finite number"),
        (math.inf, "auc = inf is not a finite number"),
        (-math.inf, "auc = -inf is not a finite number"),
        ("0.99", "auc = '0.99' is not a finite number"),
        (True, "auc = True is not a finite number"),
    ],
)
def test_metric_gates_fail_closed(value: Any, why: str) -> None:
    mv = version({} if value is None else {"auc": value})
    for gate in ({"metric": "auc", "min": 0.0}, {"metric": "auc", "max": 1e9}):
        result = one(gate, mv)
        assert not result.ok and result.detail == why
    nwc = one({"not_worse_than_current": {"metric": "auc"}}, mv)
    assert not nwc.ok and nwc.detail == why


@given(
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.booleans(),
        st.text(max_size=5),
        st.none(),
    ),
    bound=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    op=st.sampled_from(["min", "max"]),
)
def test_a_gate_passes_only_on_a_finite_number_on_the_right_side(
    value: Any, bound: float, op: str
) -> None:
    result = one({"metric": "auc", op: bound}, version({"auc": value}))
    finite = (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    )
    expected = finite and (value >= bound if op == "min" else value <= bound)
    assert result.ok is expected


def test_typo_and_unknown_gates_fail() -> None:
    assert not one({"metirc": "auc", "min": 0.1}, version()).ok
    assert not one({"metric": "auc", "mn": 0.1}, version()).ok
    assert not one({"metric": "auc", "min": 0.1, "extra": 1}, version()).ok
    assert not one({"metric": "auc", "min": "0.1"}, version()).ok
    assert not one({"description": "optional"}, version()).ok


def test_tags_description_uri_prefix() -> None:
    mv = version(tags={"data_version": "2026-10", "empty": " "}, description="Good.")
    assert one({"tags": ["data_version"]}, mv).ok
    lineage_only = version(lineage={"data_version": "2026-11", "run_id": "r1"})
    assert str(one({"tags": ["data_version"]}, lineage_only)) == (
        "gate tags data_version: missing tag data_version "
        "(lineage has data_version: the gate `lineage: [data_version]` reads it)"
    )
    assert one({"lineage": ["data_version", "run_id"]}, lineage_only).ok
    no_lineage = one({"lineage": ["data_version", "source_commit"]}, lineage_only)
    assert str(no_lineage) == (
        "gate lineage data_version, source_commit: missing lineage.source_commit"
    )
    assert not one({"lineage": "data_version"}, lineage_only).ok, "a list, or it fails"
    missing = one({"tags": ["data_version", "owner", "empty"]}, mv)
    assert str(missing) == "gate tags data_version, owner, empty: missing tag owner, empty"
    from_run = version(lineage={"data_version": "2026-10", "source_commit": "1a2b"})
    assert one({"lineage": ["data_version", "source_commit"]}, from_run).ok
    assert one({"description": "required"}, mv).ok
    assert not one({"description": "required"}, version(description="  \n")).ok
    assert one({"uri_prefix": ["s3://acme/"]}, mv).ok
    outside = one({"uri_prefix": ["s3://acme/other"]}, mv)
    assert not outside.ok and "outside the allowed locations" in outside.detail
    assert not one({"uri_prefix": []}, mv).ok


def test_time_in_stage() -> None:
    gate = {"time_in_stage": {"stage": "Staging", "min_hours": 24}}
    hours = {"Staging": 30.0}
    ctx = GateContext(stage_hours=hours.get)
    assert one(gate, version(), ctx).ok
    hours["Staging"] = 2.5
    short = one(gate, version(), ctx)
    assert str(short).startswith("gate time_in_stage Staging: in Staging for 2.5 h; needs 24 h")
    eligible = datetime.fromtimestamp(ctx.now() + 21.5 * 3600, timezone.utc)
    said = datetime.strptime(str(short).split("; eligible at ")[1][:16], "%Y-%m-%d %H:%M")
    # the minute after: it may cross an hour (or a day) that the time above has not
    assert -5 <= (said.replace(tzinfo=timezone.utc) - eligible).total_seconds() <= 120
    never = one(gate, version(), GateContext())
    assert never.detail == "the version was never in Staging"


def test_time_in_stage_says_when_the_version_becomes_eligible() -> None:
    gate = {"time_in_stage": {"stage": "Staging", "min_hours": 24}}
    before = time.time()
    ctx = GateContext(stage_hours={"Staging": 2.5}.get, stay_running=lambda s: True)
    detail = one(gate, version(), ctx).detail
    prefix = "in Staging for 2.5 h; needs 24 h; eligible at "
    assert detail.startswith(prefix) and detail.endswith(" UTC"), detail
    when = datetime.strptime(detail[len(prefix) :], "%Y-%m-%d %H:%M UTC")
    expected = datetime.fromtimestamp(before + 21.5 * 3600, timezone.utc).replace(tzinfo=None)
    assert timedelta(0) <= when - expected <= timedelta(minutes=1, seconds=5)
    ended = GateContext(stage_hours={"Staging": 2.5}.get, stay_running=lambda s: False)
    assert one(gate, version(), ended).detail == (
        "in Staging for 2.5 h; needs 24 h; its stay in Staging ended, so it needs a new one"
    )
    assert one(gate, version(), GateContext(rollback=True)).ok, "a rollback waives it"


def test_not_worse_than_current() -> None:
    gate = {"not_worse_than_current": {"metric": "auc", "tolerance": 0.01}}
    current = version({"auc": 0.905}, version=1)
    assert one(gate, version({"auc": 0.9}), GateContext(current=current)).ok, "within tolerance"
    worse = one(gate, version({"auc": 0.85}), GateContext(current=current))
    assert not worse.ok
    assert worse.detail == "worse: auc = 0.85 against v1's 0.905 (tolerance 0.01)"
    assert one(gate, version({"auc": 0.5}), GateContext()).ok, "nothing to beat"
    lower = {"not_worse_than_current": {"metric": "loss", "higher_is_better": False}}
    cur = GateContext(current=version({"loss": 0.2}, version=1))
    assert one(lower, version({"loss": 0.1}), cur).ok
    assert not one(lower, version({"loss": 0.3}), cur).ok


def test_artifact_gate_needs_a_verifier() -> None:
    gate = {"artifact": "verified"}
    assert one(gate, version(), GateContext()).detail == "the artifact was not checked"
    assert one(gate, version(), GateContext(verify=lambda ref: "")).ok
    bad = one(gate, version(), GateContext(verify=lambda ref: "MISMATCH: size 9"))
    assert not bad.ok and bad.detail == "MISMATCH: size 9"


def test_evaluate_keeps_policy_order() -> None:
    gates = [{"metric": "auc", "min": 0.95}, {"description": "required"}, {"tags": ["x"]}]
    results = evaluate(gates, version(description="d"), GateContext())
    assert [r.gate for r in results] == ["metric", "description", "tags"]
    assert [r.gate for r in failures(results)] == ["metric", "tags"]
