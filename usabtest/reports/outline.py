"""What every format of the report says the same way: headline numbers, figures with their text
alternatives, and text made safe for XML-based files. Pure: no Flask, no database.

The PDF (`pdf.py`), the HTML view (`templates/reports/version.html`), the DOCX (`docx.py`) and the
PPTX (`pptx.py`) are all drawn from one `ReportData`; the pieces here keep them from drifting apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from reportlab.graphics.shapes import Drawing

from usabtest.reports import charts
from usabtest.reports.document import FindingItem, ReportData, TaskSection

# Characters XML 1.0 cannot hold (python-docx and python-pptx refuse them, a browser shows boxes):
# control characters other than tab and line breaks, lone surrogates and the two non-characters.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
EMPTY = "–"


def clean(text: str | None) -> str:
    """`text` with line breaks normalised and characters no XML file may carry removed."""
    return _NOT_XML.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n"))


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary before `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:.") + "…"


@dataclass(frozen=True)
class Stat:
    """One of the headline numbers: the figure and what it counts."""

    value: str
    label: str


def headline(report: ReportData) -> list[Stat]:
    """Participants, overall completion, SUS and serious findings: the summary's four numbers."""
    serious = sum(1 for f in report.findings if f.severity >= 3)
    sus = report.sus
    sus_value = sus.mean_text if sus and sus.mean is not None else EMPTY
    sus_label = f"mean SUS score, n = {sus.n}" if sus else "SUS score"
    if sus and sus.grade:
        sus_label += f" (grade {sus.grade})"
    count = len(report.participants)
    return [
        Stat(str(count), "participant" if count == 1 else "participants"),
        Stat(report.overall_completion_text, report.overall_completion_label),
        Stat(sus_value, sus_label),
        Stat(str(serious), f"major or catastrophic {'finding' if serious == 1 else 'findings'} "
                           f"(of {len(report.findings)})"),
    ]


OVERVIEW_HEADER = ("Task", "Completion", "Time on task", "Errors", "SEQ (1–7)")


def overview_row(task: TaskSection) -> list[str]:
    """A task's row of the results overview table, under `OVERVIEW_HEADER`."""
    m = task.metrics
    return [f"{task.number}. {task.title}", m.completion_text, m.time_text, m.errors_text, m.seq_text]


def task_facts(task: TaskSection) -> list[tuple[str, str]]:
    """A task's four measures as (label, value) pairs, formatted as on the results page."""
    m = task.metrics
    return [("Completion", m.completion_text), ("Time on task (successful attempts)", m.time_text),
            ("Errors per attempt", m.errors_text), ("SEQ (1–7, attempted tasks)", m.seq_text)]


FINDINGS_INTRO = "Findings are ranked by severity on Nielsen's scale, then by how many participants met them."


def finding_meta(item: FindingItem) -> list[str]:
    """Severity (none for what worked well), frequency and tasks of a finding, as short phrases."""
    meta = [item.severity_text] if item.severity_text else []
    if item.frequency_text:
        meta.append(item.frequency_text)
    if item.tasks:
        meta.append(item.tasks_text)
    return meta


def recommendation_label(item: FindingItem) -> str:
    """"Recommendation · Priority: High · Effort: Small" (ratings left out when not given)."""
    return " · ".join(filter(None, ["Recommendation", item.priority_text]))


def evidence_attribution(quote) -> str:
    """Where a piece of evidence comes from, as printed under it."""
    return ("— " if quote.quoted else "") + quote.attribution_text


def evidence_text(quote) -> str:
    """A piece of evidence and where it comes from, as one line (slides)."""
    return f"{quote.display_text} {evidence_attribution(quote)}"


def screenshot_caption(shot) -> str:
    """The caption printed under a screenshot ("Screenshot 1 of finding 3: …"), or empty."""
    return shot.caption_text or shot.caption


@dataclass(frozen=True)
class Figure:
    """A chart of the report with its caption and a text alternative that gives its numbers."""

    number: int
    caption: str
    alt: str
    draw: Callable[[float], Drawing]  # the chart at a given width in points


def figures(report: ReportData) -> list[Figure]:
    """The report's charts in order, each with a text alternative listing what it shows."""
    result: list[Figure] = []
    tasks = report.tasks
    if tasks:
        result.append(Figure(1, "Figure 1. Completion rate per task", _completion_alt(tasks),
                             lambda width: charts.completion_chart(tasks, width)))
        result.append(Figure(2, "Figure 2. Time on task", _time_alt(tasks),
                             lambda width: charts.time_chart(tasks, width)))
    sus = report.sus
    if sus is not None and sus.scores:
        result.append(Figure(3, "Figure 3. Distribution of SUS scores", _sus_alt(report),
                             lambda width: charts.sus_chart(sus, width)))
    return result


def _completion_alt(tasks: tuple[TaskSection, ...]) -> str:
    parts = [f"Task {t.number}, {t.title}: "
             + (t.metrics.completion_text if t.metrics.attempts else "no attempts yet") for t in tasks]
    return ("Bar chart of the completion rate per task, with 95% confidence intervals. "
            + "; ".join(parts) + ".")


def _time_alt(tasks: tuple[TaskSection, ...]) -> str:
    parts = []
    for t in tasks:
        value = t.metrics.time_text if t.metrics.time_mean_s is not None else "no timed attempts yet"
        limit = f" (time limit {charts.format_seconds(t.time_limit_s)})" if t.time_limit_s else ""
        parts.append(f"Task {t.number}, {t.title}: {value}{limit}")
    return ("Bar chart of the time on task of successful attempts, geometric mean with 95% confidence "
            "interval. " + "; ".join(parts) + ".")


def _sus_alt(report: ReportData) -> str:
    sus = report.sus
    assert sus is not None
    scores = ", ".join(f"{score:g}" for score in sorted(sus.scores))
    grade = f", grade {sus.grade}" if sus.grade else ""
    return (f"Dot plot of {len(sus.scores)} SUS scores over the grade bands: {scores}. "
            f"Mean {sus.summary_text}{grade}.")


def related_findings(report: ReportData, task: TaskSection) -> list[FindingItem]:
    """The findings linked to `task`, in rank order."""
    return [f for f in report.findings if any(t.startswith(f"{task.number}.") for t in f.tasks)]
