"""The plain evaluator the search tests hold the fast paths to: every version's row,
filtered in Python and sorted in full."""

from __future__ import annotations

from typing import Any

from gitreg import Registry


def reference_search(reg: Registry, text: str, order: list[str], limit: int | None) -> list[Any]:
    """The plain evaluator: every version's row, filtered in Python, sorted in full."""
    from gitreg.query import search
    from gitreg.query.rows import VersionRow

    flt, rows = search.parse(text), []
    for model, versions in reg.catalog():
        for mv in versions:
            aliases = tuple(sorted(a for a, v in model.aliases.items() if v == mv.version))
            row = VersionRow(mv, aliases)
            if flt.matches(row):
                rows.append(row)
    kept = search.sort_records(rows, order)[:limit]
    return [(r.version, r.aliases) for r in kept]  # type: ignore[attr-defined]
