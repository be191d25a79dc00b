"""Report charts drawn with reportlab's own graphics: no image files, crisp at any zoom."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from usabtest.analysis import figures
from usabtest.analysis.metrics import SUS_GRADES
from usabtest.reports import fonts
from usabtest.reports.document import SusSummary, TaskSection
from usabtest.timefmt import format_clock

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
GRID = colors.HexColor("#d9dee4")
BAR = colors.HexColor("#2f6f8f")
BAR_LIGHT = colors.HexColor("#8fb8cc")
WHISKER = colors.HexColor("#102a43")
LIMIT = colors.HexColor("#b44d12")

ROW_H = 24
BAR_H = 12
AXIS_H = 26
LABEL_SIZE = 8
BAND_FILLS = {
    "F": colors.HexColor("#f4d6d2"),
    "D": colors.HexColor("#f8e3c8"),
    "C": colors.HexColor("#f6efc4"),
    "B": colors.HexColor("#dcefd6"),
    "A": colors.HexColor("#c7e6d4"),
}


def sus_bands() -> list[tuple[str, float]]:
    """Letter bands of the Sauro-Lewis curved scale (A+, A and A- make "A"), lowest first."""
    lowest: dict[str, float] = {}
    for lower, grade in SUS_GRADES:
        letter = grade[0]
        lowest[letter] = min(lower, lowest.get(letter, 100.0))
    return sorted(lowest.items(), key=lambda item: item[1])


def fit_text(text: str, width: float, size: float = LABEL_SIZE, font: str = fonts.REGULAR) -> str:
    """`text` shortened with an ellipsis so it fits `width` points."""
    text = " ".join(text.split())
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def format_seconds(seconds: float) -> str:
    """Seconds as m:ss (or h:mm:ss), the way the results page shows times."""
    return format_clock(seconds)


TIME_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def nice_ceiling(value: float) -> tuple[float, float]:
    """A time axis maximum (seconds) just above `value`, with a clock-friendly step for 3-6 ticks."""
    if value <= 0:
        return 60.0, 15.0
    raw_step = value / 5
    step = next((s for s in TIME_STEPS if s >= raw_step), 3600 * math.ceil(raw_step / 3600))
    return step * math.ceil(value / step), float(step)


def _string(x: float, y: float, text: str, *, size: float = LABEL_SIZE, color=INK,
            anchor: str = "start", bold: bool = False) -> String:
    return String(x, y, text, fontName=fonts.BOLD if bold else fonts.REGULAR, fontSize=size,
                  fillColor=color, textAnchor=anchor)


def _task_labels(drawing: Drawing, tasks: Sequence[TaskSection], label_w: float, top: float) -> None:
    for index, task in enumerate(tasks):
        y = top - (index + 0.5) * ROW_H - 3
        drawing.add(_string(0, y, fit_text(f"{task.number}. {task.title}", label_w - 8)))


def _axis(drawing: Drawing, x0: float, x1: float, top: float, ticks: Sequence[tuple[float, str]],
          title: str) -> None:
    for position, label in ticks:
        drawing.add(Line(position, AXIS_H - 4, position, top, strokeColor=GRID, strokeWidth=0.5))
        drawing.add(_string(position, AXIS_H - 13, label, size=7, color=MUTED, anchor="middle"))
    drawing.add(Line(x0, AXIS_H - 4, x1, AXIS_H - 4, strokeColor=MUTED, strokeWidth=0.6))
    drawing.add(_string((x0 + x1) / 2, 2, title, size=7.5, color=MUTED, anchor="middle"))


def _whisker(drawing: Drawing, x_low: float, x_high: float, y: float, open_end: bool = False) -> None:
    drawing.add(Line(x_low, y, x_high, y, strokeColor=WHISKER, strokeWidth=1))
    drawing.add(Line(x_low, y - 4, x_low, y + 4, strokeColor=WHISKER, strokeWidth=1))
    if open_end:  # the interval goes on past the axis
        drawing.add(Polygon([x_high, y, x_high - 5, y + 3, x_high - 5, y - 3], fillColor=WHISKER,
                            strokeColor=None))
    else:
        drawing.add(Line(x_high, y - 4, x_high, y + 4, strokeColor=WHISKER, strokeWidth=1))


def completion_chart(tasks: Sequence[TaskSection], width: float) -> Drawing:
    """Completion rate per task as bars, with the 95% interval drawn as whiskers."""
    label_w = min(170.0, width * 0.34)
    x0, x1 = label_w, width - 34
    top = AXIS_H + ROW_H * len(tasks)
    drawing = Drawing(width, top + 4)
    scale = (x1 - x0)
    _axis(drawing, x0, x1, top, [(x0 + scale * p / 100, f"{p}%") for p in range(0, 101, 25)],
          "Completion rate, small-sample estimate (bars); whiskers: 95% confidence interval")
    _task_labels(drawing, tasks, label_w, top)
    for index, task in enumerate(tasks):
        m = task.metrics
        y = top - (index + 0.5) * ROW_H
        if m.completion_rate is None:
            drawing.add(_string(x0 + 4, y - 3, "no attempts yet", color=MUTED))
            continue
        drawing.add(Rect(x0, y - BAR_H / 2, scale * m.completion_rate, BAR_H, fillColor=BAR,
                         strokeColor=None))
        end = m.completion_rate
        if m.completion_low is not None and m.completion_high is not None:
            _whisker(drawing, x0 + scale * m.completion_low, x0 + scale * m.completion_high, y)
            end = m.completion_high
        drawing.add(_string(x0 + scale * end + 5, y - 3, figures.percent(m.completion_rate), bold=True))
    return drawing


def time_chart(tasks: Sequence[TaskSection], width: float) -> Drawing:
    """Mean time on task per task, with interval whiskers and each task's time limit marked."""
    label_w = min(170.0, width * 0.34)
    x0, x1 = label_w, width - 40
    top = AXIS_H + ROW_H * len(tasks)
    drawing = Drawing(width, top + 4)
    # Small samples give very wide intervals; the axis follows the means and limits instead,
    # and whiskers running past it end in an arrow.
    means = [t.metrics.time_mean_s for t in tasks if t.metrics.time_mean_s]
    limits = [t.time_limit_s for t in tasks if t.time_limit_s]
    axis_max, step = nice_ceiling(max([m * 1.6 for m in means] + [v * 1.05 for v in limits] or [0]))
    scale = (x1 - x0) / axis_max
    ticks = [(x0 + scale * step * i, format_seconds(step * i)) for i in range(int(axis_max / step) + 1)]
    # The limit is told by its dashes, not its colour alone: the chart reads printed in grey.
    _axis(drawing, x0, x1, top, ticks, "Successful attempts: geometric mean (m:ss), whiskers 95% CI; "
          "dashed line: time limit")
    _task_labels(drawing, tasks, label_w, top)
    for index, task in enumerate(tasks):
        m = task.metrics
        y = top - (index + 0.5) * ROW_H
        if task.time_limit_s:
            x = x0 + scale * task.time_limit_s
            drawing.add(Line(x, y - ROW_H / 2 + 1, x, y + ROW_H / 2 - 1, strokeColor=LIMIT,
                             strokeWidth=1.6, strokeDashArray=[2.5, 1.5]))
        if m.time_mean_s is None:
            drawing.add(_string(x0 + 4, y - 3, "no timed attempts yet", color=MUTED))
            continue
        drawing.add(Rect(x0, y - BAR_H / 2, scale * m.time_mean_s, BAR_H, fillColor=BAR_LIGHT,
                         strokeColor=None))
        end = m.time_mean_s
        if m.time_low_s is not None and m.time_high_s is not None:
            end = max(end, min(m.time_high_s, axis_max))
            _whisker(drawing, x0 + scale * m.time_low_s, x0 + scale * end, y,
                     open_end=m.time_high_s > axis_max)
        drawing.add(_string(x0 + scale * end + 5, y - 3, format_seconds(m.time_mean_s), bold=True))
    return drawing


def sus_chart(sus: SusSummary, width: float) -> Drawing:
    """Each participant's SUS score as a dot over the grade bands, with the mean and its interval."""
    x0, x1 = 10.0, width - 10
    scale = (x1 - x0) / 100
    bins = Counter(min(int(score // 2.5), 39) for score in sus.scores)
    stack = max(bins.values(), default=1)
    dot = 3.2
    band_h = max(46.0, stack * (dot * 2 + 1.5) + 30)
    base = AXIS_H
    drawing = Drawing(width, base + band_h + 16)
    bands = sus_bands()
    bounds = [b[1] for b in bands[1:]] + [100.0]
    for (letter, low), high in zip(bands, bounds, strict=True):
        drawing.add(Rect(x0 + scale * low, base, scale * (high - low), band_h,
                         fillColor=BAND_FILLS.get(letter, colors.white), strokeColor=None))
        drawing.add(_string(x0 + scale * (low + high) / 2, base + band_h + 4, f"Grade {letter}",
                            size=7, color=MUTED, anchor="middle"))
    _axis(drawing, x0, x1, base + band_h, [(x0 + scale * p, str(p)) for p in range(0, 101, 10)],
          "SUS score per participant (dots), mean with 95% confidence interval (bar)")
    for bin_index, count in sorted(bins.items()):
        cx = x0 + scale * (bin_index * 2.5 + 1.25)
        for level in range(count):
            drawing.add(Circle(cx, base + 6 + dot + level * (dot * 2 + 1.5), dot, fillColor=BAR,
                               strokeColor=colors.white, strokeWidth=0.4))
    if sus.mean is not None:
        y = base + band_h - 12
        if sus.low is not None and sus.high is not None:
            _whisker(drawing, x0 + scale * sus.low, x0 + scale * sus.high, y)
        mx = x0 + scale * sus.mean
        drawing.add(Rect(mx - 1.5, y - 7, 3, 14, fillColor=WHISKER, strokeColor=None))
        drawing.add(_string(mx, y + 9, f"mean {sus.mean_text}", size=7.5, bold=True, anchor="middle"))
    return drawing
