"""JSON output of many records, streamed: the same text as ``json.dumps(items, indent=2,
ensure_ascii=False)``, written a chunk of records at a time.

With ``indent`` the standard library falls back from its C encoder to a generator per
value in Python, which took longer than the whole search at 100,000 versions. Records are
plain dicts and lists of str, int, float, bool and None, so this renders them with the C
string escaper and the same number formats; anything else (a key that is not a str, a
value of another type) is left to the standard encoder, so the text never differs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring  # the C escaper where there is one
from typing import Any

_CHUNK = 2000  # records a write


class _Unusual(Exception):
    """A value this renderer leaves to the standard encoder."""


def _number(o: float) -> str:
    if math.isfinite(o):
        return float.__repr__(o)
    return "NaN" if math.isnan(o) else "Infinity" if o > 0 else "-Infinity"


def _render(o: Any, pad: str, out: list[str]) -> None:
    """Append the text of ``o`` nested at indent ``pad`` to ``out``."""
    kind = type(o)
    if kind is str:
        out.append(encode_basestring(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(o))
    elif kind is float:
        out.append(_number(o))
    elif kind is dict:
        if not o:
            out.append("{}")
            return
        inner = pad + "  "
        sep = "{\n" + inner
        for k, v in o.items():
            if type(k) is not str:
                raise _Unusual
            out.append(sep + encode_basestring(k) + ": ")
            _render(v, inner, out)
            sep = ",\n" + inner
        out.append("\n" + pad + "}")
    elif kind is list or kind is tuple:
        if not o:
            out.append("[]")
            return
        inner = pad + "  "
        sep = "[\n" + inner
        for v in o:
            out.append(sep)
            _render(v, inner, out)
            sep = ",\n" + inner
        out.append("\n" + pad + "]")
    else:
        raise _Unusual


def render_item(item: Any) -> str:
    """``item`` as ``json.dumps`` renders an element of a top-level list with indent 2."""
    try:
        return render_at(item, "  ")
    except _Unusual:
        return json.dumps([item], indent=2, ensure_ascii=False)[4:-2]


def render_at(o: Any, pad: str) -> str:
    """``o`` nested at indent ``pad``, for plain data (``_Unusual`` for anything else)."""
    out: list[str] = []
    _render(o, pad, out)
    return "".join(out)


def write_list(items: Iterable[Any], write: Callable[[str], Any]) -> None:
    """Write ``json.dumps(list(items), indent=2, ensure_ascii=False)`` and a newline
    through ``write``, a chunk of items at a time."""
    write_texts(map(render_item, items), write)


def write_texts(texts: Iterable[str], write: Callable[[str], Any]) -> None:
    """``write_list`` for items already rendered by ``render_item``."""
    chunk: list[str] = []
    first = True
    for text in texts:
        chunk.append(("[\n  " if first else ",\n  ") + text)
        first = False
        if len(chunk) >= _CHUNK:
            write("".join(chunk))
            chunk.clear()
    write("".join(chunk) + ("[]\n" if first else "\n]\n"))
