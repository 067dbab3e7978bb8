"""Inline SVG charts: one metric across a model's versions, with the versions that held
Production marked (and a tooltip saying when they held it)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from gitreg.site.html import esc, fmt_number

WIDTH, HEIGHT = 640, 180
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56, 12, 12, 26


def metric_chart(
    metric: str,
    points: Sequence[tuple[int, float]],
    production: Mapping[int, str],
    current: int | None,
) -> str:
    """``points`` are (version, value) in version order; ``production`` maps a version that
    held Production to a note on when; ``current`` is today's Production version."""
    finite = [(v, y) for v, y in points if isinstance(y, (int, float)) and math.isfinite(y)]
    if not finite:
        return ""
    lo = min(y for _, y in finite)
    hi = max(y for _, y in finite)
    span = (hi - lo) or abs(hi) or 1.0
    first, last = finite[0][0], finite[-1][0]
    xs = (WIDTH - _PAD_L - _PAD_R) / max(last - first, 1)
    ys = (HEIGHT - _PAD_T - _PAD_B) / span

    def x(v: int) -> float:
        return _PAD_L + (v - first) * xs

    def y(value: float) -> float:
        return HEIGHT - _PAD_B - (value - lo) * ys

    line = " ".join(f"{x(v):.1f},{y(val):.1f}" for v, val in finite)
    dots = []
    many = len(finite) > 400  # keep big charts light: plain dots only where they matter
    for v, val in finite:
        held = production.get(v)
        if held is None and many:
            continue
        cls = "pt prod" if held is not None else "pt"
        r = 4 if held is not None else 2.5
        note = f"v{v}: {fmt_number(val)}" + (f" ({held})" if held else "")
        dots.append(
            f'<circle class="{cls}" data-version="{v}" cx="{x(v):.1f}" cy="{y(val):.1f}" '
            f'r="{r}"><title>{esc(note)}</title></circle>'
        )
        if v == current:
            dots.append(f'<circle class="current" cx="{x(v):.1f}" cy="{y(val):.1f}" r="7"/>')
    axis = (
        f'<line class="axis" x1="{_PAD_L}" y1="{HEIGHT - _PAD_B}" x2="{WIDTH - _PAD_R}" '
        f'y2="{HEIGHT - _PAD_B}"/>'
        f'<line class="axis" x1="{_PAD_L}" y1="{_PAD_T}" x2="{_PAD_L}" y2="{HEIGHT - _PAD_B}"/>'
        f'<text x="4" y="{_PAD_T + 8}">{esc(fmt_number(hi))}</text>'
        f'<text x="4" y="{HEIGHT - _PAD_B}">{esc(fmt_number(lo))}</text>'
        f'<text x="{_PAD_L}" y="{HEIGHT - 8}">v{first}</text>'
        f'<text x="{WIDTH - _PAD_R}" y="{HEIGHT - 8}" text-anchor="end">v{last}</text>'
    )
    return (
        f'<figure><svg class="chart" data-metric="{esc(metric)}" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{esc(metric)} by version</title>'
        f'{axis}<polyline class="line" points="{line}"/>{"".join(dots)}</svg>'
        f"<figcaption>{esc(metric)}: green points held Production"
        f"{'; the ring is the current one' if current in dict(finite) else ''}."
        "</figcaption></figure>"
    )
