"""Chart geometry for the reports: plain numbers that site/charts.html draws as inline SVG.

No HTML here: each chart is a small dataclass of shapes in SVG user units plus
the rows of its text alternative (a data table). The templates own the markup
and escape every label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str        #: category shown on the axis ("75–80%", "mse")
    value: float      #: what the bar measures (a count or a percent)
    text: str         #: the value as read aloud and printed by the bar ("12 learners", "85%")
    good: bool = False  #: drawn in the "passing" colour


@dataclass(frozen=True)
class Tick:
    pos: float        #: x (horizontal axis) or y (vertical axis) in user units
    label: str


@dataclass
class Histogram:
    """Vertical bars over equal score bins, with the pass line."""

    title: str
    desc: str
    width: float
    height: float
    plot: tuple[float, float, float, float]  #: left, top, right, bottom of the plotting area
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    threshold_x: float
    threshold_label: str
    x_label: str
    y_label: str


@dataclass
class HBarChart:
    """Horizontal percent bars, one per category, with the pass line."""

    title: str
    desc: str
    width: float
    height: float
    label_width: float
    plot: tuple[float, float, float, float]
    bars: list[Bar]
    x_ticks: list[Tick]
    threshold_x: float | None
    threshold_label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str        #: the attempt as read aloud ("attempt 2, 2026-11-23: 62 / 80 (78%)")
    good: bool


@dataclass
class LineChart:
    """Score per attempt, in percent of the maximum, with the pass line."""

    title: str
    desc: str
    width: float
    height: float
    plot: tuple[float, float, float, float]
    points: list[Point]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    threshold_y: float
    threshold_label: str
    path: str = field(default="")  #: SVG path data joining the points


def _pct_ticks(lo: float, hi: float, vertical: bool) -> list[Tick]:
    """Ticks at 0, 25, 50, 75, 100 percent along [lo, hi] (reversed for a vertical axis)."""
    out = []
    for p in (0, 25, 50, 75, 100):
        frac = p / 100
        pos = hi - frac * (hi - lo) if vertical else lo + frac * (hi - lo)
        out.append(Tick(round(pos, 2), f"{p}%"))
    return out


def histogram(percents: list[float], *, threshold: float, bins: int = 20, title: str, desc: str,
              width: float = 640, height: float = 260) -> Histogram:
    """Counts of `percents` (0-100) in `bins` equal bins; the last bin includes 100."""
    left, top, right, bottom = 48.0, 18.0, width - 24.0, height - 44.0
    counts = [0] * bins
    step = 100 / bins
    for p in percents:
        # Right-closed bins (lo, hi], the first one [0, step]: exactly 75% falls below the pass line,
        # as "above 75%" wants, and a bin right of the line holds only passing scores.
        counts[min(bins - 1, max(0, math.ceil(p / step - 1e-9) - 1))] += 1
    peak = max(counts) if counts and max(counts) > 0 else 1
    # A round axis top: 1, 2, 5, 10, 20, 50, ... at or above the peak.
    nice = next(n for n in _nice_steps() if n >= peak)
    bw = (right - left) / bins
    bars = []
    for i, n in enumerate(counts):
        h = (bottom - top) * n / nice
        lo, hi = i * step, (i + 1) * step
        label = f"{lo:g}–{hi:g}%" if i == 0 else f"over {lo:g}–{hi:g}%"
        bars.append(Bar(round(left + i * bw + 1, 2), round(bottom - h, 2), round(bw - 2, 2), round(h, 2),
                        label, n, f"{n} learner{'s' if n != 1 else ''}", good=lo >= threshold * 100 - 1e-9))
    y_ticks = [Tick(round(bottom - (bottom - top) * v / nice, 2), f"{v:g}")
               for v in sorted({0, nice / 2 if nice % 2 == 0 else nice, nice})]
    return Histogram(title, desc, width, height, (left, top, right, bottom), bars,
                     _pct_ticks(left, right, vertical=False), y_ticks,
                     round(left + threshold * (right - left), 2), f"pass line: above {threshold:.0%}",
                     "exercise score (percent of the points)", "learners")


def _nice_steps():
    base = 1
    while True:
        for m in (1, 2, 5):
            yield base * m
        base *= 10


def hbars(rows: list[tuple[str, float, str]], *, threshold: float | None, title: str, desc: str,
          width: float = 640, label_width: float = 200, row_height: float = 26,
          value_width: float | None = None) -> HBarChart:
    """One horizontal bar per (label, percent 0-100, text) row; each row's text to the right of its bar.

    `value_width` is the room kept for that text (default: enough for the longest, at ~7.5 px
    a character), so "39.64 / 80" is never cut at the chart's edge.
    """
    top, bottom_pad = 8.0, 28.0
    if value_width is None:
        value_width = 16.0 + 7.5 * max([len(text) for _, _, text in rows] + [5])
    left, right = label_width, width - value_width
    height = top + row_height * max(1, len(rows)) + bottom_pad
    bars = []
    for i, (label, percent, text) in enumerate(rows):
        w = (right - left) * max(0.0, min(100.0, percent)) / 100
        good = threshold is not None and percent > threshold * 100 + 1e-9
        bars.append(Bar(left, round(top + i * row_height + 4, 2), round(w, 2), row_height - 8,
                        label, round(percent, 1), text, good))
    bottom = top + row_height * max(1, len(rows))
    return HBarChart(title, desc, width, round(height, 2), label_width, (left, top, right, bottom), bars,
                     _pct_ticks(left, right, vertical=False),
                     None if threshold is None else round(left + threshold * (right - left), 2),
                     "" if threshold is None else f"{threshold:.0%}")


def history(attempts: list[tuple[str, float, float]], *, threshold: float, title: str, desc: str,
            width: float = 640, height: float = 220) -> LineChart:
    """One point per (when, score, max_score) attempt, oldest first, y in percent of the maximum."""
    left, top, right, bottom = 48.0, 14.0, width - 16.0, height - 40.0
    n = len(attempts)
    points = []
    for i, (when, score, max_score) in enumerate(attempts):
        pct = 100 * score / max_score if max_score else 0.0
        x = left + (right - left) * (i + 0.5) / max(n, 1)
        y = bottom - (bottom - top) * pct / 100
        good = max_score > 0 and score > threshold * max_score + 1e-9
        points.append(Point(round(x, 2), round(y, 2),
                            f"attempt {i + 1}, {when}: {score:g} / {max_score:g} ({pct:.0f}%)", good))
    path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(points))
    # Label at most ~12 attempts on the axis so the numbers never overlap.
    every = max(1, -(-n // 12))
    x_ticks = [Tick(p.x, str(i + 1)) for i, p in enumerate(points) if i % every == 0 or i == n - 1]
    return LineChart(title, desc, width, height, (left, top, right, bottom), points, x_ticks,
                     _pct_ticks(top, bottom, vertical=True),
                     round(bottom - (bottom - top) * threshold, 2), f"pass line: above {threshold:.0%}",
                     path)
