"""A study's measured results and ranked findings, as plain data for the results page and the PDF report.

Public API (everything returns frozen dataclasses; nothing here needs a request, only an app context):

- ``compute_study_results(study_id, segment=None, confidence=0.95) -> StudyResults``
    ``StudyResults``: ``study_id``, ``segment`` (the filter applied, ``{}`` for everyone),
    ``segment_options`` (``{key: [values]}`` seen among observed participants), ``participants_observed``,
    ``sessions_observed``, ``tasks`` (list of ``TaskResult`` in script order), ``sus`` (``SusResult``),
    ``confidence``.
    ``TaskResult``: ``task_id``, ``number`` (1-based place in the script), ``position``, ``title``,
    ``attempts`` (n: attempts that ended as success, assisted, failure or abandoned), ``successes``,
    ``assisted``, ``failures`` (failure + abandoned), ``skipped``, ``completion`` (``Estimate``: the
    small-sample best estimate of the rate, `metrics.completion_estimate`, with its adjusted-Wald
    interval from n = 2, or None), ``completion_method``, ``time_s`` (``Estimate``: geometric mean of
    successful attempts' seconds with its interval, or None), ``timed`` (n of those times),
    ``errors_mean`` and ``errors_n``, ``seq`` (``Estimate`` of mean SEQ 1-7 with its t interval, or None)
    and ``seq_n``; text properties ``completion_text``, ``time_text``, ``errors_text``, ``seq_text``
    (each with its n and its interval labelled, no interval below n = 2) and their parts.
    ``SusResult``: ``n``, ``scores`` (list of ``SusScore``: ``participant_id``, ``participant_code``,
    ``session_id``, ``score``), ``mean`` (``Estimate`` or None), ``grade`` (Sauro-Lewis letter or None);
    text properties ``mean_text``, ``interval_text``.
    ``Estimate``: ``value``, ``low``, ``high`` (bounds None below two values: no interval for n = 1).
- ``ranked_findings(study_id, with_screenshot_data=False) -> list[FindingSummary]``
    ``FindingSummary``: ``id``, ``rank`` (1-based), ``title``, ``description``, ``severity`` (0-4),
    ``severity_label``, ``recommendation``, ``position`` (hand order or None), ``tasks`` (``TaskRef``:
    ``id``, ``number``, ``title``), ``participants`` (``ParticipantRef``: ``id``, ``number``, ``code``,
    of those whose notes back the finding), ``frequency`` (that count), ``participants_observed``,
    ``evidence`` (``EvidenceNote``: ``note_id``, ``body``, ``tags``, ``severity``, ``participant_id``,
    ``participant_code``, ``session_id``, ``task_id``, ``task_number``, ``task_title``, ``elapsed_ms``,
    ``created_at``; properties ``elapsed_text`` ("12:41", "1:05:00": ``timefmt.format_elapsed``) and
    ``attribution`` "P03, task 2, 12:41", with ", recording 14:02" when the session has a recording:
    ``recording_ms``, ``recording_text``),
    ``screenshots`` (``ScreenshotInfo``: ``id``, ``filename``, ``content_type``, ``width``, ``height``,
    ``caption``, ``data`` bytes only when asked for); properties ``frequency_rate`` and
    ``frequency_text`` ("2 of 5 participants").
- ``rainbow_matrix(study_id) -> RainbowMatrix``: ``participants`` (columns, ``ParticipantRef``) and
  ``rows`` (``MatrixRow``: ``finding``, ``cells`` (``MatrixCell``: ``participant``, ``notes``), ``total``).
- Formatting helpers shared with the report: ``format_percent``, ``format_seconds``, and ``format_elapsed``
  (re-exported from ``usabtest.timefmt``, the one definition of the session-time format).

Definitions, chosen to match common usability practice (Sauro & Lewis 2016):
- Sessions observed are those completed or in progress; cancelled, no-show and merely scheduled
  sessions contribute nothing.
- An "assisted" attempt is NOT a success: the moderator's help means the task could not be done
  unaided, so completion rates stay conservative. Skipped attempts (never tried) are left out of n.
- A task attempted more than once in a session (restarted) counts once, by `metrics.ATTEMPT_RULE`
  (`metrics.counted_attempts`): its last attempt that ended with an outcome.
- Task time is the geometric mean of successful attempts only, which is what a time-on-task
  benchmark means; failures end at arbitrary moments.
- Finding frequency is the number of distinct participants with at least one linked, non-deleted note,
  over the participants observed (participants of observed sessions, plus anyone whose notes back a
  finding, so the ratio can never exceed one).
- Participants who withdrew consent are left out of everything here: metrics, SUS, findings' evidence
  and frequencies, the matrix (`Participant.consent_withdrawn_at`).

Every function runs a fixed number of SQL queries whatever the number of sessions, attempts or notes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import defer, selectinload

from usabtest.analysis import figures, metrics
from usabtest.analysis.models import SEVERITY_LABELS, Finding, Screenshot, finding_note
from usabtest.extensions import db
from usabtest.observe.models import Note, NoteKind, Outcome, SessionRecording, SusResponse, TaskAttempt
from usabtest.planning.models import Participant, SessionStatus, StudySession, Task
from usabtest.timefmt import format_elapsed

OBSERVED_STATUSES = (SessionStatus.COMPLETED, SessionStatus.IN_PROGRESS)
DASH = figures.DASH


def format_percent(value: float | None) -> str:
    """0.625 -> "63%" (half up, `figures.percent`); None -> an en dash."""
    return figures.percent(value)


def format_seconds(value: float | None) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour up; None -> an en dash."""
    return figures.duration(value)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with the bounds of its confidence interval (None below two values)."""

    value: float
    low: float | None = None
    high: float | None = None

    @property
    def has_interval(self) -> bool:
        """True when the estimate has an interval (it rests on two values or more)."""
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class TaskResult:
    """One task's completion, time, errors and ease rating across the sessions observed.

    Every `*_text` property is the figure as the results page, the report and the CSV print it:
    with its n, its interval labelled with the confidence level, and no interval below n = 2.
    """

    task_id: int
    number: int
    position: int
    title: str
    attempts: int = 0
    successes: int = 0
    assisted: int = 0
    failures: int = 0
    skipped: int = 0
    completion: Estimate | None = None
    # How the completion estimate was made (`metrics.completion_estimate`): Wilson, observed or Laplace.
    completion_method: str = ""
    time_s: Estimate | None = None
    timed: int = 0
    errors_mean: float | None = None
    errors_n: int = 0
    seq: Estimate | None = None
    seq_n: int = 0
    confidence: float = 0.95

    @property
    def completion_observed_text(self) -> str:
        """"7 of 10" successes over attempts, or an en dash before any attempt."""
        return f"{self.successes} of {self.attempts}" if self.attempts else DASH

    @property
    def completion_interval_text(self) -> str:
        """"95% CI 39%–90%", or empty below two attempts."""
        c = self.completion
        if c is None or not c.has_interval or self.attempts < 2:
            return ""
        return figures.interval(format_percent(c.low), format_percent(c.high), self.confidence)

    @property
    def completion_text(self) -> str:
        """"68% (95% CI 39%–90%), 7 of 10 observed", "67%, 1 of 1 observed" or an en dash."""
        if self.completion is None:
            return DASH
        value = format_percent(self.completion.value)
        interval = self.completion_interval_text
        shown = f"{value} ({interval})" if interval else value
        return f"{shown}, {self.completion_observed_text} observed"

    @property
    def time_interval_text(self) -> str:
        """"95% CI 1:02–1:58", or empty below two timed attempts."""
        t = self.time_s
        if t is None or not t.has_interval or self.timed < 2:
            return ""
        return figures.interval(format_seconds(t.low), format_seconds(t.high), self.confidence)

    @property
    def time_text(self) -> str:
        """"1:25 (95% CI 1:02–1:58, n = 5)", "0:47 (n = 1)" or an en dash."""
        t = self.time_s
        if t is None:
            return DASH
        return figures.with_interval(format_seconds(t.value), self.timed, self.confidence,
                                     format_seconds(t.low) if t.has_interval else None,
                                     format_seconds(t.high) if t.has_interval else None)

    @property
    def errors_text(self) -> str:
        """"0.5 (n = 4)"; "Not recorded" when attempts ended without an error count; else an en dash."""
        if self.errors_mean is None:
            return figures.MISSING if self.attempts else DASH
        return f"{figures.decimal(self.errors_mean)} ({figures.n_text(self.errors_n)})"

    @property
    def seq_interval_text(self) -> str:
        """"95% CI 5.1–6.5", or empty below two ratings."""
        q = self.seq
        if q is None or not q.has_interval or self.seq_n < 2:
            return ""
        return figures.interval(figures.decimal(q.low), figures.decimal(q.high), self.confidence)

    @property
    def seq_text(self) -> str:
        """"5.8 (95% CI 5.1–6.5, n = 6)", "6.0 (n = 1)" or an en dash."""
        q = self.seq
        if q is None:
            return DASH
        return figures.with_interval(figures.decimal(q.value), self.seq_n, self.confidence,
                                     figures.decimal(q.low) if q.has_interval else None,
                                     figures.decimal(q.high) if q.has_interval else None)


@dataclass(frozen=True)
class SusScore:
    """One participant's SUS score."""

    participant_id: int
    participant_code: str
    session_id: int
    score: float


@dataclass(frozen=True)
class SusResult:
    """SUS scores of the sessions observed, their mean with an interval, and its grade."""

    n: int = 0
    scores: list[SusScore] = field(default_factory=list)
    mean: Estimate | None = None
    grade: str | None = None
    confidence: float = 0.95

    @property
    def mean_text(self) -> str:
        """The mean to one decimal (half up, like the grade), or an en dash."""
        return DASH if self.mean is None else figures.decimal(self.mean.value)

    @property
    def interval_text(self) -> str:
        """"95% CI 62.3–79.1", or empty below two questionnaires (an en dash with none)."""
        if self.mean is None:
            return DASH
        if not self.mean.has_interval or self.n < 2:
            return ""
        return figures.interval(figures.decimal(self.mean.low), figures.decimal(self.mean.high),
                                self.confidence)

    @property
    def summary_text(self) -> str:
        """"72.5 (95% CI 62.3–79.1, n = 8)", "70.0 (n = 1)" or an en dash."""
        if self.mean is None:
            return DASH
        m = self.mean
        return figures.with_interval(figures.decimal(m.value), self.n, self.confidence,
                                     figures.decimal(m.low) if m.has_interval else None,
                                     figures.decimal(m.high) if m.has_interval else None)


@dataclass(frozen=True)
class StudyResults:
    """Everything the results page shows for one study and one participant segment."""

    study_id: int
    segment: dict[str, str]
    segment_options: dict[str, list[str]]
    participants_observed: int
    sessions_observed: int
    tasks: list[TaskResult]
    sus: SusResult
    confidence: float = 0.95
    # Participants who withdrew consent: left out of everything above, only counted.
    participants_withdrawn: int = 0


@dataclass(frozen=True)
class _ObservedSession:
    id: int
    participant_id: int
    code: str
    segments: dict[str, str]


def _observed_sessions(study_id: int) -> list[_ObservedSession]:
    rows = db.session.execute(
        sa.select(StudySession.id, Participant.id, Participant.code, Participant.segments)
        .join(Participant, StudySession.participant_id == Participant.id)
        .where(StudySession.study_id == study_id, StudySession.status.in_(OBSERVED_STATUSES),
               Participant.consent_withdrawn_at.is_(None))
        .order_by(Participant.number, StudySession.starts_at)
    )
    return [_ObservedSession(sid, pid, code, dict(segs or {})) for sid, pid, code, segs in rows]


def _segment_options(sessions: Iterable[_ObservedSession]) -> dict[str, list[str]]:
    options: dict[str, set[str]] = defaultdict(set)
    for item in sessions:
        for key, value in item.segments.items():
            options[str(key)].add(str(value))
    return {key: sorted(values) for key, values in sorted(options.items())}


def _matches(segments: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(str(segments.get(key)) == value for key, value in wanted.items())


def _study_tasks(study_id: int) -> list[Task]:
    return list(db.session.scalars(
        sa.select(Task).where(Task.study_id == study_id).order_by(Task.position, Task.id)
    ))


def _estimate(values: tuple[float, float, float] | None, n: int) -> Estimate | None:
    """An estimate, with its interval only from two values up (one value has no spread)."""
    if values is None:
        return None
    return Estimate(*values) if n >= 2 else Estimate(values[0])


def _within_scale(values: tuple[float, float, float], low: float, high: float) -> tuple[float, float, float]:
    """A t interval can run past the ends of a rating scale; no answer lies beyond them."""
    mean, lower, upper = values
    return mean, max(lower, low), min(upper, high)


def _task_result(task: Task, number: int, rows: list, confidence: float, estimates: bool) -> TaskResult:
    outcomes = [row.outcome for row in rows if row.outcome is not None]
    finished = [o for o in outcomes if o != Outcome.SKIPPED]
    successes = sum(1 for o in finished if o == Outcome.SUCCESS)
    times = [
        (row.ended_at - row.started_at).total_seconds()
        for row in rows
        if row.outcome == Outcome.SUCCESS and row.ended_at is not None and row.started_at is not None
    ]
    times = [value for value in times if value > 0]
    errors = [row.error_count for row in rows
              if row.error_count is not None and row.outcome not in (None, Outcome.SKIPPED)]
    # SEQ is asked after a task the participant attempted: a rating kept on a skipped task is no rating of it.
    seqs = [row.seq for row in rows if row.seq is not None and row.outcome not in (None, Outcome.SKIPPED)]
    completion, method = None, ""
    if finished and estimates:
        value, method = metrics.completion_estimate(successes, len(finished), confidence)
        low, high = metrics.adjusted_wald(successes, len(finished), confidence)
        completion = Estimate(value, low, high) if len(finished) >= 2 else Estimate(value)
    return TaskResult(
        task_id=task.id, number=number, position=task.position, title=task.title,
        attempts=len(finished), successes=successes,
        assisted=sum(1 for o in finished if o == Outcome.ASSISTED),
        failures=sum(1 for o in finished if o in (Outcome.FAILURE, Outcome.ABANDONED)),
        skipped=sum(1 for o in outcomes if o == Outcome.SKIPPED),
        completion=completion, completion_method=method,
        time_s=_estimate(metrics.geometric_mean_ci(times, confidence) if times and estimates else None,
                         len(times)),
        timed=len(times),
        errors_mean=sum(errors) / len(errors) if errors else None, errors_n=len(errors),
        seq=_estimate(_within_scale(metrics.mean_ci(seqs, confidence), 1, 7) if seqs and estimates else None,
                      len(seqs)),
        seq_n=len(seqs), confidence=confidence,
    )


def _task_results(study_id: int, session_ids: set[int], confidence: float,
                  estimates: bool) -> list[TaskResult]:
    tasks = _study_tasks(study_id)
    rows = db.session.execute(
        sa.select(TaskAttempt.session_id, TaskAttempt.task_id, TaskAttempt.number, TaskAttempt.outcome,
                  TaskAttempt.started_at, TaskAttempt.ended_at, TaskAttempt.error_count, TaskAttempt.seq)
        .join(StudySession, TaskAttempt.session_id == StudySession.id)
        .where(StudySession.study_id == study_id, StudySession.status.in_(OBSERVED_STATUSES))
    ).all()
    by_task: dict[int, list] = defaultdict(list)
    for row in metrics.counted_attempts(rows):
        if row.session_id in session_ids:
            by_task[row.task_id].append(row)
    shown = [task for task in tasks if not task.archived or by_task.get(task.id)]
    return [
        _task_result(task, number, by_task.get(task.id, []), confidence, estimates)
        for number, task in enumerate(shown, start=1)
    ]


def _sus_result(study_id: int, sessions: dict[int, _ObservedSession], confidence: float,
                estimates: bool) -> SusResult:
    rows = db.session.execute(
        sa.select(SusResponse.session_id, SusResponse.answers)
        .join(StudySession, SusResponse.session_id == StudySession.id)
        .where(StudySession.study_id == study_id, StudySession.status.in_(OBSERVED_STATUSES))
    )
    scores = []
    for session_id, answers in rows:
        observed = sessions.get(session_id)
        if observed is None:
            continue
        try:
            score = metrics.sus_score(answers or [])
        except ValueError:
            continue  # an incomplete questionnaire has no score; the export still lists its answers
        scores.append(SusScore(observed.participant_id, observed.code, session_id, score))
    scores.sort(key=lambda s: (s.participant_code, s.session_id))
    if not scores:
        return SusResult()
    if not estimates:
        return SusResult(n=len(scores), scores=scores, confidence=confidence)
    values = [s.score for s in scores]
    mean = _estimate(_within_scale(metrics.mean_ci(values, confidence), 0, 100), len(values))
    return SusResult(n=len(scores), scores=scores, mean=mean, grade=metrics.sus_grade(mean.value),
                     confidence=confidence)


def compute_study_results(study_id: int, segment: dict[str, str] | None = None,
                          confidence: float = 0.95, estimates: bool = True) -> StudyResults:
    """Per-task metrics and SUS for the study's observed sessions, optionally for one segment only.

    `estimates=False`: the counts only, without means and intervals (the pre-publish check, shown on
    every study overview, needs no more; a big study's intervals cost about a third of the work).
    """
    wanted = {str(k): str(v) for k, v in (segment or {}).items() if v not in (None, "")}
    all_sessions = _observed_sessions(study_id)
    chosen = {s.id: s for s in all_sessions if _matches(s.segments, wanted)}
    return StudyResults(
        study_id=study_id,
        segment=wanted,
        segment_options=_segment_options(all_sessions),
        participants_observed=len({s.participant_id for s in chosen.values()}),
        sessions_observed=len(chosen),
        tasks=_task_results(study_id, set(chosen), confidence, estimates),
        sus=_sus_result(study_id, chosen, confidence, estimates),
        confidence=confidence,
        participants_withdrawn=db.session.scalar(
            sa.select(sa.func.count(Participant.id))
            .where(Participant.study_id == study_id, Participant.consent_withdrawn_at.is_not(None))) or 0,
    )


# --- Findings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRef:
    """A task named by its place in the script."""

    id: int
    number: int
    title: str


@dataclass(frozen=True)
class ParticipantRef:
    """A participant known by pseudonym only."""

    id: int
    number: int
    code: str


@dataclass(frozen=True)
class EvidenceNote:
    """A note linked to a finding, with who, which task and when in the session."""

    note_id: int
    body: str
    tags: tuple[str, ...]
    severity: int | None
    kind: NoteKind
    participant_id: int
    participant_code: str
    session_id: int
    task_id: int | None
    task_number: int | None
    task_title: str | None
    elapsed_ms: int
    created_at: datetime
    # Where the note's moment lies in the session's recording; None when the session has none.
    recording_ms: int | None = None

    @property
    def elapsed_text(self) -> str:
        """Time into the session, e.g. "12:41" or "1:05:00"."""
        return format_elapsed(self.elapsed_ms)

    @property
    def recording_text(self) -> str:
        """Time into the session's recording, e.g. "14:02"; empty without a recording."""
        return format_elapsed(self.recording_ms) if self.recording_ms is not None else ""

    @property
    def attribution(self) -> str:
        """"P03, task 2, 12:41", and ", recording 14:02" when the session has a recording."""
        parts = [self.participant_code]
        if self.task_number is not None:
            parts.append(f"task {self.task_number}")
        parts.append(self.elapsed_text)
        if self.recording_ms is not None:
            parts.append(f"recording {self.recording_text}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ScreenshotInfo:
    """A screenshot's description; `data` is filled only when the image bytes were asked for."""

    id: int
    filename: str
    content_type: str
    width: int
    height: int
    caption: str
    data: bytes | None = None


@dataclass(frozen=True)
class FindingSummary:
    """A finding with its frequency, affected tasks, evidence notes and screenshots."""

    id: int
    rank: int
    title: str
    description: str
    severity: int
    severity_label: str
    recommendation: str
    position: int | None
    tasks: tuple[TaskRef, ...]
    participants: tuple[ParticipantRef, ...]
    participants_observed: int
    evidence: tuple[EvidenceNote, ...]
    screenshots: tuple[ScreenshotInfo, ...]
    priority_label: str = ""
    effort_label: str = ""
    positive: bool = False

    @property
    def frequency(self) -> int:
        """Distinct participants whose notes back the finding."""
        return len(self.participants)

    @property
    def frequency_rate(self) -> float | None:
        """Frequency as a share of participants observed, or None before anyone was observed."""
        return self.frequency / self.participants_observed if self.participants_observed else None

    @property
    def frequency_text(self) -> str:
        """"2 of 5 participants", "1 of 1 participant"."""
        return f"{self.frequency} of {figures.plural(self.participants_observed, 'participant')}"


def task_refs(study_id: int) -> dict[int, TaskRef]:
    """The study's tasks by id, numbered in script order."""
    tasks = _study_tasks(study_id)
    return {task.id: TaskRef(task.id, number, task.title) for number, task in enumerate(tasks, start=1)}


def _evidence_rows(study_id: int) -> list:
    return db.session.execute(
        sa.select(finding_note.c.finding_id, Note.id, Note.body, Note.tags, Note.severity, Note.kind,
                  Note.session_id,
                  Note.task_id, Note.elapsed_ms, Note.created_at,
                  Participant.id.label("participant_id"), Participant.number, Participant.code,
                  SessionRecording.offset_ms.label("recording_offset_ms"))
        .join(Note, Note.id == finding_note.c.note_id)
        .join(Finding, Finding.id == finding_note.c.finding_id)
        .join(StudySession, StudySession.id == Note.session_id)
        .join(Participant, Participant.id == StudySession.participant_id)
        .outerjoin(SessionRecording, SessionRecording.session_id == Note.session_id)
        .where(Finding.study_id == study_id, Finding.deleted_at.is_(None), Note.deleted_at.is_(None),
               Participant.consent_withdrawn_at.is_(None))
        .order_by(Participant.number, Note.session_id, Note.elapsed_ms, Note.id)
    ).all()


def observed_participants(study_id: int) -> list[ParticipantRef]:
    """Participants of the study's completed or in-progress sessions, by number."""
    rows = db.session.execute(
        sa.select(Participant.id, Participant.number, Participant.code)
        .where(Participant.consent_withdrawn_at.is_(None), Participant.id.in_(
            sa.select(StudySession.participant_id).where(
                StudySession.study_id == study_id, StudySession.status.in_(OBSERVED_STATUSES))
        ))
        .order_by(Participant.number)
    )
    return [ParticipantRef(*row) for row in rows]


def _evidence(row, tasks: dict[int, TaskRef]) -> EvidenceNote:
    task = tasks.get(row.task_id) if row.task_id is not None else None
    return EvidenceNote(
        note_id=row.id, body=row.body, tags=tuple(row.tags or ()), severity=row.severity,
        kind=row.kind or NoteKind.OBSERVATION,
        participant_id=row.participant_id, participant_code=row.code, session_id=row.session_id,
        task_id=row.task_id, task_number=task.number if task else None,
        task_title=task.title if task else None, elapsed_ms=row.elapsed_ms or 0, created_at=row.created_at,
        recording_ms=(None if row.recording_offset_ms is None
                      else max(0, (row.elapsed_ms or 0) + row.recording_offset_ms)),
    )


def _ranked(summaries: list[FindingSummary]) -> list[FindingSummary]:
    def key(item: FindingSummary):
        if item.position is not None:
            return (0, item.position, 0, 0, item.id)
        return (1, 0, -item.severity, -item.frequency, item.id)

    ordered = sorted(summaries, key=key)
    return [replace(item, rank=rank) for rank, item in enumerate(ordered, start=1)]


def _load_findings(study_id: int, with_screenshot_data: bool) -> tuple[list[FindingSummary], list]:
    screenshots = selectinload(Finding.screenshots)
    if not with_screenshot_data:
        screenshots = screenshots.options(defer(Screenshot.data))
    findings = db.session.scalars(
        sa.select(Finding).where(Finding.study_id == study_id, Finding.deleted_at.is_(None))
        .options(selectinload(Finding.tasks), screenshots)
        .order_by(Finding.id)
    ).all()
    tasks = task_refs(study_id)
    evidence: dict[int, list[EvidenceNote]] = defaultdict(list)
    people: dict[int, ParticipantRef] = {}
    for row in _evidence_rows(study_id):
        evidence[row.finding_id].append(_evidence(row, tasks))
        people[row.participant_id] = ParticipantRef(row.participant_id, row.number, row.code)
    observed = {p.id: p for p in observed_participants(study_id)}
    columns = sorted({**observed, **people}.values(), key=lambda p: (p.number, p.id))
    summaries = [_summary(f, tasks, evidence.get(f.id, []), people, len(columns), with_screenshot_data)
                 for f in findings]
    return _ranked(summaries), columns


def _summary(finding: Finding, tasks: dict[int, TaskRef], notes: list[EvidenceNote],
             people: dict[int, ParticipantRef], observed: int, with_data: bool) -> FindingSummary:
    backers = sorted({people[n.participant_id] for n in notes}, key=lambda p: (p.number, p.id))
    affected = sorted((tasks[t.id] for t in finding.tasks if t.id in tasks), key=lambda t: t.number)
    shots = tuple(
        ScreenshotInfo(s.id, s.filename, s.content_type, s.width, s.height, s.caption or "",
                       s.data if with_data else None)
        for s in finding.screenshots
    )
    return FindingSummary(
        id=finding.id, rank=0, title=finding.title, description=finding.description or "",
        severity=finding.severity, severity_label=SEVERITY_LABELS.get(finding.severity, ""),
        recommendation=finding.recommendation or "", position=finding.position,
        tasks=tuple(affected), participants=tuple(backers), participants_observed=observed,
        evidence=tuple(notes), screenshots=shots,
        priority_label=finding.priority_label, effort_label=finding.effort_label,
        positive=finding.positive,
    )


def ranked_findings(study_id: int, with_screenshot_data: bool = False) -> list[FindingSummary]:
    """The study's findings in reading order: hand order where set, else severity then frequency."""
    return _load_findings(study_id, with_screenshot_data)[0]


# --- Rainbow matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixCell:
    """The notes of one participant that back one finding (empty: no evidence)."""

    participant: ParticipantRef
    notes: tuple[EvidenceNote, ...]

    @property
    def filled(self) -> bool:
        """True when this participant's notes back the finding."""
        return bool(self.notes)


@dataclass(frozen=True)
class MatrixRow:
    """One finding across all participants."""

    finding: FindingSummary
    cells: tuple[MatrixCell, ...]

    @property
    def total(self) -> int:
        """Participants whose notes back the finding."""
        return sum(1 for cell in self.cells if cell.filled)


@dataclass(frozen=True)
class RainbowMatrix:
    """Findings as rows, participants as columns."""

    participants: tuple[ParticipantRef, ...]
    rows: tuple[MatrixRow, ...]


def rainbow_matrix(study_id: int) -> RainbowMatrix:
    """Which participants' notes back which findings, in the findings' ranked order."""
    findings, columns = _load_findings(study_id, with_screenshot_data=False)
    rows = []
    for finding in findings:
        by_person: dict[int, list[EvidenceNote]] = defaultdict(list)
        for note in finding.evidence:
            by_person[note.participant_id].append(note)
        cells = tuple(MatrixCell(p, tuple(by_person.get(p.id, ()))) for p in columns)
        rows.append(MatrixRow(finding, cells))
    return RainbowMatrix(tuple(columns), tuple(rows))
