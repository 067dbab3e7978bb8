"""The filter language: what each comparison matches, every parse error's exact message and
column, order_by, and property tests against an independent oracle."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitreg.errors import UsageError
from gitreg.query.search import Compare, Field, FilterError, Junction, parse, sort_records

NAN = float("nan")
VERSION: dict[str, Any] = {
    "name": "fraud-a.b",
    "version_number": 3,
    "stage": "Production",
    "run_id": "run-1",
    "source_path": "s3://bucket/fraud/3",
    "description": "Card fraud, 50% off",
    "creation_timestamp": 1_000,
    "last_updated_timestamp": 2_000,
    "tags": {"team": "risk", "my key": "spaced", "mlflow.source.type": "JOB", "it's": "q'uote"},
    "metrics": {"val_auc": 0.93, "loss": 2, "nan_metric": NAN},
    "params": {"lr": "0.01", "opt": "Adam"},
    "aliases": ["champion", "prod-2024"],
}
# a model record: no version_number, stage, run_id, source_path, metrics or params
MODEL: dict[str, Any] = {
    "name": "churn",
    "description": "",
    "creation_timestamp": 5,
    "last_updated_timestamp": 5,
    "tags": {},
    "aliases": [],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # strings: name, run_id, source_path, stage, description
        ("name = 'fraud-a.b'", True),
        ("name = 'Fraud-a.b'", False),
        ("name != 'churn'", True),
        ("name != 'fraud-a.b'", False),
        ('name = "fraud-a.b"', True),
        ("run_id = 'run-1'", True),
        ("source_path = 's3://bucket/fraud/3'", True),
        ("source LIKE 's3://%'", True),
        ("stage = 'Production'", True),
        ("current_stage = 'production'", False),
        ("stage ILIKE 'production'", True),
        ("description LIKE '%50\\% off'", False),  # backslash is literal, not an escape
        ("description LIKE '%50% off'", True),
        ("attribute.name = 'fraud-a.b'", True),
        ("attributes.stage = 'Production'", True),
        ("attributes.`stage` = 'Production'", True),
        # numbers: version_number, timestamps, metrics
        ("version_number = 3", True),
        ("version = 3.0", True),
        ("version_number != 3", False),
        ("version_number < 4", True),
        ("version_number <= 3", True),
        ("version_number > 3", False),
        ("version_number >= 3", True),
        ("version_number IN (1, 2, 3)", True),
        ("version_number NOT IN (1, 2)", True),
        ("creation_timestamp < 1e3", False),
        ("creation_timestamp <= 1e3", True),
        ("last_updated_timestamp > +1999.5", True),
        ("metrics.val_auc > 0.9", True),
        ("metric.val_auc >= .93", True),
        ("metrics.val_auc < 0.93", False),
        ("metrics.loss = 2.0", True),
        ("metrics.loss > -1", True),
        ("metrics.loss IN (1, 2)", True),
        ("metrics.loss > 1e999", False),
        ("metrics.loss > -1e999", True),
        # tags and params
        ("tags.team = 'risk'", True),
        ("tag.team != 'risk'", False),
        ("tags.team IN ('risk', 'ops')", True),
        ("tags.team NOT IN ('risk')", False),
        ("tags.team LIKE 'r_sk'", True),
        ("tags.mlflow.source.type = 'JOB'", True),
        ("tags.`mlflow.source.type` = 'JOB'", True),
        ("tags.`my key` = 'spaced'", True),
        ("tags.\"my key\" = 'spaced'", True),
        ("tags.`it's` = 'q''uote'", True),
        ('tags."it\'s" = "q\'uote"', True),
        ("params.lr = '0.01'", True),
        ("param.opt ILIKE 'adam'", True),
        ("params.opt LIKE 'adam'", False),
        # aliases: a set
        ("aliases = 'champion'", True),
        ("alias = 'champ'", False),
        ("aliases != 'champion'", False),
        ("aliases != 'challenger'", True),
        ("aliases IN ('challenger', 'prod-2024')", True),
        ("aliases NOT IN ('challenger', 'prod-2024')", False),
        ("aliases NOT IN ('challenger')", True),
        ("aliases LIKE 'cham%'", True),
        ("aliases ILIKE 'PROD-%'", True),
        ("aliases IS NULL", False),
        ("aliases IS NOT NULL", True),
        # IS [NOT] NULL
        ("run_id IS NOT NULL", True),
        ("run_id IS NULL", False),
        ("tags.team IS NOT NULL", True),
        ("tags.absent IS NULL", True),
        ("metrics.absent IS NULL", True),
        ("metrics.nan_metric IS NULL", False),  # a NaN is present
        ("metrics.nan_metric IS NOT NULL", True),
        # everything matches the empty filter
        ("", True),
        ("   \t", True),
    ],
)
def test_comparisons(text: str, expected: bool) -> None:
    assert parse(text).matches(VERSION) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an absent value fails every comparison but != / NOT IN / IS NULL
        ("tags.`mlflow.prompt.is_prompt` != 'true'", True),  # the MLflow client's own clause
        ("tags.`mlflow.prompt.is_prompt` = 'true'", False),
        ("tags.missing NOT IN ('a', 'b')", True),
        ("tags.missing IN ('a', 'b')", False),
        ("tags.missing LIKE '%'", False),
        ("tags.missing ILIKE '%'", False),
        ("tags.missing IS NULL", True),
        ("tags.missing IS NOT NULL", False),
        ("metrics.val_auc > 0", False),
        ("metrics.val_auc < 0", False),
        ("metrics.val_auc != 0", True),
        ("params.lr = '0.01'", False),
        ("params.lr != '0.01'", True),
        ("version_number = 1", False),
        ("version_number != 1", True),
        ("version_number >= 0", False),
        ("run_id = 'x'", False),
        ("run_id != 'x'", True),
        ("run_id IS NULL", True),
        ("stage IS NULL", True),
        ("description IS NULL", False),  # empty but present
        ("description = ''", True),
        ("aliases = 'champion'", False),
        ("aliases != 'champion'", True),
        ("aliases NOT IN ('a')", True),
        ("aliases LIKE '%'", False),
        ("aliases IS NULL", True),
    ],
)
def test_absent_values(text: str, expected: bool) -> None:
    assert parse(text).matches(MODEL) is expected
    assert parse(text).matches({**MODEL, "run_id": None, "tags": None}) is expected


@pytest.mark.parametrize(
    "text",
    [
        "metrics.nan_metric = 1",
        "metrics.nan_metric != 1",
        "metrics.nan_metric < 1",
        "metrics.nan_metric >= 1",
        "metrics.nan_metric IN (1, 2)",
        "metrics.nan_metric NOT IN (1, 2)",
    ],
)
def test_nan_metric_fails_every_comparison(text: str) -> None:
    assert parse(text).matches(VERSION) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'x' OR name = 'fraud-a.b' AND stage = 'Production'", True),
        ("name = 'x' OR name = 'fraud-a.b' AND stage = 'Staging'", False),
        ("name = 'fraud-a.b' OR name = 'x' AND stage = 'Staging'", True),  # AND binds tighter
        ("(name = 'fraud-a.b' OR name = 'x') AND stage = 'Staging'", False),
        ("((name = 'fraud-a.b'))", True),
        ("(name = 'x' OR (stage = 'Production' AND (version_number = 3)))", True),
        ("name = 'fraud-a.b' AND (stage = 'x' OR version_number > 2) AND run_id = 'run-1'", True),
        ("name = 'fraud-a.b' and stage = 'x' or version_number > 2", True),
        ("NAME = 'fraud-a.b' AnD Tags.team = 'risk'", True),
        ("name like 'fraud%' and tags.team in ('risk') and run_id is not null", True),
        ("name not in ('x') AND metrics.val_auc iS NoT nUlL", True),
        ("name ilike 'FRAUD%'", True),
    ],
)
def test_precedence_parentheses_and_keyword_case(text: str, expected: bool) -> None:
    assert parse(text).matches(VERSION) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "like", "ilike"),
    [
        ("a.b%", "a.b-model", True, True),
        ("a.b%", "axb-model", False, False),  # '.' is literal
        ("a_b", "a.b", True, True),
        ("a_b", "ab", False, False),
        ("%", "", True, True),
        ("_", "", False, False),
        ("a%", "A-b", False, True),
        ("[ab]*", "[ab]*", True, True),
        ("[ab]*", "a", False, False),
        ("x+y?", "x+y?", True, True),
        ("x+y?", "xxy", False, False),
        ("(a|b)", "a", False, False),
        ("^a$", "^a$", True, True),
        ("a\\%", "a\\anything", True, True),  # backslash is literal; % is still a wildcard
        ("%line%", "first\nline two", True, True),
        ("ab", "abc", False, False),  # anchored at both ends
        ("bc", "abc", False, False),
    ],
)
def test_like_and_ilike(pattern: str, value: str, like: bool, ilike: bool) -> None:
    quoted = pattern.replace("'", "''")
    record = {"name": value}
    assert parse(f"name LIKE '{quoted}'").matches(record) is like
    assert parse(f"name ILIKE '{quoted}'").matches(record) is ilike


def _at(column: int, message: str) -> str:
    return f"filter error at column {column}: {message}"


VALID = (
    "valid fields are name, version_number (version), run_id, source_path (source), "
    "stage (current_stage), description, creation_timestamp, last_updated_timestamp, "
    "aliases (alias), tags.KEY, metrics.KEY, params.KEY, lineage.KEY"
)


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("name = 'abc", 8, "unterminated string: no closing '"),
        ('name = "abc', 8, 'unterminated string: no closing "'),
        ("name = 'it''s", 8, "unterminated string: no closing '"),
        ("tags.`my key = 'x'", 6, "unterminated key: no closing `"),
        ("name = ", 7, "expected a value after '=', got end of filter"),
        ("name = AND stage = 'x'", 8, "expected a value after '=', got 'AND'"),
        ("version_number IN (1,", 22, "expected a value after ',', got end of filter"),
        ("nme = 'x'", 1, f"unknown field 'nme'; {VALID}"),
        ("stage = 'x' AND metricz.auc > 1", 17, f"unknown field 'metricz.auc'; {VALID}"),
        ("attribute.foo = 'x'", 1, f"unknown field 'attribute.foo'; {VALID}"),
        ("tags = 'x'", 1, f"unknown field 'tags'; {VALID}"),
        ("name = 'x' AND", 15, "expected a field name after 'AND', got end of filter"),
        ("name = 'x' OR  ", 14, "expected a field name after 'OR', got end of filter"),
        ("name = 'x' AND AND stage = 'y'", 16, "expected a field name after 'AND', got 'AND'"),
        ("AND name = 'x'", 1, "expected a field name, got 'AND'"),
        ("= 'x'", 1, "expected a field name, got '='"),
        ("(name = 'x'", 12, "expected ')' to close the '(' at column 1, got end of filter"),
        (
            "((name = 'x') OR stage = 'y'",
            29,
            "expected ')' to close the '(' at column 1, got end of filter",
        ),
        ("(name = 'x' stage", 13, "expected ')' to close the '(' at column 1, got 'stage'"),
        ("name = 'x')", 11, "unmatched ')'"),
        ("()", 2, "expected a field name after '(', got ')'"),
        (
            "name = 'x' stage = 'y'",
            12,
            "expected AND, OR or end of filter after \"'x'\", got 'stage'",
        ),
        ("name = 'x' 'y'", 12, "expected AND, OR or end of filter after \"'x'\", got \"'y'\""),
        ("name IN ()", 10, "empty IN list; give at least one value"),
        ("name NOT IN ( )", 15, "empty NOT IN list; give at least one value"),
        ("name IN 'a'", 9, "expected '(' after 'IN', got \"'a'\""),
        ("name IN ('a' 'b')", 14, "expected ',' or ')' after \"'a'\", got \"'b'\""),
        ("name IN ('a',)", 14, "expected a value after ',', got ')'"),
        ("name", 5, "expected an operator after 'name', got end of filter"),
        ("name == 'x'", 7, "expected a value after '=', got '='"),
        ("name <> 'x'", 6, "'<' applies only to numeric fields; name holds strings"),
        ("name NOT LIKE 'x'", 10, "expected IN after 'NOT', got 'LIKE'"),
        ("name IS 'x'", 9, "expected NULL or NOT NULL after 'IS', got \"'x'\""),
        ("name IS NOT 'x'", 13, "expected NULL after 'NOT', got \"'x'\""),
        (
            "tags. = 'x'",
            7,
            "expected a key (bare, in backticks or in double quotes) after 'tags.', got '='",
        ),
        (
            "tags.'k' = 'x'",
            6,
            "expected a key (bare, in backticks or in double quotes) after 'tags.', got \"'k'\"",
        ),
        ("tags.`` = 'x'", 6, "empty key after 'tags.'"),
        ("tags.my-key = 'x'", 8, "unexpected character '-'"),
        ("name = 'x' # comment", 12, "unexpected character '#'"),
        ("name ! 'x'", 6, "unexpected character '!'"),
        ("name = 'x' && stage = 'y'", 12, "unexpected character '&'"),
        # type rules
        ("metrics.val_auc = 'x'", 19, "metrics.val_auc compares numbers; got 'x'"),
        ("metric.val_auc IN (1, '2')", 23, "metrics.val_auc compares numbers; got '2'"),
        ("version = '3'", 11, "version_number compares numbers; got '3'"),
        ('creation_timestamp > "1"', 22, 'creation_timestamp compares numbers; got "1"'),
        ("name = 3", 8, "name compares strings; got 3"),
        ("tags.`a b` = 1.5", 14, "tags.`a b` compares strings; got 1.5"),
        ("params.lr = 0.01", 13, "params.lr compares strings; got 0.01"),
        ("aliases = 1", 11, "aliases compares strings; got 1"),
        (
            "metrics.auc LIKE '0.9%'",
            13,
            "LIKE applies only to string fields; metrics.auc is numeric",
        ),
        (
            "version_number ilike '1'",
            16,
            "ILIKE applies only to string fields; version_number is numeric",
        ),
        ("name < 'b'", 6, "'<' applies only to numeric fields; name holds strings"),
        ("params.lr >= '0.1'", 11, "'>=' applies only to numeric fields; params.lr holds strings"),
        ("stage > 'A'", 7, "'>' applies only to numeric fields; stage holds strings"),
        ("(" * 51 + "name = 'x'" + ")" * 51, 51, "parentheses nested more than 50 deep"),
    ],
)
def test_parse_errors(text: str, column: int, message: str) -> None:
    with pytest.raises(FilterError) as info:
        parse(text)
    assert str(info.value) == _at(column, message)
    assert (info.value.column, info.value.message, info.value.clause) == (column, message, None)
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_fifty_parentheses_are_fine() -> None:
    assert parse("(" * 50 + "name = 'x'" + ")" * 50).matches({"name": "x"})


def test_long_filters_do_not_recurse_deeply() -> None:
    many = parse(" OR ".join(f"version_number = {i}" for i in range(2000)))
    assert many.matches({"version_number": 1999}) and not many.matches({"version_number": 2000})
    every = parse(" AND ".join(f"version_number != {i}" for i in range(2000)))
    assert every.matches({"version_number": 2000}) and not every.matches({"version_number": 0})


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("name='a'", "name = 'a'"),
        ("VERSION in (1,2.5,-3e2)", "version_number IN (1, 2.5, -300.0)"),
        ("tags.\"a b\" = 'it''s'", "tags.`a b` = 'it''s'"),
        ('tags.`a``b` != "x"', "tags.`a``b` != 'x'"),
        ("tag.mlflow.source.type is not null", "tags.mlflow.source.type IS NOT NULL"),
        ("attribute.stage like 'P%'", "stage LIKE 'P%'"),
        (
            "(name = 'a' or name = 'b') and (stage = 'c')",
            "(name = 'a' OR name = 'b') AND stage = 'c'",
        ),
        ("name = 'a' or (name = 'b' or name = 'c')", "name = 'a' OR name = 'b' OR name = 'c'"),
        ("metrics.x > 1e999", "metrics.x > 1e999"),
        ("", ""),
    ],
)
def test_canonical_rendering(text: str, rendered: str) -> None:
    flt = parse(text)
    assert str(flt) == rendered
    assert parse(rendered).node == flt.node
    assert flt.text == text


def test_tree() -> None:
    node = parse("name = 'a' AND (tags.`k` IS NULL OR metrics.m IN (1, 2))").node
    assert node == Junction(
        "AND",
        (
            Compare(Field("attr", "name"), "=", "a"),
            Junction(
                "OR",
                (
                    Compare(Field("tags", "k"), "IS NULL", None),
                    Compare(Field("metrics", "m"), "IN", (1, 2)),
                ),
            ),
        ),
    )


def test_matches_tolerates_odd_records() -> None:
    odd: dict[str, Any] = {
        "name": 3,
        "version_number": True,
        "tags": ["not", "a", "dict"],
        "metrics": {"m": "0.5"},
        "aliases": "champion",
    }
    for text in ("name = '3'", "version_number = 1", "tags.a = 'x'", "metrics.m = 0.5"):
        assert parse(text).matches(odd) is False
    assert parse("aliases = 'champion'").matches(odd) is False
    assert parse("tags.a != 'x' AND aliases IS NULL").matches(odd) is True
    assert parse("name = 'x'").matches({}) is False


# --- order_by -----------------------------------------------------------------------------

RECORDS: list[dict[str, Any]] = [
    {"name": "b", "version_number": 1, "stage": "None", "creation_timestamp": 30,
     "metrics": {"auc": 0.7}, "tags": {"t": "z"}},
    {"name": "a", "version_number": 2, "stage": "Staging", "creation_timestamp": 10,
     "metrics": {"auc": NAN}, "tags": {}},
    {"name": "b", "version_number": 2, "stage": "Production", "creation_timestamp": 20,
     "metrics": {"auc": 0.9}, "tags": {"t": "a"}},
    {"name": "a", "version_number": 1, "stage": "Archived", "creation_timestamp": 40,
     "metrics": {}},
    {"name": "c", "creation_timestamp": 50},
]  # fmt: skip


def _order(order_by: list[str]) -> list[str]:
    return [f"{r['name']}{r.get('version_number', '')}" for r in sort_records(RECORDS, order_by)]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ([], ["a2", "a1", "b2", "b1", "c"]),  # name ASC, version_number DESC
        (["name"], ["a2", "a1", "b2", "b1", "c"]),
        (["name DESC"], ["c", "b2", "b1", "a2", "a1"]),
        (["name asc", "version_number ASC"], ["a1", "a2", "b1", "b2", "c"]),
        (["version_number DESC"], ["a2", "b2", "a1", "b1", "c"]),  # missing last
        (["version ASC"], ["a1", "b1", "a2", "b2", "c"]),
        (["creation_timestamp DESC"], ["c", "a1", "b1", "b2", "a2"]),
        (["last_updated_timestamp"], ["a2", "a1", "b2", "b1", "c"]),  # all missing: ties
        (["metrics.auc DESC"], ["b2", "b1", "a2", "a1", "c"]),  # NaN and missing last
        (["metrics.auc"], ["b1", "b2", "a2", "a1", "c"]),
        (["stage"], ["a1", "b1", "b2", "a2", "c"]),
        (["tags.t DESC", "name DESC"], ["b1", "b2", "c", "a2", "a1"]),
        (["tags.`t`", "attribute.creation_timestamp DESC"], ["b2", "b1", "c", "a1", "a2"]),
    ],
)
def test_order_by(order_by: list[str], expected: list[str]) -> None:
    assert _order(order_by) == expected


@pytest.mark.parametrize(
    ("clause", "column", "message"),
    [
        ("", 1, "expected a field name, got end of clause"),
        ("name DESCX", 6, "expected ASC, DESC or end of clause after 'name', got 'DESCX'"),
        ("name ASC DESC", 10, "expected ASC, DESC or end of clause after 'ASC', got 'DESC'"),
        ("nme", 1, f"unknown field 'nme'; {VALID}"),
        ("aliases DESC", 1, "aliases cannot be sorted"),
        ("name, version", 5, "expected ASC, DESC or end of clause after 'name', got ','"),
    ],
)
def test_order_by_errors(clause: str, column: int, message: str) -> None:
    with pytest.raises(FilterError) as info:
        sort_records(RECORDS, ["name", clause])
    assert str(info.value) == f"order_by clause {clause!r} error at column {column}: {message}"
    assert info.value.clause == clause


# --- properties ---------------------------------------------------------------------------

FRAGMENTS = [
    "name", "version", "tags.", "tags.a", "metrics.m", "params.p", "aliases", "stage", "`k`",
    '"k"', "'v'", "'", '"', "`", "=", "!=", "<", ">=", "LIKE", "ilike", "IN", "NOT", "IS",
    "NULL", "AND", "or", "(", ")", ",", "1", "-2.5e3", ".", "-", "x", "attribute.name", "",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(" ".join)))
def test_any_text_parses_or_raises_filter_error(text: str) -> None:
    try:
        flt = parse(text)
    except FilterError as err:
        assert 1 <= err.column <= len(text) + 1
        assert str(err).startswith(f"filter error at column {err.column}: ")
    else:
        assert parse(str(flt)).node == flt.node


# Records and filters from a small vocabulary, so that comparisons often hit.
WORDS = ["a", "A", "b", "ab", "a.b", "axb", "it's", "", "a%b"]
KEYS = ["k", "my key", "a.b"]
NUMS = [0, 1, 2.5, -1, NAN]
records = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(WORDS),
        "version_number": st.integers(0, 3),
        "stage": st.sampled_from(["None", "Staging", "Production"]),
        "run_id": st.none() | st.sampled_from(WORDS),
        "description": st.sampled_from(WORDS),
        "creation_timestamp": st.integers(0, 3),
        "tags": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(WORDS)),
        "metrics": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(NUMS)),
        "params": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(WORDS)),
        "aliases": st.lists(st.sampled_from(WORDS), max_size=3),
    },
)
STRING_FIELDS = ["name", "stage", "run_id", "description", "aliases", "tags", "params"]
NUMBER_FIELDS = ["version_number", "creation_timestamp", "metrics"]
PATTERNS = ["a%", "%b", "_", "%", "a.b", "A", "%'%", "a\\%b"]


@st.composite
def leaves(draw: st.DrawFn) -> tuple[Any, ...]:
    field = draw(st.sampled_from(STRING_FIELDS + NUMBER_FIELDS))
    key = draw(st.sampled_from(KEYS)) if field in ("tags", "params", "metrics") else None
    numeric = field in NUMBER_FIELDS
    values = st.sampled_from([0, 1, 2, 2.5, -1]) if numeric else st.sampled_from(WORDS)
    ops = ["=", "!=", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    ops += ["<", "<=", ">", ">="] if numeric else ["LIKE", "ILIKE"]
    op = draw(st.sampled_from(ops))
    if op in ("IN", "NOT IN"):
        value: Any = tuple(draw(st.lists(values, min_size=1, max_size=3)))
    elif op.endswith("LIKE"):
        value = draw(st.sampled_from(PATTERNS))
    else:
        value = None if op.endswith("NULL") else draw(values)
    return ("cmp", field, key, op, value)


trees = st.recursive(
    leaves(),
    lambda sub: st.tuples(st.sampled_from(["AND", "OR"]), st.lists(sub, min_size=2, max_size=3)),
    max_leaves=6,
)


def render(tree: tuple[Any, ...], draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """Text for a tree, with random keyword case, quoting, aliases and redundant parentheses."""

    def case(word: str) -> str:
        return str(draw(st.sampled_from([word, word.lower(), word.title()])))

    def quote(s: str) -> str:
        q = str(draw(st.sampled_from(["'", '"'])))
        return q + s.replace(q, q + q) + q

    def lit(v: Any) -> str:
        return quote(v) if isinstance(v, str) else repr(v)

    if tree[0] in ("AND", "OR"):
        parts = [render(t, draw) for t in tree[1]]
        parts = [f"({p})" if draw(st.booleans()) or tree[0] == "AND" else p for p in parts]
        return f" {case(tree[0])} ".join(parts)
    _, field, key, op, value = tree
    name = {"version_number": "version", "stage": "current_stage", "aliases": "alias"}
    if key is None:
        ident = draw(st.sampled_from([field, name.get(field, field), f"attributes.{field}"]))
    elif " " in key or draw(st.booleans()):
        ident = f"{field}.`{key}`" if draw(st.booleans()) else f'{field}."{key}"'
    else:
        ident = f"{field}.{key}"
    words = " ".join(case(w) for w in op.split())
    if isinstance(value, tuple):
        return f"{ident} {words} ({', '.join(map(lit, value))})"
    return f"{ident} {words}" + ("" if value is None else f" {lit(value)}")


def like(pattern: str, s: str) -> bool:
    """SQL LIKE by dynamic programming, independent of any regex."""
    ok = [True] + [False] * len(s)
    for p in pattern:
        if p == "%":
            ok = [any(ok[: i + 1]) for i in range(len(s) + 1)]
        else:
            ok = [False] + [ok[i] and p in ("_", s[i]) for i in range(len(s))]
    return ok[-1]


@settings(max_examples=200, deadline=None)
@given(st.text("aA.%_*[]\\'", max_size=6), st.text("aA.*[]\\'\n", max_size=4), st.data())
def test_like_matches_the_oracle(pattern: str, noise: str, data: st.DataObject) -> None:
    def fill(c: str) -> str:  # a value that often fits the pattern
        if c == "%":
            return data.draw(st.sampled_from(["", noise, "%"]))
        return data.draw(st.sampled_from("aA.[")) if c == "_" else c

    fitting = "".join(map(fill, pattern))
    value = data.draw(st.sampled_from([noise, fitting, fitting.swapcase()]))
    quoted = pattern.replace("'", "''")
    assert parse(f"name LIKE '{quoted}'").matches({"name": value}) is like(pattern, value)
    ilike = like(pattern.lower(), value.lower())
    assert parse(f"name ILIKE '{quoted}'").matches({"name": value}) is ilike


def oracle(tree: tuple[Any, ...], rec: dict[str, Any]) -> bool:
    if tree[0] == "AND":
        return all(oracle(t, rec) for t in tree[1])
    if tree[0] == "OR":
        return any(oracle(t, rec) for t in tree[1])
    _, field, key, op, value = tree

    def test(v: Any) -> bool:
        if op in ("IN", "NOT IN"):
            return v in value
        if op in ("LIKE", "ILIKE"):
            fold = str.lower if op == "ILIKE" else str
            return like(fold(value), fold(v))
        neg = {"!=": "=", "NOT IN": "IN"}.get(op, op)
        return bool({"=": v == value, "<": v < value, "<=": v <= value, ">": v > value,
                     ">=": v >= value}[neg])  # fmt: skip

    negative = op in ("!=", "NOT IN")
    if field == "aliases":
        aliases = rec.get("aliases", [])
        if op.endswith("NULL"):
            return (not aliases) is (op == "IS NULL")
        return any(test(a) for a in aliases) is not negative
    v = rec.get(field, {}).get(key) if key else rec.get(field)
    if op.endswith("NULL"):
        return (v is None) is (op == "IS NULL")
    if v is None:
        return negative
    if isinstance(v, float) and math.isnan(v):
        return False
    return test(v) is not negative


@settings(max_examples=120, deadline=None)
@given(trees, st.lists(records, min_size=1, max_size=6), st.data())
def test_generated_filters_match_the_oracle(
    tree: tuple[Any, ...], recs: list[dict[str, Any]], data: st.DataObject
) -> None:
    text = render(tree, data.draw)
    flt = parse(text)
    assert parse(str(flt)).node == flt.node
    for rec in recs:
        assert flt.matches(rec) is oracle(tree, rec), (text, rec)


@settings(max_examples=40, deadline=None)
@given(st.lists(records, max_size=10), st.lists(st.sampled_from(
    ["name", "version DESC", "stage ASC", "metrics.k DESC", "tags.`my key`", "creation_timestamp"]
), max_size=3))  # fmt: skip
def test_sort_is_a_permutation_with_missing_values_last(
    recs: list[dict[str, Any]], order_by: list[str]
) -> None:
    out = sort_records(recs, order_by)
    assert sorted(map(id, out)) == sorted(map(id, recs))
    if order_by:  # NaN metrics count as missing
        field = order_by[0].removesuffix(" DESC").removesuffix(" ASC")
        numeric = field.startswith(("version", "metrics", "creation"))
        present = parse(f"{field} > -1e999" if numeric else f"{field} IS NOT NULL")
        flags = [present.matches(r) for r in out]
        assert flags == sorted(flags, reverse=True)
