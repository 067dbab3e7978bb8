"""JSON Schema validation of registry files, reported as ``file:line: field: what is wrong``.

The schemas live in the top-level ``schemas/`` folder (``gitreg/schemas/`` in a wheel).
jsonschema is imported only when something is validated, to keep CLI start-up quick.
Two deliberate departures from plain draft 2020-12: an ``integer`` must be an int (``1.0``
is refused, never silently coerced), and a pattern's final ``$`` means end of text, as
in ECMA-262, not "before a trailing newline" as in Python's ``re``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitreg.errors import ManifestError, UsageError
from gitreg.layout import MODEL_NAME_RULE, NAME_RULE

if TYPE_CHECKING:
    from gitreg.files.yamlio import Document

KINDS = ("config", "model", "version")
_FILES = {
    "config": "gitreg.schema.json",
    "model": "model.schema.json",
    "version": "version.schema.json",
}

_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}
_PATTERNS = {
    "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$": f"is not a valid name: use {NAME_RULE}",
    "^(?!\\.\\.)(?!.*\\n)(?=.*\\S)[^/:\\u0000-\\u001f\\u007f]{1,256}$": (
        f"is not a valid model name: use {MODEL_NAME_RULE}"
    ),
    "^sha256:[0-9a-f]{64}$": "does not match sha256:<64 hex>",
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$": (
        "is not an RFC 3339 UTC time like 2024-05-01T12:00:00Z"
    ),
    "^(?!/)(?!.*(^|/)\\.\\.(/|$)).+$": "is not a relative path without '..' segments",
    "^[A-Z_][A-Z0-9_]*$": "is not an environment variable name (A-Z, 0-9 and _)",
    "^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$": "is not of the form owner/name or group/project",
}

Problem = tuple["int | None", str]


def schema_filename(kind: str) -> str:
    """The file name of ``kind``'s schema, e.g. ``version.schema.json``."""
    try:
        return _FILES[kind]
    except KeyError:
        raise UsageError(f"unknown schema kind {kind!r}: use one of {', '.join(KINDS)}") from None


@functools.cache
def schema_text(kind: str) -> str:
    """The raw JSON of ``kind``'s schema, as shipped."""
    # only a wheel install reads bundled schemas
    from importlib.resources import files  # noqa: PLC0415

    name = schema_filename(kind)
    packaged = files("gitreg") / "schemas" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # An editable install: the source tree's top-level schemas/ folder.
    return (Path(__file__).resolve().parents[2] / "schemas" / name).read_text(encoding="utf-8")


def problems(doc: Document, kind: str) -> list[ManifestError]:
    """Every way ``doc`` breaks ``kind``'s schema, sorted by line."""
    found: dict[Problem, None] = {}  # an ordered set: `required` repeats itself per field
    for error in _validator(kind).iter_errors(doc.data):
        found.update(dict.fromkeys(_explain(error, doc)))
    ordered = sorted(found, key=lambda problem: problem[0] or 0)
    return [ManifestError(doc.path, line, message) for line, message in ordered]


def validate(doc: Document, kind: str) -> None:
    """Raise the first (lowest-line) problem, if any."""
    found = problems(doc, kind)
    if found:
        raise found[0]


@functools.cache
def _validator(kind: str) -> Any:
    import json  # noqa: PLC0415 (only validation reads schema files)

    # jsonschema costs ~100 ms; reads skip it
    from jsonschema import Draft202012Validator, validators  # noqa: PLC0415

    base = Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", lambda _checker, value: type(value) is int)
    cls = validators.extend(base, validators={"pattern": _pattern}, type_checker=checker)
    return cls(json.loads(schema_text(kind)))


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    # jsonschema costs ~100 ms; reads skip it
    from jsonschema import ValidationError  # noqa: PLC0415

    if isinstance(instance, str) and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _explain(error: Any, doc: Document) -> list[Problem]:
    """Turn one jsonschema error into ``(line, message)`` pairs in plain words."""
    path = tuple(error.absolute_path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    prefix = f"{_dotted(path)}: " if path else ""
    if "propertyNames" in error.relative_schema_path:
        # The error is about a key; jsonschema reports it at the enclosing mapping.
        if keyword == "pattern":
            what = _pattern_text(expected)
        else:
            what = _phrase(keyword, expected, value) or error.message
        return [(doc.line((*path, value)), f"{prefix}key {_show(value)} {what}")]
    if keyword == "required":
        missing = [name for name in expected if name not in value]
        return [
            (doc.line(path), f"missing required field {_dotted((*path, name))!r}")
            for name in missing
        ]
    if keyword == "additionalProperties" and expected is False:
        known = error.schema.get("properties", {})
        extra = [key for key in value if key not in known]
        return [
            (doc.line((*path, key)), f"unknown field {_dotted((*path, key))!r}") for key in extra
        ]
    if keyword == "uniqueItems":
        index = _first_repeat(value)
        if index is None:
            return [(doc.line(path), f"{prefix}items must be unique")]
        message = f"{prefix}{_show(value[index])} is listed more than once"
        return [(doc.line((*path, index)), message)]
    if keyword == "oneOf":
        return _explain_choice(error, doc, prefix)
    if keyword == "anyOf" and all(set(alt) == {"required"} for alt in expected):
        names = ", ".join(repr(name) for alt in expected for name in alt["required"])
        return [(doc.line(path), f"{prefix}needs at least one of {names}")]
    return [(doc.line(path), prefix + (_phrase(keyword, expected, value) or error.message))]


def _explain_choice(error: Any, doc: Document, prefix: str) -> list[Problem]:
    """A ``oneOf`` whose alternatives are told apart by a required key, such as a gate."""
    value, path = error.instance, tuple(error.absolute_path)
    if not isinstance(value, dict):
        return []  # the sibling "type": "object" already reports it
    what = error.schema.get("title", "option")
    alternatives = error.validator_value
    chosen = next(
        (
            i
            for key in value
            for i, alt in enumerate(alternatives)
            if key in alt.get("required", ())
        ),
        None,
    )
    if chosen is None:
        if not value:
            return [(doc.line(path), f"{prefix}empty {what}")]
        first = next(iter(value))
        return [(doc.line((*path, first)), f"{prefix}unknown {what} {first!r}")]
    found = [
        problem
        for sub in error.context
        if sub.relative_schema_path[0] == chosen
        for problem in _explain(sub, doc)
    ]
    return found or [(doc.line(path), f"{prefix}matches more than one kind of {what}")]


def _first_repeat(items: list[Any]) -> int | None:
    seen: set[Any] = set()
    unhashable: list[Any] = []
    for index, item in enumerate(items):
        try:
            if item in seen:
                return index
            seen.add(item)
        except TypeError:
            if item in unhashable:
                return index
            unhashable.append(item)
    return None


def _phrase(keyword: str, expected: Any, value: Any) -> str | None:
    """What is wrong with ``value`` under one keyword, or None to use jsonschema's text."""
    if keyword == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        text = f"expected {' or '.join(_TYPES.get(t, t) for t in wanted)}, got {_show(value)}"
        if "string" in wanted and isinstance(value, (bool, float)):
            text += " (quote it)"  # YAML read e.g. 1.10 as 1.1 or NO as false
        return text
    if keyword == "pattern":
        return f"{_show(value)} {_pattern_text(expected)}"
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if keyword == "maxLength":
        return f"must be at most {expected} characters, got {len(value)}"
    if keyword in ("minimum", "maximum"):
        bound = "at least" if keyword == "minimum" else "at most"
        return f"must be {bound} {expected}, got {_show(value)}"
    if keyword == "minItems":
        return f"must list at least {expected} item{'s' if expected != 1 else ''}"
    if keyword == "enum":
        return f"{_show(value)} is not one of {', '.join(str(option) for option in expected)}"
    if keyword == "const":
        return f"must be {expected!r}, got {_show(value)}"
    return None


def _pattern_text(pattern: str) -> str:
    return _PATTERNS.get(pattern, f"does not match {pattern}")


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:57] + "...")
    return repr(value)
