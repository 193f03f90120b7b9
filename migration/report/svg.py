"""Grouped bar charts as inline SVG, drawn in Python (the report must open offline).

One group per category (a month, a borough, a dataset), one bar per series (source,
target) side by side.  Categories where the series disagree get a red mark under the
axis, so a difference is visible without comparing bar heights.  Every bar carries a
``<title>`` (the hover text) with its exact number; colours are the Okabe–Ito pair
(blue/orange), distinguishable with the common colour-vision deficiencies and in grey.
"""

from __future__ import annotations

import math
from html import escape

from migration.report.model import Chart

SERIES_COLOURS = {"source": "#0072B2", "target": "#E69F00"}
FALLBACK_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")
DIFF_COLOUR = "#cf222e"
AXIS = "#57606a"
GRID = "#d0d7de"
FONT = 11


def _colour(name: str, i: int) -> str:
    return SERIES_COLOURS.get(name, FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])


def nice_ticks(top: int, count: int = 5) -> list[int]:
    """0 and round steps (1, 2, 2.5, 5 × 10ⁿ) covering ``top``."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    step = max(1, int(math.ceil(step)))
    n = int(math.ceil(top / step))
    return [i * step for i in range(n + 1)]


def _fmt(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 10_000:
        return f"{n / 1000:g}k"
    return f"{n:,}"


def _label_every(categories: tuple[str, ...], dimension: str, slot: float) -> list[bool]:
    """Which category labels to print: all if they fit; for narrow months, January of every
    year (or every other year) only."""
    if dimension == "month" and slot < 30:
        years = sorted({c[:4] for c in categories if c[:4].isdigit()})
        span = len(categories) * slot
        step = max(1, math.ceil(len(years) * 40 / span)) if span else 1
        first = int(years[0]) if years else 0
        return [(not c[:4].isdigit()) or (c.endswith("-01") and (int(c[:4]) - first) % step == 0)
                for c in categories]
    if dimension == "month" or slot >= FONT + 2:
        return [True] * len(categories)
    every = math.ceil((FONT + 2) / slot)
    return [i % every == 0 for i in range(len(categories))]


def grouped_bars(chart: Chart, *, width: int = 1080, plot_h: int = 190) -> str:
    """The chart as an ``<svg>`` element (scales with its container; no script, no external reference)."""
    cats = chart.categories
    n = max(len(cats), 1)
    months = chart.dimension == "month"
    char_w = FONT * 0.6
    longest = max((len(c) for c in cats), default=4)
    left, right, top = 56, 12, 18
    slot = (width - left - right) / n
    rotate = not months and longest * char_w > slot - 4
    if rotate:
        # a label at 45° reaches left of its bar by cos 45° of its length: make room for the first one
        first = len(cats[0]) * char_w * 0.71 if cats else 0
        left = max(left, int(first - slot / 2) + 8)
        bottom = min(150, int(longest * char_w * 0.71) + 24)
    else:
        bottom = 28
    plot_w = width - left - right
    height = top + plot_h + bottom
    slot = plot_w / n
    values = [v for s in chart.series for v in s.values if v is not None]
    ticks = nice_ticks(max(values, default=0))
    ymax = ticks[-1] or 1
    k = len(chart.series) or 1
    inner = slot * (0.82 if slot > 6 else 0.94)
    bar = max(inner / k, 0.8)
    differing = set(chart.differing)
    numbers = n * k <= 24  # few bars: print each value above its bar

    def y(v: int) -> float:
        return top + plot_h - plot_h * v / ymax

    out: list[str] = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{escape(chart.chart_id)}-t" '
        f'font-family="inherit" font-size="{FONT}">',
        f'<title id="{escape(chart.chart_id)}-t">{escape(chart.title)}</title>',
    ]
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                   f'stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="{AXIS}">{_fmt(t)}</text>')
    show = _label_every(cats, chart.dimension, slot)
    for i, c in enumerate(cats):
        x0 = left + i * slot + (slot - inner) / 2
        if c in differing:
            out.append(f'<rect x="{left + i * slot:.2f}" y="{top}" width="{slot:.2f}" height="{plot_h}" '
                       f'fill="{DIFF_COLOUR}" fill-opacity="0.07"/>')
            cx = left + (i + 0.5) * slot
            out.append(f'<path d="M{cx:.1f} {top + plot_h + 2} l4 6 h-8 z" fill="{DIFF_COLOUR}">'
                       f'<title>{escape(c)}: source and target differ</title></path>')
        for j, s in enumerate(chart.series):
            v = s.values[i]
            if v is None:
                continue
            h = max(plot_h * v / ymax, 0.0)
            out.append(f'<rect x="{x0 + j * bar:.2f}" y="{y(v):.2f}" width="{max(bar - (0.6 if bar > 3 else 0), 0.6):.2f}" '
                       f'height="{h:.2f}" fill="{_colour(s.name, j)}"><title>{escape(c)} · {escape(s.name)}: '
                       f'{v:,}</title></rect>')
            if numbers:
                out.append(f'<text x="{x0 + (j + 0.5) * bar:.1f}" y="{y(v) - 4:.1f}" text-anchor="middle" '
                           f'fill="{AXIS}">{v:,}</text>')
        if show[i]:
            label = c[:4] if months and c.endswith("-01") and slot < 30 else c
            if rotate:
                lx, ly = left + (i + 0.5) * slot + 3, top + plot_h + 12
                out.append(f'<text x="{lx:.1f}" y="{ly}" transform="rotate(-45 {lx:.1f} {ly})" '
                           f'text-anchor="end" fill="{AXIS}">{escape(label)}</text>')
            elif months and slot < 30 and not c[:4].isdigit():  # "(no date)" after the last month
                lx = left + (i + 1) * slot
                out.append(f'<text x="{lx:.1f}" y="{top + plot_h + 18}" text-anchor="end" '
                           f'fill="{AXIS}">{escape(label)}</text>')
            elif months and slot < 30:  # a year, starting at its January
                lx = left + i * slot
                out.append(f'<text x="{lx:.1f}" y="{top + plot_h + 18}" text-anchor="start" '
                           f'fill="{AXIS}">{escape(label)}</text>')
                out.append(f'<line x1="{lx:.1f}" x2="{lx:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 5}" '
                           f'stroke="{AXIS}"/>')
            else:
                lx = left + (i + 0.5) * slot
                out.append(f'<text x="{lx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                           f'fill="{AXIS}">{escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    out.append("</svg>")
    return "".join(out)


def legend(chart: Chart) -> str:
    """The series names with their colour swatch, and the number of differing buckets (HTML)."""
    parts = [f'<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
             f'fill="{_colour(s.name, i)}"/></svg>{escape(s.name)}</span>' for i, s in enumerate(chart.series)]
    diff = chart.differing
    if len(chart.series) >= 2:
        parts.append(f'<span class="key diff"><svg width="12" height="12" aria-hidden="true"><path d="M6 2 l5 8 h-10 z" '
                     f'fill="{DIFF_COLOUR}"/></svg>{len(diff)} of {len(chart.categories)} differ</span>'
                     if diff else '<span class="key same">✔ every bucket agrees</span>')
    return "".join(parts)
