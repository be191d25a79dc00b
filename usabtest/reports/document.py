"""What a report says, as plain data: built from the database by `data.py`, drawn by `pdf.py`.

Nothing here imports Flask or the database, so the layout can be tested with hand-made reports.
Numbers stay numbers (charts need them); `*_text` fields hold the same figures already formatted
the way the results page shows them, so both always read the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

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
    """A task's measured results; None where nothing was measured yet."""

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
    """System Usability Scale results across the study's sessions."""

    scores: tuple[float, ...]
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    grade: str = ""
    adjective: str = ""
    mean_text: str = "–"
    interval_text: str = "–"


@dataclass(frozen=True)
class Quote:
    """An observer's note used as evidence, attributed like "P03, task 2, 12:41".

    A participant's words are `quoted` (set in quotation marks); other notes are the observer's
    own words, introduced by their kind's `label` ("Observation", "Positive", "Question").
    """

    text: str
    attribution: str
    quoted: bool = True
    label: str = ""
    # The note's moment in the session's recording ("14:02"; also named in `attribution`), or "".
    recording_time: str = ""


@dataclass(frozen=True)
class Screenshot:
    """An image attached to a finding (already verified when uploaded)."""

    data: bytes
    width: int
    height: int
    caption: str = ""


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

    @property
    def frequency_text(self) -> str:
        """"3 of 8 participants", or an empty string when nobody was linked."""
        if not self.participants:
            return ""
        return f"{self.frequency} of {self.participants} participants"


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
    method: str = ""
    moderation: str = ""
    session_count: int = 0
    participants: tuple[ParticipantRow, ...] = ()
    # Participants who withdrew consent: left out of every table, figure and finding, only counted.
    participants_withdrawn: int = 0
    tasks: tuple[TaskSection, ...] = ()
    sus: SusSummary | None = None
    sus_statements: tuple[str, ...] = ()
    findings: tuple[FindingItem, ...] = ()

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
