"""The streamed JSON writer prints exactly what ``json.dumps(indent=2,
ensure_ascii=False)`` prints, for any data, in chunks or not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitreg.query import jsontext as jsonout

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),  # keys json turns into strings
    max_leaves=20,
)


def dumped(items: list[Any]) -> str:
    out: list[str] = []
    jsonout.write_list(iter(items), out.append)
    return "".join(out)


@settings(max_examples=300)
@given(st.lists(values, max_size=6))
def test_same_text_as_json_dumps(items: list[Any]) -> None:
    assert dumped(items) == json.dumps(items, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("n", [0, 1, jsonout._CHUNK, jsonout._CHUNK * 2 + 1])
def test_chunked_writes_join_to_the_whole(n: int) -> None:
    items = [{"name": 'é\n"x', "version": i, "m": {"auc": i / 3}, "a": []} for i in range(n)]
    writes: list[str] = []
    jsonout.write_list(items, writes.append)
    assert "".join(writes) == json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    assert len(writes) == n // jsonout._CHUNK + 1


def test_a_value_of_another_type_goes_to_the_standard_encoder() -> None:
    class Text(str):
        pass

    items = [{"k": Text("v"), "n": [True, None, float("nan"), -float("inf")]}]
    assert dumped(items) == json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    with pytest.raises(TypeError):
        dumped([{"k": object()}])


@given(
    st.dictionaries(st.text(max_size=5), values, min_size=1, max_size=4),
    st.lists(st.text(max_size=6), max_size=3),
)
def test_aliases_spliced_into_a_stored_text_read_as_rendered_whole(
    data: dict[str, Any], aliases: list[str]
) -> None:
    from gitreg.query import texts

    data.pop("aliases", None)
    if not data:
        return
    whole = jsonout.render_item({**data, "aliases": aliases})
    assert texts.with_aliases(texts.text_of(data), aliases) == whole
