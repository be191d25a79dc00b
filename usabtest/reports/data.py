"""Gather a study's report from the database in a fixed number of queries.

Participants appear only by pseudonym: `ParticipantPersonal` (name, email, phone) is never
loaded here. Notes of erased participants keep their pseudonym, like everyone else's; participants
who withdrew consent are left out of every table, figure and finding and only counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from usabtest.analysis import figures
from usabtest.analysis import results as analysis
from usabtest.analysis.models import SEVERITY_DEFINITIONS, SEVERITY_LABELS
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
    SeverityLevel,
    SusSummary,
    TaskMetrics,
    TaskSection,
)
from usabtest.reports.measures import measures_text
from usabtest.reports.models import ReportNarrative
from usabtest.timefmt import to_zone

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
    findings = [_finding(f) for f in analysis.ranked_findings(study_id, with_screenshot_data=True)]
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
        next_steps=written.get("next_steps", ""),
        method=study.method.label,
        moderation=_moderation_text(study, tested),
        session_count=len(tested),
        participants=_participant_rows(participants, tested),
        participants_withdrawn=len(withdrawn),
        tasks=tuple(_task_section(r, tasks[r.task_id]) for r in results.tasks),
        sus=_sus(results.sus),
        sus_statements=STATEMENTS,
        findings=_renumbered([f for f in findings if not f.positive], "finding"),
        worked_well=_renumbered([f for f in findings if f.positive], "strength"),
        severity_legend=SEVERITY_LEGEND,
        measures_text=measures_text(results.confidence, seq_used=any(t.seq_n for t in results.tasks),
                                    sus_used=bool(results.sus.n)),
        confidence=results.confidence,
    )


SEVERITY_LEGEND = tuple(SeverityLevel(level, SEVERITY_LABELS[level], SEVERITY_DEFINITIONS[level])
                        for level in sorted(SEVERITY_LABELS, reverse=True))


def _renumbered(items: list[FindingItem], noun: str) -> tuple[FindingItem, ...]:
    """Problems and strengths are numbered separately, each list in its ranked order."""
    numbered = [replace(item, rank=rank) for rank, item in enumerate(items, start=1)]
    return tuple(replace(item, screenshots=_captioned(item, noun)) for item in numbered)


def _session_date(study_session: StudySession) -> date:
    """The day the session ran where it ran: a 22:00 New York session is that day, not the next UTC day."""
    return to_zone(study_session.started_at or study_session.starts_at, study_session.timezone).date()


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
    completion, time_s, seq = result.completion, result.time_s, result.seq
    metrics = TaskMetrics(
        attempts=result.attempts, successes=result.successes,
        completion_rate=completion.value if completion else None,
        completion_low=completion.low if completion else None,
        completion_high=completion.high if completion else None,
        time_mean_s=time_s.value if time_s else None,
        time_low_s=time_s.low if time_s else None,
        time_high_s=time_s.high if time_s else None,
        errors_mean=result.errors_mean,
        seq_mean=seq.value if seq else None,
        completion_text=result.completion_text, time_text=result.time_text,
        errors_text=result.errors_text, seq_text=result.seq_text,
        completion_method=result.completion_method,
        completion_estimate_text=analysis.format_percent(completion.value if completion else None),
        completion_observed_text=result.completion_observed_text,
        completion_interval_text=result.completion_interval_text,
        time_n=result.timed, time_value_text=analysis.format_seconds(time_s.value if time_s else None),
        time_interval_text=result.time_interval_text, errors_n=result.errors_n,
        seq_n=result.seq_n, seq_value_text=figures.decimal(seq.value if seq else None),
        seq_interval_text=result.seq_interval_text, skipped=result.skipped, assisted=result.assisted,
    )
    return TaskSection(result.number, task.title, task.scenario, task.success_criteria, task.time_limit_s,
                       metrics)


def _sus(sus: analysis.SusResult) -> SusSummary | None:
    if not sus.n or sus.mean is None:
        return None
    return SusSummary(tuple(s.score for s in sus.scores), sus.mean.value, sus.mean.low, sus.mean.high,
                      sus.grade or "", "", sus.mean_text, sus.interval_text, sus.summary_text)


def _evidence(notes: tuple[analysis.EvidenceNote, ...]) -> tuple[Quote, ...]:
    """Each piece of evidence once: identical notes (same kind, same words) become one, with its count."""
    groups: dict[tuple[str, str], list[analysis.EvidenceNote]] = {}
    for note in notes:
        key = (note.kind.value, " ".join(note.body.split()).casefold())
        groups.setdefault(key, []).append(note)
    return tuple(
        Quote(same[0].body.strip(), same[0].attribution, quoted=same[0].kind == NoteKind.QUOTE,
              label=same[0].kind.label, recording_time=same[0].recording_text, kind=same[0].kind.value,
              count=len(same), attributions=tuple(note.attribution for note in same))
        for same in groups.values()
    )


def _captioned(item: FindingItem, noun: str) -> tuple[Screenshot, ...]:
    """Every screenshot with a caption to print: "Screenshot 1 of finding 3: <the caption>"."""
    return tuple(
        replace(shot, caption_text=f"Screenshot {number} of {noun} {item.rank}"
                + (f": {shot.caption}" if shot.caption else ""))
        for number, shot in enumerate(item.screenshots, start=1)
    )


def _finding(summary: analysis.FindingSummary) -> FindingItem:
    return FindingItem(
        rank=summary.rank, title=summary.title, severity=summary.severity,
        severity_label=summary.severity_label, frequency=summary.frequency,
        participants=summary.participants_observed, description=summary.description,
        recommendation=summary.recommendation,
        tasks=tuple(f"{t.number}. {t.title}" for t in summary.tasks),
        quotes=_evidence(summary.evidence),
        screenshots=tuple(Screenshot(s.data, s.width, s.height, s.caption)
                          for s in summary.screenshots if s.data),
        priority=summary.priority_label, effort=summary.effort_label, positive=summary.positive,
    )
