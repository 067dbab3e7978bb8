"""gitreg.yaml's stages and promotion rules."""

from __future__ import annotations

import pytest

from gitreg.config import Config, Rule
from gitreg.errors import UsageError

POLICY = {
    "stages": ["None", "Staging", "Production", "Archived"],
    "promotion": {
        "Production": {
            "via": "pull_request",
            "from": ["Staging"],
            "exclusive": True,
            "gates": [{"metric": "auc", "min": 0.8}],
        },
    },
    "overrides": {"payments-*": {"Production": {"gates": [{"metric": "auc", "min": 0.95}]}}},
}


def test_rules_and_overrides() -> None:
    cfg = Config.from_dict(POLICY)
    assert cfg.rule("fraud", "Staging") == Rule()
    prod = cfg.rule("fraud", "Production")
    assert (prod.via, prod.from_stages, prod.exclusive) == ("pull_request", ("Staging",), True)
    pay = cfg.rule("payments-eu", "Production")
    assert pay.via == "pull_request" and pay.exclusive, "an override keeps what it does not set"
    assert pay.gates == ({"metric": "auc", "min": 0.95},)


def test_stage_names() -> None:
    cfg = Config.from_dict(POLICY)
    assert cfg.canonical_stage("production") == "Production"
    assert cfg.initial_stage == "None" and cfg.archive_stage == "Archived"
    with pytest.raises(
        UsageError, match=r"unknown stage 'Prod': gitreg\.yaml allows None, Staging"
    ):
        cfg.canonical_stage("Prod")


def test_defaults() -> None:
    cfg = Config.from_dict({})
    assert cfg.stages == ("None", "Staging", "Production", "Archived")
    assert cfg.store == "file://../registry-artifacts"
