"""What a report says, as plain data: built from the database by `data.py`, drawn by `pdf.py`.

Nothing here imports Flask or the database, so the layout can be tested with hand-made reports.
Numbers stay numbers (charts need them); `*_text` fields hold the same figures already formatted
the way the results page shows them (`analysis.figures`: half-up rounding, each figure with its n,
each interval with its confidence level, none below n = 2), so every format reads the same.
Everything a renderer prints is here ready to print: no renderer composes wording of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from usabtest.analysis import figures

PAGE_SIZES = ("A4", "Letter")
DRAFT_LABEL = "Draft"


@dataclass(frozen=True)
class ParticipantRow:
    """One participant, known only by pseudonym, with the segment attributes used for recruiting."""

    code: str
    segments: dict[str, str] = field(default_factory=dict)
    sessions: int = 0


@dataclass(frozen=True)
class TaskMetrics:
    """A task's measured results; None where nothing was measured yet.

    `completion_rate` is the small-sample best estimate (`completion_method`: Wilson, observed or
    Laplace), `successes` of `attempts` the observed count. Bounds are None below n = 2. The
    `*_text` fields are whole table cells ("68% (95% CI 39%–90%), 7 of 10 observed",
    "0:47 (n = 1)", "Not recorded"); the `*_interval_text` parts are empty when there is no interval.
    """

    attempts: int = 0
    successes: int = 0
    completion_rate: float | None = None
    completion_low: float | None = None
    completion_high: float | None = None
    time_mean_s: float | None = None
    time_low_s: float | None = None
    time_high_s: float | None = None
    errors_mean: float | None = None
    seq_mean: float | None = None
    completion_text: str = "–"
    time_text: str = "–"
    errors_text: str = "–"
    seq_text: str = "–"
    completion_method: str = ""
    completion_estimate_text: str = "–"
    completion_observed_text: str = "–"
    completion_interval_text: str = ""
    time_n: int = 0
    time_value_text: str = "–"
    time_interval_text: str = ""
    errors_n: int = 0
    seq_n: int = 0
    seq_value_text: str = "–"
    seq_interval_text: str = ""
    skipped: int = 0
    assisted: int = 0

    @property
    def attempts_text(self) -> str:
        """"7 of 10 attempts succeeded without help.", or that none was recorded."""
        if not self.attempts:
            return "No attempts were recorded for this task."
        text = f"{self.successes} of {figures.plural(self.attempts, 'attempt')} succeeded without help"
        extras = []
        if self.assisted:
            extras.append(f"{self.assisted} assisted")
        if self.skipped:
            extras.append(f"{figures.plural(self.skipped, 'skipped task')} left out")
        return text + (f" ({'; '.join(extras)})" if extras else "") + "."


@dataclass(frozen=True)
class TaskSection:
    """A task's script and its results."""

    number: int
    title: str
    scenario: str = ""
    success_criteria: str = ""
    time_limit_s: int | None = None
    metrics: TaskMetrics = field(default_factory=TaskMetrics)


@dataclass(frozen=True)
class SusSummary:
    """System Usability Scale results across the study's sessions.

    `interval_text` is "95% CI 62.3–79.1", or empty below two questionnaires; `summary_text` is
    the mean with its interval and n ("72.5 (95% CI 62.3–79.1, n = 8)").
    """

    scores: tuple[float, ...]
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    grade: str = ""
    adjective: str = ""
    mean_text: str = "–"
    interval_text: str = "–"
    summary_text: str = "–"

    @property
    def n(self) -> int:
        """How many questionnaires the mean rests on."""
        return len(self.scores)

    @property
    def sentence(self) -> str:
        """"8 participants completed the questionnaire. The mean SUS score is 72.5 (…), grade B. …"."""
        grade = f", grade {self.grade}" if self.grade else ""
        adjective = f" ({self.adjective})" if self.adjective else ""
        return (f"{figures.plural(self.n, 'participant')} completed the questionnaire. The mean SUS score "
                f"is {self.summary_text}{grade}{adjective}. A score of 68 is about average across "
                "published studies.")


@dataclass(frozen=True)
class SeverityLevel:
    """One step of the severity scale, for the report's legend."""

    level: int
    label: str
    definition: str

    @property
    def text(self) -> str:
        """"3 Major: Major problem: important to fix, high priority." as one legend line."""
        return f"{self.level} {self.label}: {self.definition}"


# How many places one repeated piece of evidence lists before "and n more".
EVIDENCE_PLACES_SHOWN = 6
_EVIDENCE_LEAD = {"observation": "Observed", "positive": "Observed", "question": "Noted"}


@dataclass(frozen=True)
class Quote:
    """A note used as evidence, printed once however often it was taken down.

    `kind` is the note's kind: "quote" (the participant's own words, printed in quotation marks and
    attributed "P03, task 2, 12:41"), "observation" ("Observed in P03, task 2, 12:41"),
    "positive" or "question". `count` is how many identical notes (same kind and text) it stands
    for, `attributions` where each was taken, first `attribution`. Renderers print `display_text`
    and `attribution_text`.
    """

    text: str
    attribution: str
    quoted: bool = True
    label: str = ""
    # The note's moment in the session's recording ("14:02"; also named in `attribution`), or "".
    recording_time: str = ""
    kind: str = "quote"
    count: int = 1
    attributions: tuple[str, ...] = ()

    @property
    def display_text(self) -> str:
        """The participant's words in quotation marks; an observer's note as it was written."""
        if self.quoted:
            return f"“{self.text}”"
        if self.kind in ("positive", "question") and self.label:
            return f"{self.label}: {self.text}"
        return self.text

    @property
    def attribution_text(self) -> str:
        """"P03, task 2, 12:41", "Observed in P03, task 2, 12:41", "Said 3 times: P03, …; P05, …"."""
        places = list(self.attributions or (self.attribution,))
        shown = "; ".join(places[:EVIDENCE_PLACES_SHOWN])
        if len(places) > EVIDENCE_PLACES_SHOWN:
            shown += f"; and {len(places) - EVIDENCE_PLACES_SHOWN} more"
        count = max(self.count, 1)
        if self.quoted:
            return shown if count == 1 else f"Said {count} times: {shown}"
        lead = _EVIDENCE_LEAD.get(self.kind, "Observed")
        return f"{lead} in {shown}" if count == 1 else f"{lead} {count} times: in {shown}"


@dataclass(frozen=True)
class Screenshot:
    """An image attached to a finding (already verified when uploaded).

    `caption_text` is ready to print under it: "Screenshot 1 of finding 3: <caption>".
    """

    data: bytes
    width: int
    height: int
    caption: str = ""
    caption_text: str = ""


@dataclass(frozen=True)
class FindingItem:
    """A ranked finding with its recommendation and evidence."""

    rank: int
    title: str
    severity: int
    severity_label: str
    frequency: int = 0
    participants: int = 0
    description: str = ""
    recommendation: str = ""
    tasks: tuple[str, ...] = ()
    quotes: tuple[Quote, ...] = ()
    screenshots: tuple[Screenshot, ...] = ()
    # The recommendation's priority and effort as labels ("High", "Small"); empty when not rated.
    priority: str = ""
    effort: str = ""
    # Something that worked well (listed under "What worked well", without a severity).
    positive: bool = False

    @property
    def frequency_text(self) -> str:
        """"3 of 8 participants", or an empty string when nobody was linked."""
        if not self.participants:
            return ""
        return f"{self.frequency} of {figures.plural(self.participants, 'participant')}"

    @property
    def tasks_text(self) -> str:
        """"Task: 5. Freeze a lost card", "Tasks: 2. Pay a friend, 3. Set up a bill", or empty."""
        if not self.tasks:
            return ""
        return ("Task: " if len(self.tasks) == 1 else "Tasks: ") + ", ".join(self.tasks)

    @property
    def severity_text(self) -> str:
        """"Severity 3: Major", or empty for something that worked well."""
        return "" if self.positive else f"Severity {self.severity}: {self.severity_label}"

    @property
    def priority_text(self) -> str:
        """"Priority: High · Effort: Small", either part left out when not rated."""
        parts = [f"Priority: {self.priority}" if self.priority else "",
                 f"Effort: {self.effort}" if self.effort else ""]
        return " · ".join(part for part in parts if part)


@dataclass(frozen=True)
class ReportData:
    """Everything the PDF shows about one study, in the order of the Common Industry Format."""

    study_title: str
    client: str
    product: str
    author: str
    version_label: str
    generated_on: datetime
    first_test_date: date | None = None
    last_test_date: date | None = None
    # Researcher-written texts (Markdown, see `reports.markdown`), in the Common Industry Format's order.
    executive_summary: str = ""
    product_description: str = ""
    objectives: str = ""
    participant_selection: str = ""
    environment_facility: str = ""
    environment_devices: str = ""
    environment_software: str = ""
    procedure: str = ""
    participant_instructions: str = ""
    administrator_tools: str = ""
    contact_details: str = ""
    next_steps: str = ""
    method: str = ""
    moderation: str = ""
    session_count: int = 0
    participants: tuple[ParticipantRow, ...] = ()
    # Participants who withdrew consent: left out of every table, figure and finding, only counted.
    participants_withdrawn: int = 0
    tasks: tuple[TaskSection, ...] = ()
    sus: SusSummary | None = None
    sus_statements: tuple[str, ...] = ()
    # Problems ranked by severity then frequency (or the researchers' hand order).
    findings: tuple[FindingItem, ...] = ()
    # Positive findings: "What worked well".
    worked_well: tuple[FindingItem, ...] = ()
    # Nielsen's scale with each step's meaning, worst first, for the legend before the findings.
    severity_legend: tuple[SeverityLevel, ...] = ()
    # How the figures were computed (plain text, paragraphs separated by blank lines).
    measures_text: str = ""
    confidence: float = 0.95

    @property
    def confidence_label(self) -> str:
        """"95% CI": the level every interval of the report is computed at."""
        return figures.confidence_label(self.confidence)

    @property
    def overall_completion_text(self) -> str:
        """Successes over all counted attempts: "71%", or an en dash before any attempt."""
        attempts = sum(t.metrics.attempts for t in self.tasks)
        successes = sum(t.metrics.successes for t in self.tasks)
        return figures.percent(successes / attempts) if attempts else figures.DASH

    @property
    def overall_completion_label(self) -> str:
        """"observed task completion (12 of 17 attempts)"."""
        attempts = sum(t.metrics.attempts for t in self.tasks)
        successes = sum(t.metrics.successes for t in self.tasks)
        return f"observed task completion ({successes} of {figures.plural(attempts, 'attempt')})"

    @property
    def participants_text(self) -> str:
        """"8 participants took part in 9 sessions."."""
        count, sessions = len(self.participants), self.session_count
        return f"{figures.plural(count, 'participant')} took part in {figures.plural(sessions, 'session')}."

    @property
    def test_dates_text(self) -> str:
        """"3–7 March 2025", "3 March 2025", or "Not yet tested"."""
        first, last = self.first_test_date, self.last_test_date
        if first is None or last is None:
            return "Not yet tested"
        if first == last:
            return f"{first.day} {first:%B %Y}"
        if (first.year, first.month) == (last.year, last.month):
            return f"{first.day}–{last.day} {last:%B %Y}"
        if first.year == last.year:
            return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
        return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"

    @property
    def is_draft(self) -> bool:
        """True for a draft (not a published version): every page then carries a DRAFT mark."""
        return self.version_label == DRAFT_LABEL

    @property
    def withdrawn_text(self) -> str:
        """"1 participant withdrew consent and is left out of this report.", or empty."""
        count = self.participants_withdrawn
        if not count:
            return ""
        if count == 1:
            return "1 participant withdrew consent and is left out of this report."
        return f"{count} participants withdrew consent and are left out of this report."

    @property
    def segment_keys(self) -> list[str]:
        """Segment attribute names across participants, in first-seen order."""
        keys: dict[str, None] = {}
        for row in self.participants:
            keys.update(dict.fromkeys(row.segments))
        return list(keys)
