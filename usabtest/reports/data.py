"""Gather a study's report from the database in a fixed number of queries.

Participants appear only by pseudonym: `ParticipantPersonal` (name, email, phone) is never
loaded here. Notes of erased participants keep their pseudonym, like everyone else's; participants
who withdrew consent are left out of every table, figure and finding and only counted.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from usabtest.analysis import results as analysis
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.observe.models import NoteKind
from usabtest.observe.sus import STATEMENTS
from usabtest.planning.models import Participant, Study, StudySession, Task
from usabtest.reports.document import (
    FindingItem,
    ParticipantRow,
    Quote,
    ReportData,
    Screenshot,
    SusSummary,
    TaskMetrics,
    TaskSection,
)
from usabtest.reports.models import ReportNarrative

TESTED = analysis.OBSERVED_STATUSES


def build_report_data(study_id: int, version_label: str = "Draft") -> ReportData:
    """Everything the PDF of `study_id` shows, with the same numbers as the results page."""
    study = db.session.execute(
        sa.select(Study).where(Study.id == study_id)
        .options(joinedload(Study.organisation), joinedload(Study.owner))
    ).scalar_one()
    tasks = {t.id: t for t in db.session.scalars(sa.select(Task).where(Task.study_id == study_id))}
    participants = list(db.session.scalars(
        sa.select(Participant).where(Participant.study_id == study_id).order_by(Participant.number)
    ))
    sessions = list(db.session.scalars(
        sa.select(StudySession).where(StudySession.study_id == study_id)
        .options(joinedload(StudySession.moderator)).order_by(StudySession.starts_at)
    ))
    texts = db.session.scalar(sa.select(ReportNarrative).where(ReportNarrative.study_id == study_id))
    written = texts.texts() if texts else {}
    results = analysis.compute_study_results(study_id)
    # Participants who withdrew consent are left out (the analysis leaves them out too), only counted.
    withdrawn = {p.id for p in participants if p.consent_withdrawn}
    participants = [p for p in participants if p.id not in withdrawn]
    tested = [s for s in sessions if s.status in TESTED and s.participant_id not in withdrawn]
    dates = [_session_date(s) for s in tested]
    return ReportData(
        study_title=study.title,
        client=study.organisation.name,
        product=study.product,
        author=study.owner.name,
        version_label=version_label,
        generated_on=utcnow(),
        first_test_date=min(dates, default=None),
        last_test_date=max(dates, default=None),
        executive_summary=written.get("executive_summary", ""),
        product_description=written.get("product_description", ""),
        # The study's goals stand in for objectives nobody has written for the report yet.
        objectives=written.get("test_objectives") or study.goals,
        participant_selection=written.get("participant_selection", ""),
        environment_facility=written.get("environment_facility", ""),
        environment_devices=written.get("environment_devices", ""),
        environment_software=written.get("environment_software", ""),
        procedure=written.get("procedure", ""),
        participant_instructions=written.get("participant_instructions", ""),
        administrator_tools=written.get("administrator_tools", ""),
        contact_details=written.get("contact_details", ""),
        method=study.method.label,
        moderation=_moderation_text(study, tested),
        session_count=len(tested),
        participants=_participant_rows(participants, tested),
        participants_withdrawn=len(withdrawn),
        tasks=tuple(_task_section(r, tasks[r.task_id]) for r in results.tasks),
        sus=_sus(results.sus),
        sus_statements=STATEMENTS,
        findings=tuple(_finding(f) for f in analysis.ranked_findings(study_id, with_screenshot_data=True)),
    )


def _session_date(study_session: StudySession) -> date:
    return (study_session.started_at or study_session.starts_at).date()


def _moderation_text(study: Study, sessions: list[StudySession]) -> str:
    method = study.method.label.lower()
    if not sessions:
        return f"Sessions are planned {method}; none has been run yet."
    moderators = sorted({s.moderator.name for s in sessions})
    who = ", ".join(moderators[:-1]) + " and " + moderators[-1] if len(moderators) > 1 else moderators[0]
    count = len(sessions)
    noun = "session was" if count == 1 else "sessions were"
    # How the moderators worked is the researchers' own text (the procedure): nothing is assumed here.
    return (f"{count} {noun} run {method}, one participant at a time, moderated by {who}. "
            "An attempt with the moderator's help counts as assisted, not as a success.")


def _participant_rows(participants: list[Participant], sessions: list[StudySession]) -> tuple:
    counts: dict[int, int] = defaultdict(int)
    for study_session in sessions:
        counts[study_session.participant_id] += 1
    return tuple(
        ParticipantRow(p.code, {str(k): str(v) for k, v in (p.segments or {}).items()}, counts[p.id])
        for p in participants if counts[p.id]
    )


def _task_section(result: analysis.TaskResult, task: Task) -> TaskSection:
    completion, time_s = result.completion, result.time_s
    metrics = TaskMetrics(
        attempts=result.attempts, successes=result.successes,
        completion_rate=completion.value if completion else None,
        completion_low=completion.low if completion else None,
        completion_high=completion.high if completion else None,
        time_mean_s=time_s.value if time_s else None,
        time_low_s=time_s.low if time_s else None,
        time_high_s=time_s.high if time_s else None,
        errors_mean=result.errors_mean,
        seq_mean=result.seq.value if result.seq else None,
        completion_text=result.completion_text, time_text=result.time_text,
        errors_text=result.errors_text, seq_text=result.seq_text,
    )
    return TaskSection(result.number, task.title, task.scenario, task.success_criteria, task.time_limit_s,
                       metrics)


def _sus(sus: analysis.SusResult) -> SusSummary | None:
    if not sus.n or sus.mean is None:
        return None
    return SusSummary(tuple(s.score for s in sus.scores), sus.mean.value, sus.mean.low, sus.mean.high,
                      sus.grade or "", "", sus.mean_text, sus.interval_text)


def _finding(summary: analysis.FindingSummary) -> FindingItem:
    return FindingItem(
        rank=summary.rank, title=summary.title, severity=summary.severity,
        severity_label=summary.severity_label, frequency=summary.frequency,
        participants=summary.participants_observed, description=summary.description,
        recommendation=summary.recommendation,
        tasks=tuple(f"{t.number}. {t.title}" for t in summary.tasks),
        quotes=tuple(Quote(note.body, note.attribution, quoted=note.kind == NoteKind.QUOTE,
                           label=note.kind.label, recording_time=note.recording_text)
                     for note in summary.evidence),
        screenshots=tuple(Screenshot(s.data, s.width, s.height, s.caption)
                          for s in summary.screenshots if s.data),
    )
