"""yamlio: hostile input is refused with file:line, and dump/load round-trip exactly."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitreg.errors import ManifestError
from gitreg.files import yamlio
from gitreg.files.yamlio import MAX_BYTES, Document, dump, load, load_file

BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)
# Seconds. libyaml takes a few ms; the pure-Python fallback scans up to 1024 characters of
# possible simple keys per token, so 100k brackets take it ~0.3 s. Margins keep CI calm.
FAST = {"c": 1.5, "python": 2.5}  # a bomb that got through takes > 5 s


@pytest.fixture(params=["c", "python"])
def any_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml's parser and with PyYAML's pure-Python fallback."""
    if request.param == "python":
        monkeypatch.setattr(yamlio, "_LOADER", yaml.SafeLoader)
    else:
        assert yamlio._LOADER is yaml.CSafeLoader
    return str(request.param)


def refusal(text: str | bytes) -> str:
    with pytest.raises(ManifestError) as caught:
        load(text, "m.yaml")
    return str(caught.value)


def timed_refusal(text: str) -> tuple[str, float]:
    start = time.perf_counter()
    message = refusal(text)
    return message, time.perf_counter() - start


# ---- hostile input ----------------------------------------------------------------------


def test_alias_bomb_is_refused_at_once(any_loader: str) -> None:
    assert len(BOMB) == 342
    message, seconds = timed_refusal(BOMB)
    assert message == "m.yaml:1: anchors and aliases are not allowed"
    assert seconds < FAST[any_loader]


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: 2\n", "a: 1\nb: *x\n", "a: &x\n  b: 1\nc: [&y 1]\n"],
    ids=["anchor", "alias", "anchored-mapping"],
)
def test_any_anchor_or_alias_is_refused(text: str) -> None:
    assert refusal(text).endswith(": anchors and aliases are not allowed")


@pytest.mark.parametrize(
    ("text", "line"),
    [("a: " + "[" * 100_000, 1), ("{a: " * 60_000, 1), ("a:\n" + "- " * 100_000, 2)],
    ids=["sequences", "mappings", "block"],
)
def test_deep_nesting_is_refused_fast(text: str, line: int, any_loader: str) -> None:
    message, seconds = timed_refusal(text)
    assert message == f"m.yaml:{line}: nesting deeper than 32 levels"
    assert seconds < FAST[any_loader]
    # A deep top-level list is refused too, by whichever check libyaml reaches first.
    deep_list = refusal("[" * 100_000)
    assert deep_list in (
        "m.yaml:1: nesting deeper than 32 levels",
        "m.yaml:1: the top level must be a mapping",
    )


def test_block_nesting_limit_is_exact() -> None:
    nested = "".join("  " * i + f"k{i}:\n" for i in range(33))
    assert refusal(nested) == "m.yaml:33: nesting deeper than 32 levels"
    doc = load("".join("  " * i + f"k{i}:\n" for i in range(32)), "m.yaml")
    assert doc.line(["k0", "k1"]) == 2


def test_oversized_text_is_refused_before_parsing() -> None:
    assert (
        refusal(b"a: '" + b"x" * MAX_BYTES + b"'\n") == "m.yaml: file is larger than 262144 bytes"
    )
    just_fits = "a: " + "x" * (MAX_BYTES - 4) + "\n"
    assert len(just_fits.encode()) == MAX_BYTES
    assert load(just_fits, "m.yaml").data["a"] == "x" * (MAX_BYTES - 4)
    # The cap counts bytes, not characters.
    assert refusal("a: " + "é" * (MAX_BYTES // 2)) == "m.yaml: file is larger than 262144 bytes"


@pytest.mark.usefixtures("any_loader")
@pytest.mark.parametrize(
    "text",
    [
        'a: !!python/object/apply:os.system ["touch SENTINEL"]\n',
        "a: !!python/object/apply:os.system\n  args: ['touch SENTINEL']\n",
        "a: !<tag:yaml.org,2002:python/object/apply:os.system> ['touch SENTINEL']\n",
        "%TAG !p! tag:yaml.org,2002:python/\n---\na: !p!object/apply:os.system ['touch X']\n",
    ],
    ids=["flow", "block", "verbatim", "tag-directive"],
)
def test_python_tags_never_run(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    message = refusal(text)
    assert message.endswith(": tag '!!python/object/apply:os.system' is not allowed")
    assert not (tmp_path / "SENTINEL").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: !!binary aGVsbG8=\n", "m.yaml:2: tag '!!binary' is not allowed"),
        ("a: !!timestamp 2024-01-01\n", "m.yaml:1: tag '!!timestamp' is not allowed"),
        ("a: !!set {x}\n", "m.yaml:1: tag '!!set' is not allowed"),
        ("a: !!omap [x: 1]\n", "m.yaml:1: tag '!!omap' is not allowed"),
        ("a:\n  b: !custom x\n", "m.yaml:2: tag '!custom' is not allowed"),
        ("a: ! x\n", "m.yaml:1: tag '!' is not allowed"),
        ("a: !!map [1]\n", "m.yaml:1: tag '!!map' is not allowed"),
        ("a: !!seq {b: 1}\n", "m.yaml:1: tag '!!seq' is not allowed"),
        ("a: !!int 1.5\n", "m.yaml:1: '1.5' is not a valid !!int"),
        ("a: !!bool yes\n", "m.yaml:1: 'yes' is not a valid !!bool"),
        ("a: !!null x\n", "m.yaml:1: 'x' is not a valid !!null"),
        ("a: !!float 0x1F\n", "m.yaml:1: '0x1F' is not a valid !!float"),
    ],
)
def test_non_standard_tags_are_refused(text: str, expected: str) -> None:
    assert refusal(text) == expected


def test_standard_tags_are_accepted_and_checked() -> None:
    text = "s: !!str 1.10\ni: !!int '3'\nf: !!float 1\nb: !!bool FALSE\nn: !!null ~\n"
    text += "m: !!map {}\nq: !!seq []\n"
    assert load(text, "m.yaml").data == {
        "s": "1.10",
        "i": 3,
        "f": 1.0,
        "b": False,
        "n": None,
        "m": {},
        "q": [],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: m\nstage: Staging\nstage: Production\n",
            "m.yaml:3: duplicate key 'stage' (first at line 2)",
        ),
        ("a:\n  b: 1\n  c: 2\n  b: 3\n", "m.yaml:4: duplicate key 'b' (first at line 2)"),
        ("a: 1\n'a': 2\n", "m.yaml:2: duplicate key 'a' (first at line 1)"),
        ("x: [{k: 1, k: 2}]\n", "m.yaml:1: duplicate key 'k' (first at line 1)"),
    ],
    ids=["top", "nested", "quoted", "flow"],
)
def test_duplicate_keys_name_both_lines(text: str, expected: str) -> None:
    assert refusal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1: a\n", "m.yaml:1: keys must be strings, got 1 (quote it)"),
        ("a: 1\nnull: a\n", "m.yaml:2: keys must be strings, got null (quote it)"),
        ("yes: a\nTrue: b\n", "m.yaml:2: keys must be strings, got true (quote it)"),
        ("? [a]\n: 1\n", "m.yaml:1: keys must be strings, got a collection"),
        ("{[a]: 1}\n", "m.yaml:1: keys must be strings, got a collection"),
    ],
)
def test_keys_must_be_strings(text: str, expected: str) -> None:
    assert refusal(text) == expected


@pytest.mark.usefixtures("any_loader")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "m.yaml: the file is empty"),
        ("# just a comment\n\n", "m.yaml: the file is empty"),
        ("---\n", "m.yaml:2: the top level must be a mapping"),
        ("- a\n- b\n", "m.yaml:1: the top level must be a mapping"),
        ("just text\n", "m.yaml:1: the top level must be a mapping"),
        ("a: 1\n---\nb: 2\n", "m.yaml:2: only one YAML document is allowed"),
        ("a: 1\n...\n---\na: 1\n", "m.yaml:3: only one YAML document is allowed"),
        (b"name: m\nstage: \xff\n", "m.yaml:2: invalid UTF-8"),
        (b"\xff\xfea\x00:\x00", "m.yaml:1: invalid UTF-8"),
        ("a: 1\nb: x\x00y\n", "m.yaml:2: character U+0000 is not allowed"),
        ("a: \x1b[31m\n", "m.yaml:1: character U+001B is not allowed"),
        ("a: 1\nb: \ud800\n", "m.yaml:2: invalid Unicode (a lone surrogate)"),
        ("a: " + "9" * 4301 + "\n", "m.yaml:1: integer has more than 4300 digits"),
    ],
)
def test_refusals(text: str | bytes, expected: str) -> None:
    assert refusal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: m\nartifact:\n\turi: x\n",
            "m.yaml:3: not valid YAML: found character that cannot start any token",
        ),
        ("a: 'unclosed\n", "m.yaml:2: not valid YAML: found unexpected end of stream"),
        ("a: [1, 2\nb: 3\n", "m.yaml:2: not valid YAML: did not find expected ',' or ']'"),
        (
            "a: 1\n b: 2\n",
            "m.yaml:2: not valid YAML: mapping values are not allowed in this context",
        ),
    ],
    ids=["tab", "unclosed-quote", "unclosed-flow", "bad-indent"],
)
def test_syntax_errors_carry_libyaml_problem_and_line(text: str, expected: str) -> None:
    assert refusal(text) == expected


def test_a_byte_order_mark_is_fine() -> None:
    assert load(b"\xef\xbb\xbfa: 1\n", "m.yaml").data == {"a": 1}


# ---- implicit typing: YAML 1.2 core schema, never YAML 1.1 ------------------------------


@pytest.mark.parametrize(
    ("plain", "expected"),
    [
        ("NO", "NO"),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("Off", "Off"),
        ("y", "y"),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("tRUE", "tRUE"),
        ("null", None),
        ("~", None),
        ("NULL", None),
        ("", None),
        ("nUll", "nUll"),
        ("1.10", 1.1),
        ("2024-01-01", "2024-01-01"),
        ("2024-13-45", "2024-13-45"),
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("0x10", "0x10"),
        ("0o17", "0o17"),
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("1:20", "1:20"),
        ("0e12345", 0.0),
        ("1e5", 100000.0),
        ("-.5", -0.5),
        ("+12", 12),
        ("007", 7),
        ("-0", 0),
        ("1.", 1.0),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("inf", "inf"),
        ("NaN", "NaN"),
        ("1.0e+17", 1e17),
        ("12 monkeys", "12 monkeys"),
    ],
)
def test_plain_scalars_resolve_like_yaml_1_2(plain: str, expected: Any) -> None:
    value = load(f"v: {plain}\n", "m.yaml").data["v"]
    assert value == expected
    assert type(value) is type(expected)


def test_nan_and_quoted_scalars() -> None:
    data = load("n: .NaN\nq: '1.10'\nd: \"NO\"\nb: |\n  true\n", "m.yaml").data
    assert math.isnan(data["n"])
    assert data["q"] == "1.10"
    assert data["d"] == "NO"
    assert data["b"] == "true\n"


# ---- lines and files ----------------------------------------------------------------------


def test_lines_point_at_keys_and_items() -> None:
    text = (
        "# yaml-language-server: $schema=x\nname: m\nartifact:\n  uri: s3://b/k\n"
        "  files:\n  - path: a\n    size: 1\n  -\n    path: b\n"
    )
    doc = load(text, "m.yaml")
    assert doc.lines[()] == 2
    assert doc.line(["name"]) == 2
    assert doc.line(("artifact", "uri")) == 4
    assert doc.line(("artifact", "files", 0)) == 6
    assert doc.line(("artifact", "files", 0, "size")) == 7
    assert doc.line(("artifact", "files", 1, "path")) == 9
    # Missing nodes fall back to their nearest ancestor.
    assert doc.line(("artifact", "files", 0, "digest")) == 6
    assert doc.line(("artifact", "nope", 3)) == 3
    assert doc.line(("nope",)) == 2
    assert doc.line(()) == 2
    assert Document({}, "x", {}).line(("a",)) is None


def test_load_file_uses_the_display_name(tmp_path: Path) -> None:
    file = tmp_path / "3.yaml"
    file.write_text("name: m\nname: n\n")
    with pytest.raises(ManifestError) as caught:
        load_file(file, "models/m/versions/3.yaml")
    assert str(caught.value) == "models/m/versions/3.yaml:2: duplicate key 'name' (first at line 1)"
    file.write_text("name: m\n")
    assert load_file(file).data == {"name": "m"}
    assert load_file(file).path == str(file)


def test_load_file_refuses_big_odd_and_missing_files(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" + b"#" * MAX_BYTES)
    target = tmp_path / "real.yaml"
    target.write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to(target)
    os.mkfifo(tmp_path / "fifo.yaml")  # opening it for reading must not hang
    cases = {
        "big.yaml": "big.yaml: file is larger than 262144 bytes",
        "link.yaml": "link.yaml: cannot read the file: it is a symbolic link",
        "fifo.yaml": "fifo.yaml: not a regular file",
        ".": ".: not a regular file",
        "missing.yaml": "missing.yaml: cannot read the file: No such file or directory",
    }
    for name, expected in cases.items():
        with pytest.raises(ManifestError) as caught:
            load_file(tmp_path / name, name)
        assert str(caught.value) == expected


# ---- dump ------------------------------------------------------------------------------


def test_dump_is_canonical() -> None:
    data = {
        "name": "churn",
        "version": 3,
        "stage": "None",
        "description": "# Churn\n\nTrained on *Q1*.\n\n- auc 0.91\n",
        "artifact": {"uri": "s3://b/k", "digest": "sha256:" + "a" * 64, "size": 0},
        "metrics": {"auc": 0.91, "big": 1e17, "tiny": 1e-05, "loss": 2.0},
        "params": {"lr": "0.01", "flag": "NO", "when": "2024-01-01"},
        "tags": {},
        "lineage": {"run_id": ""},
        "flags": [True, None, -0.0, math.inf],
        "created_at": "2024-05-01T12:00:00Z",
    }
    text = dump(data, "../../../schemas/version.schema.json")
    assert text == (
        "# yaml-language-server: $schema=../../../schemas/version.schema.json\n"
        "name: churn\n"
        "version: 3\n"
        "stage: None\n"
        "description: |\n"
        "  # Churn\n"
        "\n"
        "  Trained on *Q1*.\n"
        "\n"
        "  - auc 0.91\n"
        "artifact:\n"
        "  uri: s3://b/k\n"
        f"  digest: sha256:{'a' * 64}\n"
        "  size: 0\n"
        "metrics:\n"
        "  auc: 0.91\n"
        "  big: 1.0e+17\n"
        "  tiny: 1.0e-05\n"
        "  loss: 2.0\n"
        "params:\n"
        "  lr: '0.01'\n"
        "  flag: 'NO'\n"
        "  when: '2024-01-01'\n"
        "tags: {}\n"
        "lineage:\n"
        "  run_id: ''\n"
        "flags:\n"
        "- true\n"
        "- null\n"
        "- -0.0\n"
        "- .inf\n"
        "created_at: '2024-05-01T12:00:00Z'\n"
    )
    assert dump(data, "../../../schemas/version.schema.json") == text
    assert load(text, "m.yaml").data == data
    assert dump(load(text, "m.yaml").data, "../../../schemas/version.schema.json") == text
    assert dump({"a": 1}) == "a: 1\n"


TRICKY = [
    "yes",
    "NO",
    "on",
    "1.10",
    "2024-01-01",
    "0x1F",
    "1_000",
    "null",
    "~",
    "",
    " ",
    "08",
    "007",
    "1e5",
    "-.5",
    "0e12345",
    ".inf",
    "+1",
    "true",
    "- a",
    "? b",
    "a: b",
    "a #b",
    "#",
    "@x",
    "`x",
    "%x",
    "!x",
    "&x",
    "*x",
    "|",
    ">",
    "[a]",
    "{a: 1}",
    "'quoted'",
    '"dq"',
    "---",
    "...",
    "tab\there",
    "trailing ",
    " leading",
    "é ünïcode ✓ 😀",
    "\ufeffbom",
    "nul\x00",
    "bell\x07",
    "cr\rlf",
    "nel\x85x",
    "ls\u2028ps\u2029",
    "x" * 300,
]
MULTILINE = [
    "# Title\n\nSome *Markdown*.\n\n- a\n- b\n",
    "no trailing newline\nsecond",
    "two trailing\n\n",
    "three trailing\n\n\n",
    "\n",
    "\n\n",
    "\nleading break",
    "  indented first line\nthen not\n",
    "trailing space \nx\n",
    "tab\tinside\nx\n",
    "```python\nprint('hi')  # code\n```\n",
    "crlf\r\nline\r\n",
    "a\n\u2028b\n",
]


@pytest.mark.parametrize("value", TRICKY + MULTILINE)
def test_tricky_strings_round_trip_as_values_and_keys(value: str) -> None:
    data = {"v": value, value: "k", "l": [value]}
    text = dump(data)
    assert load(text, "m.yaml").data == data
    assert dump(load(text, "m.yaml").data) == text


@pytest.mark.parametrize("value", MULTILINE[:4] + MULTILINE[6:8] + MULTILINE[10:11])
def test_markdown_dumps_as_a_literal_block(value: str) -> None:
    assert dump({"description": value}).startswith("description: |")


def test_dump_never_writes_anchors_for_shared_objects() -> None:
    shared = {"k": "v"}
    text = dump({"a": shared, "b": shared, "c": [shared]})
    assert "&" not in text and "*" not in text
    assert load(text, "m.yaml").data == {"a": shared, "b": shared, "c": [shared]}


def test_dump_normalises_tuples_and_refuses_what_load_cannot_return() -> None:
    assert dump({"t": (1, 2)}) == "t:\n- 1\n- 2\n"
    with pytest.raises(TypeError):
        dump({"a": {1: "x"}})
    with pytest.raises(TypeError):
        dump({"a": b"bytes"})


# ---- properties ------------------------------------------------------------------------

YAMLISH = st.text(alphabet="ab1.:-? []{},&*!|>'\"#\n\t%@`~x0e", max_size=120)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), YAMLISH.map(str.encode), st.text(max_size=100)))
def test_any_input_loads_or_raises_manifest_error(raw: bytes | str) -> None:
    try:
        doc = load(raw, "fuzz.yaml")
    except ManifestError as err:
        assert err.path == "fuzz.yaml"
        assert err.message
    else:
        assert isinstance(doc.data, dict)


def _values(depth: int) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    if depth == 0:
        return scalars
    inner = _values(depth - 1)
    return scalars | st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(), _values(3), max_size=5))
def test_dump_then_load_is_identity(data: dict[str, Any]) -> None:
    text = dump(data, "schema.json")
    assert load(text, "m.yaml").data == data
    assert dump(load(text, "m.yaml").data, "schema.json") == text


def test_dump_writes_subclasses_as_plain_values() -> None:
    import enum

    class Stage(str, enum.Enum):
        PROD = "Production"

    class Level(enum.IntEnum):
        HIGH = 3

    assert dump({Stage.PROD: Stage.PROD, "n": Level.HIGH}) == "Production: Production\nn: 3\n"
