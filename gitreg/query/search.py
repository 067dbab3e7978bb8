"""The search language: MLflow model-registry filter strings and ``order_by`` clauses.

This module owns the tokenizer, the recursive-descent parser, the evaluator that tests a
record (a plain mapping with MLflow's field names) against a parsed filter, and the sort
order of search results. It knows nothing about git, files or the registry's objects.

Rules a caller must know:

* Strings are quoted with ' or "; the quote itself is written twice inside ('it''s').
  A backslash is an ordinary character. Keys with other characters than letters, digits,
  ``_`` and ``.`` go in backticks or double quotes: ``tags.`my key```, ``tags."a-b"``.
* A comparison with an absent value (tag not set, metric missing, run_id None) is False,
  except ``!=`` and ``NOT IN`` (True) and ``IS NULL`` (True). A NaN metric is present but
  fails every comparison, ``!=`` and ``NOT IN`` included.
* ``aliases`` is a set: ``=``/``IN``/``LIKE`` mean "some alias matches", ``!=``/``NOT IN``
  mean "no alias matches", ``IS NULL`` means "no aliases".
* ``LIKE``/``ILIKE``: ``%`` is any run of characters, ``_`` one character, no escape
  character; LIKE is case-sensitive, ILIKE is not. Keywords and field names are
  case-insensitive; keys and values are not.
"""

from __future__ import annotations

import math
import operator
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn, TypeAlias

from gitreg.errors import UsageError

__all__ = [
    "Compare",
    "Field",
    "Filter",
    "FilterError",
    "Junction",
    "order_keys",
    "parse",
    "sort_records",
]

Scalar: TypeAlias = "str | int | float"
Record: TypeAlias = Mapping[str, Any]
Pred: TypeAlias = Callable[[Record], bool]

_NUMERIC = ("version_number", "creation_timestamp", "last_updated_timestamp")
_STRINGS = ("name", "run_id", "source_path", "stage", "description", "aliases")
_PLAIN = {f: f for f in _NUMERIC + _STRINGS} | {"version": "version_number",
    "source": "source_path", "current_stage": "stage", "alias": "aliases"}  # fmt: skip
_PREFIXES = {"tags": "tags", "tag": "tags", "metrics": "metrics", "metric": "metrics",
             "params": "params", "param": "params", "lineage": "lineage",
             "attribute": "", "attributes": ""}  # fmt: skip
_VALID = (
    "name, version_number (version), run_id, source_path (source), stage (current_stage), "
    "description, creation_timestamp, last_updated_timestamp, aliases (alias), "
    "tags.KEY, metrics.KEY, params.KEY, lineage.KEY"
)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"})
_LEXEME = re.compile(  # one token at a position; strings are scanned by hand
    r"(?P<space>\s+)|(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<op>!=|<=|>=|[=<>])|(?P<punct>[(),])"
)
_WORD = frozenset(string.ascii_letters + string.digits + "_.")
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}  # fmt: skip
_NEGATED = frozenset({"!=", "NOT IN"})
_NO_KEYS: Mapping[str, Any] = {}
_NAN = object()  # what a getter returns for a NaN metric: present, but equal to nothing


class FilterError(UsageError):
    """A malformed filter or ``order_by`` clause. ``column`` is 1-based; ``clause`` is the
    offending order_by clause (None for a filter)."""

    def __init__(self, column: int, message: str, clause: str | None = None) -> None:
        self.column, self.message, self.clause = column, message, clause
        where = "filter" if clause is None else f"order_by clause {clause!r}"
        super().__init__(f"{where} error at column {column}: {message}")


class _Token(NamedTuple):
    kind: str  # word str bq num op ( ) , end
    text: str
    col: int
    value: Scalar | None = None


def _tokenize(text: str, clause: str | None) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        ch, start = text[i], i
        if ch in "'\"`":  # a doubled quote inside stands for itself
            j = i + 1
            while (j := text.find(ch, j)) >= 0 and text.startswith(ch, j + 1):
                j += 2
            if j < 0:
                what = "key" if ch == "`" else "string"
                raise FilterError(start + 1, f"unterminated {what}: no closing {ch}", clause)
            i, kind, value = j + 1, "bq" if ch == "`" else "str", text[i + 1 : j]
            out.append(_Token(kind, text[start:i], start + 1, value.replace(ch * 2, ch)))
            continue
        m = _LEXEME.match(text, i)
        if not m:
            raise FilterError(start + 1, f"unexpected character {ch!r}", clause)
        i, kind = m.end(), str(m.lastgroup)
        if kind == "num":
            try:
                num = float(m[0]) if any(c in m[0] for c in ".eE") else int(m[0])
            except ValueError:  # more digits than int() will convert
                raise FilterError(start + 1, f"number too long: {m[0][:20]}...", clause) from None
            out.append(_Token(kind, m[0], start + 1, num))
        elif kind != "space":
            out.append(_Token(m[0] if kind == "punct" else kind, m[0], start + 1))
    out.append(_Token("end", "", len(text.rstrip()) + 1))
    return out


@dataclass(frozen=True)
class Field:
    """``kind`` is "attr", "tags", "metrics", "params" or "lineage"; ``key`` the attribute
    or key."""

    kind: str
    key: str

    @property
    def numeric(self) -> bool:
        return self.kind == "metrics" or (self.kind == "attr" and self.key in _NUMERIC)

    def __str__(self) -> str:
        quoted = "`" + self.key.replace("`", "``") + "`"
        key = self.key if self.key and set(self.key) <= _WORD else quoted
        return self.key if self.kind == "attr" else f"{self.kind}.{key}"


_DEFAULT_ORDER = ((Field("attr", "name"), False), (Field("attr", "version_number"), True))


def _render(v: Scalar) -> str:
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v) if abs(v) != math.inf else "1e999" if v > 0 else "-1e999"


@dataclass(frozen=True)
class Compare:
    """``field op value``; op is =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL or
    IS NOT NULL; value is a tuple for IN / NOT IN and None for IS [NOT] NULL."""

    field: Field
    op: str
    value: Scalar | tuple[Scalar, ...] | None

    def __str__(self) -> str:
        if isinstance(self.value, tuple):
            return f"{self.field} {self.op} ({', '.join(map(_render, self.value))})"
        tail = "" if self.value is None else " " + _render(self.value)
        return f"{self.field} {self.op}{tail}"


@dataclass(frozen=True)
class Junction:
    """Two or more conditions joined by ``op``, "AND" or "OR" (never nested in the same op)."""

    op: str
    items: tuple[Node, ...]

    def __str__(self) -> str:
        wrap = self.op == "AND"
        parts = (f"({i})" if wrap and isinstance(i, Junction) else str(i) for i in self.items)
        return f" {self.op} ".join(parts)


Node: TypeAlias = "Compare | Junction"


class _Parser:
    def __init__(self, text: str, clause: str | None = None) -> None:
        self.toks, self.i, self.clause, self.depth = _tokenize(text, clause), 0, clause, 0
        self.end = "end of filter" if clause is None else "end of clause"

    def peek(self) -> _Token:
        return self.toks[self.i]

    def take(self) -> _Token:
        tok = self.toks[self.i]
        self.i += tok.kind != "end"
        return tok

    def want(self, ok: object, what: str, after: bool = True) -> _Token:
        """Take the next token if ``ok``, else fail with "expected WHAT after X, got Y"."""
        if not ok:
            tok = self.peek()
            after = after and self.i > 0
            prev = f" after {self.toks[self.i - 1].text!r}" if after else ""
            got = self.end if tok.kind == "end" else repr(tok.text)
            self.fail(tok, f"expected {what}{prev}, got {got}")
        return self.take()

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        word = tok.text.upper() if tok.kind == "word" else ""
        return word if word in words else None

    def fail(self, tok: _Token, message: str) -> NoReturn:
        raise FilterError(tok.col, message, self.clause)

    def junction(self, op: str) -> Node:
        """``op`` is "OR" (a disjunction of conjunctions) or "AND" (of primaries)."""
        items = [self.junction("AND") if op == "OR" else self.primary()]
        while self.keyword(op) and self.take():
            items.append(self.junction("AND") if op == "OR" else self.primary())
        flat = tuple(
            j for i in items for j in (i.items if isinstance(i, Junction) and i.op == op else (i,))
        )
        return flat[0] if len(flat) == 1 else Junction(op, flat)

    def primary(self) -> Node:
        if self.peek().kind != "(":
            return self.comparison()
        opening, self.depth = self.take(), self.depth + 1
        if self.depth > 50:
            self.fail(opening, "parentheses nested more than 50 deep")
        node = self.junction("OR")
        closing = f"')' to close the '(' at column {opening.col}"
        self.want(self.peek().kind == ")", closing, after=False)
        self.depth -= 1
        return node

    def field(self) -> Field:
        tok = self.want(self.peek().kind == "word" and not self.keyword(*_KEYWORDS), "a field name")
        head, dot, key = tok.text.partition(".")
        kind = _PREFIXES.get(head.lower()) if dot else ""
        if kind is None:
            self.fail(tok, f"unknown field {tok.text!r}; valid fields are {_VALID}")
        if dot and not key:
            quoted = self.peek().kind == "bq" or self.peek().text.startswith('"')
            key = str(self.want(quoted, "a key (bare, in backticks or in double quotes)").value)
            if not key:
                self.fail(self.toks[self.i - 1], f"empty key after {tok.text!r}")
        if kind:
            return Field(kind, key)
        if (key or head).lower() not in _PLAIN:
            self.fail(tok, f"unknown field {head + dot + key!r}; valid fields are {_VALID}")
        return Field("attr", _PLAIN[(key or head).lower()])

    def comparison(self) -> Compare:
        field, tok = self.field(), self.peek()
        value: Scalar | tuple[Scalar, ...] | None = None
        if self.keyword("NOT") and self.take():
            self.want(self.keyword("IN"), "IN")
            op = "NOT IN"
        elif self.keyword("IS") and self.take():
            op = "IS NOT NULL" if self.keyword("NOT") and self.take() else "IS NULL"
            self.want(self.keyword("NULL"), "NULL" if "NOT" in op else "NULL or NOT NULL")
        else:
            ok = tok.kind == "op" or self.keyword("LIKE", "ILIKE", "IN")
            op = self.want(ok, "an operator").text.upper()
        if field.numeric and op in ("LIKE", "ILIKE"):
            self.fail(tok, f"{op} applies only to string fields; {field} is numeric")
        if not field.numeric and op in _CMP:
            self.fail(tok, f"{op!r} applies only to numeric fields; {field} holds strings")
        if op.endswith("IN"):
            self.want(self.peek().kind == "(", "'('")
            if self.peek().kind == ")":
                self.fail(self.peek(), f"empty {op} list; give at least one value")
            values = [self.value(field)]
            while self.peek().kind == "," and self.take():
                values.append(self.value(field))
            self.want(self.peek().kind == ")", "',' or ')'")
            value = tuple(values)
        elif not op.endswith("NULL"):
            value = self.value(field)
        return Compare(field, op, value)

    def value(self, field: Field) -> Scalar:
        tok = self.want(self.peek().kind in ("str", "num"), "a value")
        if field.numeric != (tok.kind == "num") or tok.value is None:
            kind = "numbers" if field.numeric else "strings"
            self.fail(tok, f"{field} compares {kind}; got {tok.text}")
        return tok.value


def _getter(field: Field) -> Callable[[Record], Any]:
    """A function giving a record's value for ``field``: None when absent or of the wrong
    type, _NAN for a NaN; for aliases, a tuple of strings."""
    kind, key, numeric = field.kind, field.key, field.numeric
    if kind == "attr" and key == "aliases":
        return lambda r: (
            tuple(a for a in r.get(key) or () if isinstance(a, str))
            if isinstance(r.get(key), list | tuple | set | frozenset)
            else ()
        )

    if kind == "attr" and not numeric:  # the common case, kept to one call and one check
        return lambda r: v if isinstance(v := r.get(key), str) else None

    def get(r: Record) -> Any:
        try:
            v = r.get(key) if kind == "attr" else r.get(kind, _NO_KEYS).get(key)
        except (AttributeError, TypeError):
            return None
        if not numeric:
            return v if isinstance(v, str) else None
        if isinstance(v, float):
            return _NAN if math.isnan(v) else v
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    return get


def _join(op: str, preds: list[Pred]) -> Pred:
    """Chain predicates left to right with short-circuit; a balanced tree of closures, so a
    thousand ORs nest only ten calls deep."""
    if len(preds) == 1:
        return preds[0]
    a, b = _join(op, preds[: len(preds) // 2]), _join(op, preds[len(preds) // 2 :])
    return (lambda r: a(r) and b(r)) if op == "AND" else (lambda r: a(r) or b(r))


def _compile(node: Node) -> Pred:
    if isinstance(node, Junction):
        return _join(node.op, [_compile(i) for i in node.items])
    get, op, val = _getter(node.field), node.op, node.value
    test: Callable[[Any], bool]
    if op in ("IN", "NOT IN"):
        test = frozenset(val).__contains__  # type: ignore[arg-type]
    elif op in ("LIKE", "ILIKE"):  # SQL wildcards; everything else matches literally
        rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(val))
        flags = re.DOTALL | (re.IGNORECASE if op == "ILIKE" else 0)
        test = re.compile(rx, flags).fullmatch  # type: ignore[assignment]
    elif op in _CMP:
        cmp = _CMP[op]
        test = lambda v: cmp(v, val)  # noqa: E731
    else:
        test = lambda v: bool(v == val)  # noqa: E731
    if node.field == Field("attr", "aliases"):
        if op.endswith("NULL"):
            return lambda r: bool(get(r)) is (op == "IS NOT NULL")
        if op in _NEGATED:
            return lambda r: not any(map(test, get(r)))
        return lambda r: any(map(test, get(r)))
    if op.endswith("NULL"):
        return lambda r: (get(r) is None) is (op == "IS NULL")
    if op in _NEGATED:
        return lambda r: (v := get(r)) is None or (v is not _NAN and not test(v))
    return lambda r: (v := get(r)) is not None and v is not _NAN and bool(test(v))


class Filter:
    """A parsed filter. ``text`` is the source; ``node`` the tree (None matches everything);
    ``str(filter)`` is a canonical rendering that parses back to the same tree."""

    __slots__ = ("_pred", "node", "text")

    def __init__(self, text: str, node: Node | None) -> None:
        self.text, self.node = text, node
        self._pred: Pred = (lambda r: True) if node is None else _compile(node)

    def matches(self, record: Record) -> bool:
        return bool(self._pred(record))

    def __str__(self) -> str:
        return "" if self.node is None else str(self.node)

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def parse(text: str) -> Filter:
    """Parse a filter string; empty or blank text matches everything. Raises FilterError."""
    p = _Parser(text)
    node = None if p.peek().kind == "end" else p.junction("OR")
    if p.peek().kind == ")":
        p.fail(p.peek(), "unmatched ')'")
    p.want(p.peek().kind == "end", "AND, OR or end of filter")
    return Filter(text, node)


def _order_clause(clause: str) -> tuple[Field, bool]:
    p = _Parser(clause, clause)
    start, field = p.peek(), p.field()
    if field == Field("attr", "aliases"):
        p.fail(start, "aliases cannot be sorted")
    direction = p.keyword("ASC", "DESC") and p.take().text.upper()
    p.want(p.peek().kind == "end", "ASC, DESC or end of clause")
    return field, direction == "DESC"


def order_keys(order_by: Sequence[str]) -> list[tuple[Field, bool]]:
    """The sort keys of ``order_by`` (field, descending), most significant first, ending
    with the tie-breakers name ASC and version_number DESC where not already there."""
    keys = [_order_clause(c) for c in order_by]
    return keys + [(f, d) for f, d in _DEFAULT_ORDER if f not in dict(keys)]


def sort_records(records: Iterable[Record], order_by: Sequence[str]) -> list[Record]:
    """Sort by MLflow ``order_by`` clauses ("field [ASC|DESC]"), then name ASC and
    version_number DESC as tie-breakers (the whole default when order_by is empty).
    Records missing a sort value (or with a NaN metric) go last in either direction."""
    out = list(records)
    for field, descending in reversed(order_keys(order_by)):  # least significant first
        values = list(zip(map(_getter(field), out), out, strict=True))
        present = [(v, r) for v, r in values if v is not None and v is not _NAN]
        present.sort(key=operator.itemgetter(0), reverse=descending)
        out = [r for _, r in present] + [r for v, r in values if v is None or v is _NAN]
    return out
