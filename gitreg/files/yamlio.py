"""The only module that imports yaml: a hardened loader and the canonical dumper.

``load`` walks libyaml's event stream and builds plain Python data itself, so nothing of
PyYAML's constructors runs: anchors, aliases, non-standard tags, duplicate keys, non-string
keys, absurd nesting and oversized input are refused (as ``ManifestError`` with a line)
before any tree exists. Plain scalars resolve like the YAML 1.2 core schema (decimal
integers only, no timestamps, ``yes``/``no`` stay strings). ``dump`` writes the one
canonical text that ``load`` reads back to the same data.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitreg.errors import ManifestError

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32

# The C parser where present; the pure-Python one builds the same events.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Pointer = tuple[str | int, ...]

_STD = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = _STD + "str", _STD + "map", _STD + "seq"
_SCALAR_TAGS = {_STD + "int": int, _STD + "float": float, _STD + "bool": bool, _STD + "null": None}
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {
    **{s + v: float(s + "inf") for s in ("", "+", "-") for v in (".inf", ".Inf", ".INF")},
    **{v: math.nan for v in (".nan", ".NaN", ".NAN")},
}
# Characters YAML forbids in a stream; checked up front so both parsers report them alike.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Line breaks that YAML 1.1 parsers fold or normalise: only safe inside "double quotes".
_ODD_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_MAX_INT_DIGITS = 4300  # CPython's int(str) limit; refusing longer numbers keeps int() cheap


@dataclass(frozen=True)
class Document:
    """Loaded data plus the 1-based line of every key and list item (by JSON path)."""

    data: Any
    path: str
    lines: dict[Pointer, int]

    def line(self, pointer: Sequence[str | int]) -> int | None:
        """The line of the node at ``pointer``, or of its nearest ancestor that exists."""
        key = tuple(pointer)
        while True:
            found = self.lines.get(key)
            if found is not None or not key:
                return found
            key = key[:-1]


def load_file(file: Path, display: str | None = None) -> Document:
    """Read and ``load`` a regular file, refusing symlinks and anything over MAX_BYTES."""
    where = display if display is not None else str(file)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # no FIFO hangs
    try:
        fd = os.open(file, flags)
    except OSError as err:
        why = "it is a symbolic link" if os.path.islink(file) else (err.strerror or str(err))
        raise ManifestError(where, None, f"cannot read the file: {why}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ManifestError(where, None, "not a regular file")
        if info.st_size > MAX_BYTES:
            raise ManifestError(where, None, f"file is larger than {MAX_BYTES} bytes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_BYTES + 1)  # bounded: the file may grow after fstat
    except OSError as err:
        raise ManifestError(where, None, f"cannot read the file: {err.strerror}") from None
    finally:
        os.close(fd)
    return load(raw, where)


def load(text: str | bytes, path: str) -> Document:
    """Parse one YAML document whose top level is a mapping; ``path`` names it in errors."""
    if isinstance(text, str):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError as err:
            line = text.count("\n", 0, err.start) + 1
            raise ManifestError(path, line, "invalid Unicode (a lone surrogate)") from None
    else:
        raw = bytes(text)
    if len(raw) > MAX_BYTES:
        raise ManifestError(path, None, f"file is larger than {MAX_BYTES} bytes")
    try:
        decoded = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise ManifestError(path, raw.count(b"\n", 0, err.start) + 1, "invalid UTF-8") from None
    bad = _UNPRINTABLE.search(decoded)
    if bad:
        line = decoded.count("\n", 0, bad.start()) + 1
        raise ManifestError(path, line, f"character U+{ord(bad.group()):04X} is not allowed")
    try:
        return _build(decoded, path)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = mark.line + 1 if mark else None
        if err.problem == "exceeded maximum nesting depth":  # libyaml's own cap (1000)
            raise ManifestError(path, at, f"nesting deeper than {MAX_DEPTH} levels") from None
        raise ManifestError(path, at, f"not valid YAML: {err.problem or err}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise ManifestError(path, None, f"not valid YAML: {err}") from None


class _Frame:
    """An open mapping or sequence while its events stream past."""

    __slots__ = ("key", "node", "pointer")

    def __init__(self, node: dict[str, Any] | list[Any], pointer: Pointer) -> None:
        self.node = node
        self.pointer = pointer
        self.key: str | None = None  # a mapping's pending key; None while expecting one


class _Builder:
    """Turns parser events into dicts, lists and scalars, refusing as early as it can."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[Pointer, int] = {}
        self.stack: list[_Frame] = []
        self.root: dict[str, Any] | None = None
        self.documents = 0

    def feed(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 1
        if getattr(event, "anchor", None) or isinstance(event, yaml.AliasEvent):
            raise ManifestError(self.path, line, "anchors and aliases are not allowed")
        if isinstance(event, yaml.ScalarEvent):  # the commonest event first
            if not self.stack:
                raise ManifestError(self.path, line, "the top level must be a mapping")
            value = _scalar(event, self.path, line)
            frame = self.stack[-1]
            if frame.key is None and isinstance(frame.node, dict):
                self.add_key(frame, value, line)
            else:
                self.place(frame, value, line)
        elif isinstance(event, yaml.CollectionEndEvent):
            self.stack.pop()
        elif isinstance(event, yaml.CollectionStartEvent):
            self.open(event, line)
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise ManifestError(self.path, line, "only one YAML document is allowed")

    def open(self, event: yaml.CollectionStartEvent, line: int) -> None:
        is_map = isinstance(event, yaml.MappingStartEvent)
        if event.tag is not None and event.tag != (_MAP if is_map else _SEQ):
            raise ManifestError(self.path, line, f"tag {_show_tag(event.tag)!r} is not allowed")
        if len(self.stack) >= MAX_DEPTH:
            raise ManifestError(self.path, line, f"nesting deeper than {MAX_DEPTH} levels")
        node: dict[str, Any] | list[Any] = {} if is_map else []
        if not self.stack:
            if not isinstance(node, dict):
                raise ManifestError(self.path, line, "the top level must be a mapping")
            self.root, self.lines[()] = node, line
            self.stack.append(_Frame(node, ()))
            return
        frame = self.stack[-1]
        if isinstance(frame.node, dict) and frame.key is None:
            raise ManifestError(self.path, line, "keys must be strings, got a collection")
        self.stack.append(_Frame(node, self.place(frame, node, line)))

    def add_key(self, frame: _Frame, key: Any, line: int) -> None:
        assert isinstance(frame.node, dict)
        if not isinstance(key, str):
            message = f"keys must be strings, got {_show(key)} (quote it)"
            raise ManifestError(self.path, line, message)
        pointer = (*frame.pointer, key)
        if key in frame.node:
            first = self.lines[pointer]
            raise ManifestError(self.path, line, f"duplicate key {key!r} (first at line {first})")
        frame.node[key] = None
        frame.key = key
        self.lines[pointer] = line

    def place(self, frame: _Frame, value: Any, line: int) -> Pointer:
        """Store ``value`` as the next item or the pending key's value; return its pointer."""
        if isinstance(frame.node, list):
            pointer = (*frame.pointer, len(frame.node))
            frame.node.append(value)
            self.lines[pointer] = line
            return pointer
        assert frame.key is not None
        frame.node[frame.key] = value
        pointer = (*frame.pointer, frame.key)
        frame.key = None
        return pointer


def _build(text: str, path: str) -> Document:
    builder = _Builder(path)
    loader = _LOADER(text)
    try:
        while loader.check_event():
            builder.feed(loader.get_event())
    finally:
        loader.dispose()
    if builder.root is None:
        raise ManifestError(path, None, "the file is empty")
    return Document(builder.root, path, builder.lines)


def _scalar(event: yaml.ScalarEvent, path: str, line: int) -> Any:
    tag, text = event.tag, event.value
    if tag is None:
        return _resolve(text, path, line) if not event.style else text
    if tag == _STR:
        return text
    if tag not in _SCALAR_TAGS:
        raise ManifestError(path, line, f"tag {_show_tag(tag)!r} is not allowed")
    value = _resolve(text, path, line)
    want = _SCALAR_TAGS[tag]
    if want is float and type(value) is int:
        return float(value)
    if (value is None) if want is None else type(value) is want:
        return value
    raise ManifestError(path, line, f"{text!r} is not a valid {_show_tag(tag)}")


def _resolve(text: str, path: str, line: int) -> Any:
    """A plain scalar under the YAML 1.2 core schema, minus octal and hex integers."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if not text or text[0] not in "+-.0123456789":
        return text
    if _INT.fullmatch(text):
        if len(text) > _MAX_INT_DIGITS:
            raise ManifestError(path, line, f"integer has more than {_MAX_INT_DIGITS} digits")
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return repr(value)


# ---- dump ---------------------------------------------------------------------------


def _reads_back(text: str) -> bool:
    """Whether ``text`` written plain would load as this same string."""
    try:
        return isinstance(_resolve(text, "", 0), str)
    except ManifestError:
        return False


class _Dumper(yaml.SafeDumper):
    """The pure-Python emitter on purpose: libyaml's quotes and wraps differently, and the
    canonical bytes must not depend on whether libyaml is installed."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # a shared sub-object must not become an anchor our loader refuses


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if _ODD_BREAKS.search(value):
        style = '"'
    elif "\n" in value:
        style = "|"  # the emitter falls back to "double quotes" where a block can't hold it
    elif not _reads_back(value):
        style = "'"  # YAML 1.1 quoting alone misses 1.2 numbers such as 1e5, 08, -.5
    return dumper.represent_scalar(_STR, value, style=style)


_Dumper.add_representer(str, _represent_str)


def _plain(data: Any) -> Any:
    """Copy into dict/list/scalars, refusing what the loader could not give back."""
    if isinstance(data, Mapping):
        if not all(isinstance(k, str) for k in data):
            raise TypeError("dump: mapping keys must be strings")
        return {str.__str__(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if data is None or type(data) in (str, bool, int, float):
        return data
    # Subclasses (enums, numpy scalars) as their plain value; PyYAML knows only exact types.
    if isinstance(data, str):
        return str.__str__(data)
    if isinstance(data, bool):
        return bool(data)
    if isinstance(data, numbers.Integral):
        return int(data)
    if isinstance(data, numbers.Real):
        return float(data)
    raise TypeError(f"dump: cannot write a {type(data).__name__}")


def dump(data: Mapping[str, Any], schema_ref: str | None = None) -> str:
    """The canonical YAML text of ``data``: key order as given, block style, no wrapping."""
    body = yaml.dump(
        _plain(data),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=10**9,
    )
    if schema_ref is None:
        return body
    return f"# yaml-language-server: $schema={schema_ref}\n{body}"
