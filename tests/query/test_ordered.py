"""Searches answered in SQL (query.ordered) give exactly what the plain evaluator gives:
every version's row filtered in Python and sorted in full, for orders by metrics and
columns, ties, absent and NaN metrics, limits, and filters SQL judges in whole, in part
or not at all; and they see the work tree as it is now, edits and new files included."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from search_reference import reference_search

from gitreg import Registry
from gitreg.errors import ManifestError
from gitreg.query import ordered, search
from gitreg.registry.template import init_registry


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("ordered") / "reg"
    init_registry(root)
    art = root.parent / "m.bin"
    art.write_bytes(b"x")
    r = Registry(root)
    auc = [0.5, 0.2, 0.5, 0.9, 0.1, 0.5, 0.7, 0.2]  # ties on purpose
    for i, value in enumerate(auc):
        name = ("a", "b", "c.d", "Fraud Detector")[i % 4]
        metrics: dict[str, float] = {"auc": value, "loss": i % 3}
        if i % 5 == 4:
            metrics = {"loss": 2}  # no auc at all
        r.register(name, art.as_uri(), metrics=metrics, tags={"n": str(i % 2)})
    r.transition("a", 1, "Staging")
    r.set_alias("b", "best", 1)
    # a NaN cannot be registered, but a hand-edited file can hold one
    path = root / "models" / "c.d" / "versions" / "1.yaml"
    path.write_text(re.sub(r"auc: \S+", "auc: .nan", path.read_text()))
    return r


def reference(reg: Registry, text: str, order: list[str], limit: int | None) -> list[Any]:
    return keys(reference_search(reg, text, order, limit))  # type: ignore[return-value]


def keys(found: list[Any] | None) -> list[tuple[str, int, tuple[str, ...]]] | None:
    """What a search found, comparable (a NaN metric is not equal to itself)."""
    return None if found is None else [(mv.name, mv.version, a) for mv, a in found]


FILTERS = [
    "",
    "metrics.auc > 0.2",
    "metrics.auc >= 0.5 AND stage = 'Staging'",
    "metrics.auc < 0.6 OR tags.n = '1'",
    "metrics.loss = 1",
    "alias = 'best'",
    "metrics.auc != 0.2",
    "version_number >= 2 AND metrics.auc <= 0.5",
    "stage IN ('Staging', 'None') AND tags.n = '0'",
    "metrics.nope > 0",
    "metrics.auc IS NULL",
    "name LIKE '%a%' AND metrics.loss >= 1",
]
ORDERS = [
    [],
    ["metrics.auc DESC"],
    ["metrics.auc"],
    ["metrics.loss ASC", "metrics.auc DESC"],
    ["metrics.loss DESC", "metrics.auc"],
    ["stage", "metrics.auc DESC"],
    ["version_number"],
    ["name DESC"],
]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("limit", [None, 1, 3, 50])
def test_sql_answers_equal_the_plain_evaluator(
    reg: Registry, order: list[str], limit: int | None
) -> None:
    index = reg._index
    assert index is not None
    for text in FILTERS:
        want = reference(reg, text, order, limit)
        got = ordered.search_versions(index, reg.root, search.parse(text), order, limit)
        assert keys(got) == want, (text, order, limit)  # answered in SQL, not handed back
        assert keys(reg.search_version_records(text, order, limit)) == want


def test_an_order_sql_cannot_sort_is_left_to_the_evaluator(reg: Registry) -> None:
    index = reg._index
    assert index is not None
    flt = search.parse("")
    order = ["tags.n DESC"]
    assert ordered.search_versions(index, reg.root, flt, order, 3) is None
    assert keys(reg.search_version_records("", order, 3)) == reference(reg, "", order, 3)


def test_edits_and_new_files_are_seen_at_once(tmp_path: Path) -> None:
    init_registry(tmp_path / "reg")
    art = tmp_path / "m.bin"
    art.write_bytes(b"x")
    r = Registry(tmp_path / "reg")
    for value in (0.1, 0.2, 0.3):
        r.register("m", art.as_uri(), metrics={"auc": value})
    top = ["metrics.auc DESC"]
    assert [v.version for v in Registry(r.root).search_versions("", top, 1)] == [3]
    one = r.root / "models" / "m" / "versions" / "1.yaml"
    one.write_text(one.read_text().replace("auc: 0.1", "auc: 0.99"))  # in place, uncommitted
    assert [v.version for v in Registry(r.root).search_versions("", top, 1)] == [1]
    copy = (r.root / "models" / "m" / "versions" / "3.yaml").read_text()
    (r.root / "models" / "m" / "versions" / "4.yaml").write_text(copy)  # says version 3
    with pytest.raises(ManifestError, match=r"4\.yaml"):
        Registry(r.root).search_versions("metrics.auc > 0.5", top, 1)
