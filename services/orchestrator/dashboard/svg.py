"""Inline SVG charts for the dashboard (pure): the funnel bar chart and stage flow over time.

Strings in, markup out, no I/O and no JavaScript, so the pages stay server-rendered and the charts
are unit-testable. Every piece of text and every attribute is escaped here; links are kept only
when they are site-relative (``/...``), so a label or href can never inject markup or a
``javascript:`` URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

PALETTE: dict[str, str] = {
    "awareness": "#9ecae1",
    "engaged": "#6baed6",
    "mql": "#4292c6",
    "sql": "#2171b5",
    "opportunity": "#08519c",
    "onboarding": "#31a354",
    "retained": "#74c476",
    "expansion": "#fd8d3c",
    "advocate": "#e6550d",
    "churned": "#969696",
    "disqualified": "#bdbdbd",
}
FALLBACK = "#888888"


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of the funnel: a stage, its count, an optional note and link."""

    label: str
    value: int
    note: str = ""
    href: str | None = None
    muted: bool = False


@dataclass(frozen=True, slots=True)
class FlowSeries:
    """Subjects per stage at each instant: ``counts[i][j]`` is stage ``j`` at ``times[i]``."""

    stages: tuple[str, ...]
    times: tuple[datetime, ...]
    counts: tuple[tuple[int, ...], ...]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _href(href: str | None) -> str | None:
    """Only site-relative links (``/...``, not ``//host``) survive."""
    if href and href.startswith("/") and not href.startswith("//"):
        return href
    return None


def _empty(width: int, height: int, title: str, message: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-empty" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>'
        f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" class="empty">'
        f"{escape(message)}</text></svg>"
    )


def funnel_chart(bars: Sequence[Bar], title: str, width: int = 640) -> str:
    """Horizontal bars, one per stage in the given order, scaled to the largest value."""
    row, label_w, value_w = 26, 90, 170
    if not bars:
        return _empty(width, 60, title, "No stages to show")
    height = row * len(bars) + 8
    track = width - label_w - value_w
    top = max((b.value for b in bars), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart funnel" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>'
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * row
        length = round(track * max(bar.value, 0) / top, 1)
        colour = FALLBACK if bar.muted else PALETTE.get(bar.label, FALLBACK)
        text = f"{bar.value}" + (f" · {bar.note}" if bar.note else "")
        rect = (
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{length}" height="{row - 8}" '
            f'fill="{colour}" data-stage="{_attr(bar.label)}" data-value="{bar.value}">'
            f"<title>{escape(bar.label)}: {escape(text)}</title></rect>"
        )
        link = _href(bar.href)
        if link is not None:
            rect = f'<a href="{_attr(link)}">{rect}</a>'
        parts.append(
            f'<g class="row{" muted" if bar.muted else ""}">'
            f'<text x="{label_w - 8}" y="{y + row / 2 + 4}" text-anchor="end">'
            f"{escape(bar.label)}</text>{rect}"
            f'<text x="{label_w + length + 6}" y="{y + row / 2 + 4}" class="value">'
            f"{escape(text)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _day(at: datetime) -> str:
    return at.strftime("%d %b")


def flow_chart(series: FlowSeries, title: str, width: int = 640, height: int = 260) -> str:
    """A cumulative-flow chart: stacked bands of subjects per stage over time (the furthest stage
    at the bottom), so a cohort moving down the funnel shows as bands growing downwards."""
    totals = [sum(c) for c in series.counts]
    if len(series.times) < 2 or not series.stages or not any(totals):
        return _empty(width, 80, title, "No stage changes in this range")
    left, right, top_pad, bottom, legend_w = 40, 8, 8, 22, 110
    plot_w = width - left - right - legend_w
    plot_h = height - top_pad - bottom
    top = max(totals)
    n = len(series.times)

    def x(i: int) -> float:
        return round(left + plot_w * i / (n - 1), 1)

    def y(v: int) -> float:
        return round(top_pad + plot_h * (1 - v / top), 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart flow" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>'
    ]
    below = [0] * n
    order = list(reversed(range(len(series.stages))))  # furthest stage first, at the bottom
    for j in order:
        above = [below[i] + series.counts[i][j] for i in range(n)]
        if any(series.counts[i][j] for i in range(n)):
            upper = " ".join(f"{x(i)},{y(above[i])}" for i in range(n))
            lower = " ".join(f"{x(i)},{y(below[i])}" for i in reversed(range(n)))
            stage = series.stages[j]
            last = series.counts[-1][j]
            parts.append(
                f'<polygon class="band" data-stage="{_attr(stage)}" points="{upper} {lower}" '
                f'fill="{PALETTE.get(stage, FALLBACK)}">'
                f"<title>{escape(stage)}: {last} at {_day(series.times[-1])}</title></polygon>"
            )
        below = above
    base = top_pad + plot_h
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" class="axis"/>'
        f'<text x="{left - 4}" y="{top_pad + 10}" text-anchor="end" class="tick">{top}</text>'
        f'<text x="{left - 4}" y="{base}" text-anchor="end" class="tick">0</text>'
    )
    for i in sorted({0, (n - 1) // 2, n - 1}):
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        parts.append(
            f'<text x="{x(i)}" y="{height - 6}" text-anchor="{anchor}" class="tick">'
            f"{escape(_day(series.times[i]))}</text>"
        )
    for k, stage in enumerate(series.stages):
        ly = top_pad + 4 + k * 18
        lx = width - legend_w + 6
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" '
            f'fill="{PALETTE.get(stage, FALLBACK)}"/>'
            f'<text x="{lx + 18}" y="{ly + 10}" class="legend">{escape(stage)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class LiftRow:
    """One sequence: treated vs held-out conversion, the difference and its 95% interval (all
    None with a ``note`` when there is not enough data)."""

    label: str
    treated: str  # "75% of 40"
    held_out: str
    difference: float | None
    low: float | None
    high: float | None
    note: str = ""

    @property
    def lifts(self) -> bool:
        return self.low is not None and self.low > 0


def _points(share: float) -> str:
    return f"{share * 100:+.0f} pts"


def lift_chart(rows: Sequence[LiftRow], title: str, width: int = 1100) -> str:
    """Per sequence, the difference in conversion (treated - held out) as a dot on a -100..+100
    point axis with its 95% interval as a whisker: green when the whole interval is above 0."""
    row, label_w, text_w = 34, 230, 480
    if not rows:
        return _empty(width, 60, title, "No sequence was measured in this range")
    height = row * len(rows) + 28
    track = width - label_w - text_w

    def x(share: float) -> float:
        return round(label_w + track * (max(-1.0, min(1.0, share)) + 1) / 2, 1)

    zero = x(0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart lift" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>'
        f'<line x1="{zero}" y1="4" x2="{zero}" y2="{height - 20}" class="axis zero"/>'
        f'<text x="{x(-1)}" y="{height - 6}" class="tick">-100 pts</text>'
        f'<text x="{zero}" y="{height - 6}" text-anchor="middle" class="tick">0</text>'
        f'<text x="{x(1)}" y="{height - 6}" text-anchor="end" class="tick">+100 pts</text>'
    ]
    for i, r in enumerate(rows):
        cy = 4 + i * row + row / 2
        verdict = "lifts" if r.lifts else "unclear" if r.difference is not None else "no-data"
        parts.append(
            f'<g class="sequence {verdict}" data-sequence="{_attr(r.label)}">'
            f'<text x="{label_w - 8}" y="{cy + 4}" text-anchor="end">{escape(r.label)}</text>'
        )
        if r.difference is None or r.low is None or r.high is None:
            text = f"{r.note or 'not enough data'}; treated {r.treated} · held out {r.held_out}"
        else:
            colour = "#067647" if r.lifts else "#888888"
            hint = f"{_points(r.difference)} (95% CI {r.low * 100:+.0f} to {r.high * 100:+.0f})"
            parts.append(
                f'<line x1="{x(r.low)}" y1="{cy}" x2="{x(r.high)}" y2="{cy}" stroke="{colour}" '
                f'stroke-width="2" class="ci"/>'
                f'<circle cx="{x(r.difference)}" cy="{cy}" r="5" fill="{colour}" class="effect" '
                f'data-difference="{r.difference}"><title>{escape(hint)}</title></circle>'
            )
            text = f"{hint}; treated {r.treated} · held out {r.held_out}"
        parts.append(
            f'<text x="{label_w + track + 8}" y="{cy + 4}" class="value">{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
