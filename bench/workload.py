"""The logical workload every registry in the benchmark is filled with, as plain tuples
(standard library only, so the peers' own Python can import it too).

``models`` models named ``model-00000``..., each with ``per_model`` versions carrying a
metric, a param, a tag and a run id; the second newest is moved to Production and the
newest to Staging, alias ``champion`` points at the Production one, and each model gets a
``team`` tag. Every tuple is one operation (one commit in a git registry)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

Op = tuple[Any, ...]
"""("register", name, version, metrics, params, tags, run_id) | ("stage", name, version,
stage) | ("alias", name, alias, version) | ("model_tag", name, key, value)"""


def model_name(i: int) -> str:
    return f"model-{i:05d}"


def split(total: int, models: int | None = None) -> tuple[int, int]:
    """(models, versions per model) for ``total`` versions: ten versions a model."""
    models = models or max(1, total // 10)
    return models, max(1, total // models)


def operations(models: int, per_model: int, seed: int = 7) -> Iterator[Op]:
    """The operations for one model after another, in the order they happen."""
    for i in range(models):
        yield from model_operations(i, per_model, seed)


def model_operations(i: int, per_model: int, seed: int = 7) -> list[Op]:
    """The operations on model ``i`` (the same whatever the other models are)."""
    rng = random.Random(seed * 1_000_003 + i)
    name = model_name(i)
    ops: list[Op] = []
    for v in range(1, per_model + 1):
        metrics = {"val_auc": round(0.7 + rng.random() * 0.3, 4)}
        ops.append(("register", name, v, metrics, {"lr": "0.01"}, {"n": str(v)}, f"run-{i}-{v}"))
    prod = max(1, per_model - 1)
    ops.append(("stage", name, prod, "Production"))
    if per_model > 1:
        ops.append(("stage", name, per_model, "Staging"))
    ops.append(("alias", name, "champion", prod))
    ops.append(("model_tag", name, "team", f"team-{i % 7}"))
    return ops
