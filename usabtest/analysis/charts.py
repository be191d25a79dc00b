"""Accessible SVG charts for the results page. Pure: no Flask, no database.

Each chart is a self-contained <svg role="img"> with a <title> and a <desc> that states the figures,
so screen readers get the numbers and the page's table repeats them. Dark strokes on light fills keep
the charts legible when printed in black and white.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from usabtest.analysis import figures
from usabtest.timefmt import format_clock

WIDTH = 640
LABEL_W = 170
RIGHT_PAD = 70
ROW_H = 30
TOP = 12
AXIS_H = 34
BAR = "#1f5fbf"
INK = "#1d2330"
GRID = "#c9ced6"


@dataclass(frozen=True)
class ChartRow:
    """One bar: a label, its value and interval (None where nothing was measured)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, title: str, desc: str, height: float, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {_num(height)}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, content: str, anchor: str = "start", size: int = 12, weight: str = "") -> str:
    bold = ' font-weight="600"' if weight else ""
    return (f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{INK}"{bold}>{escape(content)}</text>')


def _line(x1: float, y1: float, x2: float, y2: float, colour: str = INK, width: float = 1.5,
          dash: str = "") -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
            f'stroke="{colour}" stroke-width="{width}"{dashed}/>')


def _short(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1, 2 or 5 times a power of ten apart)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(maximum / step - 1e-9) + 1)]


def _bar_chart(chart_id: str, title: str, rows: Sequence[ChartRow], ticks: list[float],
               fmt: Callable[[float], str], empty_text: str) -> str:
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    top_value = ticks[-1] or 1.0
    height = TOP + ROW_H * max(1, len(rows)) + AXIS_H

    def x(value: float) -> float:
        return LABEL_W + plot_w * max(0.0, min(value, top_value)) / top_value

    body = [_line(x(t), TOP, x(t), height - AXIS_H, GRID, 1) for t in ticks]
    body += [_text(x(t), height - AXIS_H + 16, fmt(t), "middle", 11) for t in ticks]
    described = []
    for index, row in enumerate(rows):
        mid = TOP + ROW_H * index + ROW_H / 2
        body.append(_text(LABEL_W - 8, mid + 4, _short(row.label), "end"))
        if row.value is None:
            body.append(_text(LABEL_W + 4, mid + 4, empty_text, size=11))
            described.append(f"{row.label}: {empty_text}")
            continue
        body.append(f'<rect x="{LABEL_W}" y="{_num(mid - 9)}" width="{_num(x(row.value) - LABEL_W)}" '
                    f'height="18" fill="{BAR}" fill-opacity="0.35" stroke="{BAR}"/>')
        text = f"{row.label}: {fmt(row.value)}"
        if row.low is not None and row.high is not None:
            body += [_line(x(row.low), mid, x(row.high), mid),
                     _line(x(row.low), mid - 6, x(row.low), mid + 6),
                     _line(x(row.high), mid - 6, x(row.high), mid + 6)]
            text += f" ({figures.interval(fmt(row.low), fmt(row.high), 0.95)})"
        body.append(_text(WIDTH - RIGHT_PAD + 6, mid + 4, fmt(row.value), weight="bold"))
        described.append(text)
    body.append(_line(LABEL_W, height - AXIS_H, WIDTH - RIGHT_PAD, height - AXIS_H))
    desc = "; ".join(described) if described else "No data yet."
    return _svg(chart_id, title, desc, height, body)


def _percent(value: float) -> str:
    return figures.percent(value)


def completion_chart(rows: Sequence[ChartRow], chart_id: str = "completion") -> str:
    """Completion rate per task (0-1) as bars with adjusted-Wald whiskers."""
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    return _bar_chart(chart_id, "Task completion rate with 95% confidence intervals", rows, ticks, _percent,
                      "no finished attempts")


def time_chart(rows: Sequence[ChartRow], chart_id: str = "time") -> str:
    """Geometric mean time of successful attempts per task (seconds) with interval whiskers."""
    highest = max((r.high if r.high is not None else r.value or 0.0) for r in rows) if rows else 0.0
    return _bar_chart(chart_id, "Time on task (successful attempts) with 95% confidence intervals", rows,
                      nice_ticks(highest or 60.0), format_clock, "no successful attempts")


def _sus_bins(scores: Sequence[float]) -> list[int]:
    counts = [0] * 10
    for score in scores:
        counts[min(9, int(score // 10))] += 1
    return counts


def sus_chart(scores: Sequence[float], mean: float | None = None, chart_id: str = "sus") -> str:
    """Histogram of individual SUS scores in bands of ten, with the mean and the average of 68 marked."""
    counts = _sus_bins(scores)
    plot_left, plot_w, plot_top, plot_h = 50, WIDTH - 80, 16, 160
    height = plot_top + plot_h + 44
    top_count = max(counts + [1])
    ticks = nice_ticks(top_count, 4)
    y_max = ticks[-1]

    def x(score: float) -> float:
        return plot_left + plot_w * score / 100

    def y(count: float) -> float:
        return plot_top + plot_h - plot_h * count / y_max

    body = []
    for tick in ticks:
        body += [_line(plot_left, y(tick), plot_left + plot_w, y(tick), GRID, 1),
                 _text(plot_left - 6, y(tick) + 4, _num(tick), "end", 11)]
    for band, count in enumerate(counts):
        if count:
            body.append(f'<rect x="{_num(x(band * 10) + 2)}" y="{_num(y(count))}" '
                        f'width="{_num(plot_w / 10 - 4)}" height="{_num(y(0) - y(count))}" '
                        f'fill="{BAR}" fill-opacity="0.35" stroke="{BAR}"/>')
    for score in range(0, 101, 10):
        body.append(_text(x(score), y(0) + 16, str(score), "middle", 11))
    body.append(_line(plot_left, y(0), plot_left + plot_w, y(0)))
    body.append(_line(x(68), plot_top, x(68), y(0), INK, 1, "4 3"))
    body.append(_text(x(68) + 3, plot_top + 10, "average 68", size=10))
    if mean is not None:
        body.append(_line(x(mean), plot_top, x(mean), y(0), INK, 2.5))
        body.append(_text(x(mean) + 3, plot_top + 24, f"mean {figures.decimal(mean)}", size=11,
                          weight="bold"))
    body.append(_text(plot_left + plot_w / 2, height - 6, "SUS score", "middle", 11))
    bands = [f"{band * 10}-{band * 10 + 9 if band < 9 else 100}: {count}"
             for band, count in enumerate(counts) if count]
    desc = (f"{len(scores)} scores" + (f", mean {figures.decimal(mean)}" if mean is not None else "")
            + ("; " + ", ".join(bands) if bands else "; no scores yet") + ".")
    return _svg(chart_id, "Distribution of SUS scores", desc, height, body)
