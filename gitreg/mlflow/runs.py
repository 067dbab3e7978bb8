"""What a version created from an MLflow run carries into its manifest.

MLflow keeps metrics on runs; gitreg's gates judge the version's manifest. When a version
is created from a run (``runs:/…``, a logged model ``models:/m-…``, or a ``run_id``), the
run's metrics (latest value of each) and params are copied into ``metrics`` and ``params``,
a logged model's own metrics and params over them, and the run tags a gate or a reviewer
needs into ``lineage`` (``LINEAGE_TAGS``). Values gitreg cannot store are left out:
non-finite metrics (a gate on them fails closed, as on a missing one), keys gitreg refuses,
and params that look like credentials (their keys are listed in ``lineage.withheld_params``;
the registry's history is cloned everywhere). A run the tracking store does not know adds
nothing: MLflow's own store accepts any ``run_id`` too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlflow.exceptions import MlflowException

from gitreg import secrets
from gitreg.errors import UsageError
from gitreg.layout import check_key

# run tag -> lineage key
LINEAGE_TAGS = {
    "mlflow.source.git.commit": "source_commit",
    "mlflow.source.git.repoURL": "source_repo",
    "mlflow.source.git.branch": "source_branch",
    "mlflow.source.name": "source_name",
    "mlflow.user": "run_user",
    "data_version": "data_version",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    lineage: dict[str, str] = field(default_factory=dict)


def run_facts(client: Any, run_id: str | None, logged_model: Any = None) -> RunFacts:
    """The facts of run ``run_id`` (and of ``logged_model``, a LoggedModel, if given),
    read through ``client`` (an MlflowClient on the tracking store)."""
    metrics: dict[str, Any] = {}
    params: dict[str, str] = {}
    lineage: dict[str, str] = {}
    run = None
    if run_id:
        try:
            run = client.get_run(run_id)
        except MlflowException:
            run = None  # unknown to this tracking store: nothing to copy
    if run is not None:
        metrics.update(run.data.metrics)
        params.update(run.data.params)
        tags = run.data.tags
        lineage = {key: str(tags[tag]) for tag, key in LINEAGE_TAGS.items() if tags.get(tag)}
        lineage["experiment_id"] = str(run.info.experiment_id)
        datasets = sorted(
            f"{d.dataset.name}@{d.dataset.digest}" for d in run.inputs.dataset_inputs or []
        )
        if datasets and "data_version" not in lineage:
            lineage["data_version"] = ", ".join(datasets)
    if logged_model is not None:
        latest: dict[str, tuple[int, int]] = {}
        for m in logged_model.metrics or []:
            order = (m.step or 0, m.timestamp or 0)
            if m.key not in latest or order >= latest[m.key]:
                latest[m.key], metrics[m.key] = order, m.value
        params.update(logged_model.params or {})
    return RunFacts(
        metrics={k: float(v) for k, v in metrics.items() if _metric_ok(k, v)},
        params=_without_secrets({k: str(v) for k, v in params.items() if _key_ok(k)}, lineage),
        lineage={k: v for k, v in lineage.items() if len(v) <= 6000},
    )


def _key_ok(key: str) -> bool:
    try:
        check_key(key)
    except UsageError:
        return False
    return True


def _metric_ok(key: str, value: Any) -> bool:
    return (
        _key_ok(key)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _without_secrets(params: dict[str, str], lineage: dict[str, str]) -> dict[str, str]:
    kept, withheld = {}, []
    for key, value in params.items():
        try:
            secrets.refuse(params={key: value})
        except UsageError:
            withheld.append(key if secrets.find(key) is None else "(a secret-like key)")
            continue
        if len(value) <= 6000:
            kept[key] = value
    if withheld:
        lineage["withheld_params"] = ", ".join(sorted(withheld))
    return kept
