"""Charts as server-rendered SVG: no script, no library; styled by the console's CSS.

Each chart is an ``<svg role="img">`` with a title and a one-line description of what it shows
(peak and latest value), so it reads without sight too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 26


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    """One value per bucket, oldest first; None where nothing was measured."""
    css: str = "s1"


def nice_ceiling(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"  # small values keep their leading digits: 0.0025, not 0


def _frame(title: str, description: str, top: float, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>",
    ]
    for i in range(5):
        y = TOP + plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>')
        tick = top * (4 - i) / 4
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">'
            f"{escape(_number(tick))}</text>"
        )
    parts.append(
        f'<text class="unit" x="{LEFT - 6}" y="{HEIGHT - 8}" text-anchor="end">{escape(unit)}</text>'
    )
    return parts


def line_chart(title: str, series: Sequence[Series], unit: str, x_labels: Sequence[str]) -> Markup:
    """Lines over equal time buckets; ``x_labels`` are spread evenly below (first to last)."""
    buckets = max((len(s.values) for s in series), default=0)
    measured = [v for s in series for v in s.values if v is not None]
    top = nice_ceiling(max(measured, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    description = (
        "; ".join(_summary(s, unit) for s in series) if measured else "no data in this period"
    )
    parts = _frame(title, description, top, unit)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (buckets - 1) if buckets > 1 else plot_w / 2)

    for s in series:
        run: list[str] = []
        for i, value in enumerate([*s.values, None]):
            if value is not None:
                run.append(f"{x(i):.1f},{TOP + plot_h * (1 - value / top):.1f}")
                continue
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle class="line {s.css}" cx="{cx}" cy="{cy}" r="3"/>')
            elif run:
                parts.append(f'<polyline class="line {s.css}" points="{" ".join(run)}"/>')
            run = []
    for i, text in enumerate(x_labels):
        position = LEFT + plot_w * i / max(len(x_labels) - 1, 1)
        anchor = "start" if i == 0 else ("end" if i == len(x_labels) - 1 else "middle")
        parts.append(
            f'<text class="tick" x="{position:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{escape(text)}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend-item"><span class="swatch {s.css}"></span>{escape(s.name)}</span>'
        for s in series
    )
    return Markup(
        f'<figure class="chart-box">{"".join(parts)}<figcaption>{legend}</figcaption></figure>'
    )


def _summary(s: Series, unit: str) -> str:
    values = [v for v in s.values if v is not None]
    if not values:
        return f"{s.name}: no data"
    return f"{s.name}: peak {_number(max(values))} {unit}, latest {_number(values[-1])} {unit}"


def bar_chart(title: str, bars: Sequence[tuple[str, float]], unit: str) -> Markup:
    """One bar per label (days, for usage)."""
    top = nice_ceiling(max((v for _, v in bars), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    total = sum(v for _, v in bars)
    description = f"total {_number(total)} {unit} over {len(bars)} bars" if bars else "no data"
    parts = _frame(title, description, top, unit)
    slot = plot_w / max(len(bars), 1)
    every = max(1, math.ceil(len(bars) / 10))
    for i, (name, value) in enumerate(bars):
        h = plot_h * value / top
        bx = LEFT + slot * i + slot * 0.15
        parts.append(
            f'<rect class="bar" x="{bx:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}"><title>{escape(name)}: {escape(_number(value))} {escape(unit)}'
            "</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return Markup(f'<figure class="chart-box">{"".join(parts)}</figure>')
