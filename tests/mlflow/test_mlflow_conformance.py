"""The plugin answers as MLflow's SQL store does, checked side by side: the same calls go to
MLflow's own SQLite registry and to a gitreg registry, and the answers are compared."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_mlflow_store import make_registry

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning"
)


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("GITREG_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def clients(tmp_path: Path) -> tuple[Any, Any]:
    """(MLflow's SQL store, gitreg), sharing one tracking store."""
    from mlflow import MlflowClient

    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = make_registry(tmp_path / "reg")
    return MlflowClient(db, db), MlflowClient(db, f"gitreg://{reg}")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "MLmodel").write_text("flavors: {}\n")
    return d


def answer(call: Callable[[], Any]) -> tuple[str, Any]:
    from mlflow.exceptions import MlflowException

    try:
        return "ok", call()
    except MlflowException as e:
        return e.error_code, e.message


def both(clients: tuple[Any, Any], call: Callable[[Any], Any]) -> tuple[Any, Any]:
    sql, gitreg = clients
    return answer(lambda: call(sql)), answer(lambda: call(gitreg))


def test_millisecond_timestamps_and_last_updated_move(
    clients: tuple[Any, Any], model_dir: Path
) -> None:
    for c in clients:
        c.create_registered_model("m")
        made = [c.create_model_version("m", str(model_dir)) for _ in range(3)]
        stamps = [v.creation_timestamp for v in made]
        assert stamps == sorted(set(stamps)), "versions made ms apart keep their order"
        assert [v.version for v in c.search_model_versions("name = 'm'")] == [3, 2, 1]
        before = c.get_model_version("m", 1)
        model_before = c.get_registered_model("m").last_updated_timestamp
        time.sleep(0.005)
        c.update_model_version("m", 1, "better")
        after = c.get_model_version("m", 1)
        assert after.last_updated_timestamp > before.last_updated_timestamp
        assert after.creation_timestamp == before.creation_timestamp
        time.sleep(0.005)
        c.transition_model_version_stage("m", 1, "Staging")
        moved = c.get_model_version("m", 1).last_updated_timestamp
        assert moved > after.last_updated_timestamp
        assert c.get_registered_model("m").last_updated_timestamp >= moved > model_before
        newest = c.search_model_versions("name = 'm'", order_by=["last_updated_timestamp DESC"])
        assert newest[0].version == 1


def test_source_is_kept_as_given_and_searchable(clients: tuple[Any, Any], model_dir: Path) -> None:
    for c in clients:
        c.create_registered_model("m")
        c.create_model_version("m", str(model_dir))
        [found] = c.search_model_versions(f"source_path = '{model_dir}'")
        assert found.source == str(model_dir)
        assert len(c.search_model_versions(f"source_path LIKE '{model_dir.parent}/%'")) == 1


def test_versions_are_ints_and_copies_keep_the_source(
    clients: tuple[Any, Any], model_dir: Path
) -> None:
    seen = []
    for c in clients:
        c.create_registered_model("m")
        c.create_model_version("m", str(model_dir), tags={"k": "v"})
        copy = c.copy_model_version("models:/m/1", "m-copy")
        latest = c.get_latest_versions("m-copy")
        seen.append(
            (copy.name, copy.version, copy.source, copy.tags, [type(v.version) for v in latest])
        )
    assert seen[0] == seen[1] == ("m-copy", 1, "models:/m/1", {"k": "v"}, [int])


BAD_CALLS: dict[str, Callable[[Any], Any]] = {
    "order versions by run_id": lambda c: c.search_model_versions(order_by=["run_id"]),
    "order models by creation": lambda c: c.search_registered_models(
        order_by=["creation_timestamp"]
    ),
    "filter models by run_id": lambda c: c.search_registered_models("run_id = 'x'"),
    "tag comparator": lambda c: c.search_registered_models("tags.x > 'x'"),
    "unknown version field": lambda c: c.search_model_versions("foo = 'x'"),
    "unknown order key": lambda c: c.search_model_versions(order_by=["foo"]),
    "duplicate order key": lambda c: c.search_model_versions(order_by=["name", "name DESC"]),
    "version zero": lambda c: c.get_model_version("m", "0"),
    "version not a number": lambda c: c.get_model_version("m", "x"),
    "empty tag key": lambda c: c.set_model_version_tag("m", "1", "", "v"),
    "long tag key": lambda c: c.set_registered_model_tag("m", "k" * 300, "v"),
    "empty model name": lambda c: c.create_registered_model(""),
    "slash in name": lambda c: c.create_registered_model("a/b"),
    "empty new name": lambda c: c.rename_registered_model("m", ""),
    "reserved alias": lambda c: c.set_registered_model_alias("m", "v1", "1"),
    "alias to a missing version": lambda c: c.set_registered_model_alias("m", "a", "9"),
    "unknown stage": lambda c: c.transition_model_version_stage("m", "1", "bogus"),
    "prompt as a model": lambda c: c.create_registered_model(
        "p", tags={"mlflow.prompt.is_prompt": "true"}
    ),
    "missing model": lambda c: c.update_registered_model("nope", "d"),
    "missing version": lambda c: c.delete_model_version("m", "9"),
}


def test_refusals_match_mlflows_code_and_words(clients: tuple[Any, Any], model_dir: Path) -> None:
    for c in clients:
        c.create_registered_model("m")
        c.create_model_version("m", str(model_dir))
    differ = {}
    for what, call in BAD_CALLS.items():
        sql, gitreg = both(clients, call)
        assert sql[0] != "ok", (what, sql)
        if gitreg != sql:
            differ[what] = (sql, gitreg)
    assert differ == {}


def test_prompts_are_kept_apart(clients: tuple[Any, Any], model_dir: Path) -> None:
    seen = []
    for c in clients:
        c.create_registered_model("m")
        c.create_model_version("m", str(model_dir))
        c.register_prompt("greet", "Hello {{name}}", commit_message="first")
        prompt = c.load_prompt("prompts:/greet/1")
        seen.append(
            (
                [m.name for m in c.search_registered_models()],
                [(v.name, v.version) for v in c.search_model_versions()],
                [p.name for p in c.search_prompts()],
                prompt.template,
                prompt.format(name="Ana"),
            )
        )
    assert seen[0] == seen[1] == (["m"], [("m", 1)], ["greet"], "Hello {{name}}", "Hello Ana")
