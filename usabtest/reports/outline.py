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
    attempts = sum(t.metrics.attempts for t in report.tasks)
    successes = sum(t.metrics.successes for t in report.tasks)
    overall = f"{successes / attempts * 100:.0f}%" if attempts else EMPTY
    serious = sum(1 for f in report.findings if f.severity >= 3)
    sus = report.sus
    sus_value = sus.mean_text if sus and sus.mean is not None else EMPTY
    sus_label = f"SUS score (grade {sus.grade})" if sus and sus.grade else "SUS score"
    return [
        Stat(str(len(report.participants)), "participants"),
        Stat(overall, f"task completion ({successes} of {attempts} attempts)"),
        Stat(sus_value, sus_label),
        Stat(str(serious), f"major or catastrophic findings (of {len(report.findings)})"),
    ]


def task_facts(task: TaskSection) -> list[tuple[str, str]]:
    """A task's four measures as (label, value) pairs, formatted as on the results page."""
    m = task.metrics
    return [("Completion", m.completion_text), ("Time on task", m.time_text),
            ("Errors per attempt", m.errors_text), ("SEQ (1–7)", m.seq_text)]


def attempts_text(task: TaskSection) -> str:
    """"7 of 8 attempts succeeded without help." or that none were recorded."""
    m = task.metrics
    if not m.attempts:
        return "No attempts were recorded for this task."
    return f"{m.successes} of {m.attempts} attempts succeeded without help."


def finding_meta(item: FindingItem) -> list[str]:
    """Severity, frequency and tasks of a finding, each as a short phrase."""
    meta = [f"Severity {item.severity}: {item.severity_label}"]
    if item.frequency_text:
        meta.append(item.frequency_text)
    if item.tasks:
        meta.append("Tasks: " + ", ".join(item.tasks))
    return meta


def evidence_text(quote) -> str:
    """A piece of evidence as one line: a participant's words quoted, other notes introduced by kind."""
    if quote.quoted:
        return f"“{quote.text}”"
    return f"{quote.label}: {quote.text}" if quote.label else quote.text


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
            f"Mean {sus.mean_text}{grade}, 95% confidence interval {sus.interval_text}.")


def related_findings(report: ReportData, task: TaskSection) -> list[FindingItem]:
    """The findings linked to `task`, in rank order."""
    return [f for f in report.findings if any(t.startswith(f"{task.number}.") for t in f.tasks)]
