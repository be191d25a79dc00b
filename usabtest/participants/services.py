"""Participants' rights: erasure and an export of everything held about one person. They flush, never commit.

These reach what planning, observe and analysis hold about a participant (their sessions, the notes
and attempts recorded there, the evidence links of findings), so they sit above those domains.
Withdrawing consent needs planning alone (`planning.services.withdraw_consent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from usabtest.accounts.models import User
from usabtest.analysis import metrics
from usabtest.analysis.models import finding_note
from usabtest.core.audit import record
from usabtest.core.models import AuditEvent, MailDelivery, OutboxMail
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.observe import recordings as session_recordings
from usabtest.observe.models import Note, NoteRevision, SessionRecording, SusResponse, TaskAttempt
from usabtest.planning import services as planning
from usabtest.planning.models import Participant, SessionStatus, StudySession, Task
from usabtest.planning.schemas import (
    ExportedAttempt,
    ExportedConsent,
    ExportedNote,
    ExportedSession,
    ExportedSus,
    ParticipantExport,
    PersonalDetails,
)

# What an erased text reads as wherever a record of it is kept (note history).
ERASED_TEXT = "[erased]"


@dataclass(frozen=True)
class ErasurePlan:
    """What erasing a participant would do, for the question asked first."""

    sessions_to_cancel: int
    notes_kept: int
    deleted_notes: int
    has_personal: bool
    segments: int
    recordings: int = 0


@dataclass
class Erasure:
    """What erasing did; `done` is False when the participant had been erased already."""

    done: bool
    sessions_cancelled: list[int] = field(default_factory=list)
    notes_purged: int = 0
    recordings_deleted: int = 0


def _session_ids(participant: Participant) -> sa.Select:
    return sa.select(StudySession.id).where(StudySession.participant_id == participant.id)


def erasure_plan(participant: Participant) -> ErasurePlan:
    """Counts of what `erase_participant` would change or keep."""
    sessions = _session_ids(participant)
    open_sessions = db.session.scalar(sa.select(sa.func.count()).select_from(StudySession).where(
        StudySession.participant_id == participant.id, StudySession.status == SessionStatus.SCHEDULED))
    kept = db.session.scalar(sa.select(sa.func.count(Note.id)).where(
        Note.session_id.in_(sessions), Note.deleted_at.is_(None)))
    deleted = db.session.scalar(sa.select(sa.func.count(Note.id)).where(
        Note.session_id.in_(sessions), Note.deleted_at.is_not(None)))
    recorded = db.session.scalar(sa.select(sa.func.count(SessionRecording.id)).where(
        SessionRecording.session_id.in_(sessions)))
    return ErasurePlan(sessions_to_cancel=open_sessions or 0, notes_kept=kept or 0,
                       deleted_notes=deleted or 0, has_personal=participant.personal is not None,
                       segments=len(participant.segments or {}), recordings=recorded or 0)


def _scrub_body(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "body": ERASED_TEXT} if "body" in (values or {}) else values


def erase_participant(participant: Participant, actor: User) -> Erasure:
    """Erase `participant`: what identifies them goes, what the study learnt stays.

    Wiped: name, e-mail, phone and segment attributes; the text of their notes already deleted
    (removed for good, with their evidence links); earlier texts of their notes in the notes' history
    and the audit log; the mail sent or waiting to be sent to them; their sessions' recordings (files
    deleted, links removed). Cancelled: their sessions still
    scheduled (the team's calendars are told; the participant is not mailed). Kept: the pseudonym,
    consents (date and form version), sessions, task attempts, notes as they read now and SUS
    answers. The erasure is recorded with the pseudonym only. Erasing again does nothing.
    """
    if participant.erased:
        return Erasure(done=False)
    code = participant.code
    email = (participant.personal.email or "").lower() if participant.personal else ""
    participant.erased = True  # first: the cancellations below then mail the team only
    participant.erased_at = utcnow()
    cancelled = planning.cancel_open_sessions(participant, actor)
    participant.personal = None
    participant.segments = {}
    db.session.flush()

    sessions = _session_ids(participant)
    deleted_ids = list(db.session.scalars(
        sa.select(Note.id).where(Note.session_id.in_(sessions), Note.deleted_at.is_not(None))))
    if deleted_ids:
        db.session.execute(sa.delete(finding_note).where(finding_note.c.note_id.in_(deleted_ids)))
        db.session.execute(sa.delete(NoteRevision).where(NoteRevision.note_id.in_(deleted_ids)))
        db.session.execute(sa.delete(Note).where(Note.id.in_(deleted_ids))
                           .execution_options(synchronize_session=False))
    kept_ids = list(db.session.scalars(sa.select(Note.id).where(Note.session_id.in_(sessions))))
    for revision in db.session.scalars(sa.select(NoteRevision).where(NoteRevision.note_id.in_(kept_ids))):
        revision.before, revision.after = _scrub_body(revision.before), _scrub_body(revision.after)
    db.session.execute(
        sa.update(AuditEvent)
        .where(AuditEvent.object_type == "Note", AuditEvent.object_id.in_([*deleted_ids, *kept_ids]))
        .values(details={"erased": True}).execution_options(synchronize_session=False))
    db.session.execute(
        sa.update(AuditEvent)
        .where(AuditEvent.object_type == "Participant", AuditEvent.object_id == participant.id)
        .values(details={"code": code}).execution_options(synchronize_session=False))
    if email:
        db.session.execute(
            sa.delete(OutboxMail).where(OutboxMail.session_id.in_(sessions),
                                        sa.func.lower(OutboxMail.message).contains(email, autoescape=True))
            .execution_options(synchronize_session=False))
        db.session.execute(
            sa.update(MailDelivery).where(MailDelivery.session_id.in_(sessions),
                                          sa.func.lower(MailDelivery.recipient) == email)
            .values(recipient=f"{code} (erased)").execution_options(synchronize_session=False))
    removed = _delete_recordings(sessions)
    record(actor, "participant.erase", participant,
           {"code": code, "sessions_cancelled": [s.id for s in cancelled], "notes_purged": len(deleted_ids),
            "recordings_deleted": removed})
    return Erasure(done=True, sessions_cancelled=[s.id for s in cancelled], notes_purged=len(deleted_ids),
                   recordings_deleted=removed)


def _delete_recordings(sessions: sa.Select) -> int:
    """The sessions' recordings show the person: uploaded files are deleted once the erasure commits.

    A link's recording lives elsewhere: only the link goes (the erasure page says to delete it there).
    """
    found = list(db.session.scalars(
        sa.select(SessionRecording).where(SessionRecording.session_id.in_(sessions))))
    session_recordings.forget_files(r.file_key for r in found if r.file_key)
    for recording in found:
        db.session.delete(recording)
    db.session.flush()
    return len(found)


def _sus(response: SusResponse | None) -> ExportedSus | None:
    if response is None:
        return None
    answers = list(response.answers or [])
    try:
        score: float | None = metrics.sus_score(answers)
    except ValueError:
        score = None
    return ExportedSus(answers=answers, score=score)


def export_participant(participant: Participant) -> ParticipantExport:
    """Everything held about `participant` (after an erasure: only what is kept), in a fixed number of
    queries."""
    sessions = list(db.session.scalars(
        sa.select(StudySession).where(StudySession.participant_id == participant.id)
        .order_by(StudySession.starts_at, StudySession.id)))
    ids = [s.id for s in sessions]
    tasks = {t.id: t.title for t in db.session.scalars(
        sa.select(Task).where(Task.study_id == participant.study_id))}
    attempts: dict[int, list[ExportedAttempt]] = {i: [] for i in ids}
    for attempt in db.session.scalars(sa.select(TaskAttempt).where(TaskAttempt.session_id.in_(ids))
                                      .order_by(TaskAttempt.started_at, TaskAttempt.id)):
        attempts[attempt.session_id].append(ExportedAttempt(
            task_id=attempt.task_id, task_title=tasks.get(attempt.task_id, ""), number=attempt.number,
            started_at=attempt.started_at, ended_at=attempt.ended_at,
            outcome=attempt.outcome.value if attempt.outcome else None,
            error_count=attempt.error_count, seq=attempt.seq))
    notes: dict[int, list[ExportedNote]] = {i: [] for i in ids}
    for note in db.session.scalars(sa.select(Note).where(Note.session_id.in_(ids), Note.deleted_at.is_(None))
                                   .order_by(Note.elapsed_ms, Note.id)):
        notes[note.session_id].append(ExportedNote(
            id=note.id, created_at=note.created_at, elapsed_ms=note.elapsed_ms, kind=note.kind.value,
            body=note.body, tags=list(note.tags or []), severity=note.severity, task_id=note.task_id))
    sus = {r.session_id: r for r in db.session.scalars(
        sa.select(SusResponse).where(SusResponse.session_id.in_(ids)))}
    personal = participant.personal
    return ParticipantExport(
        exported_at=utcnow(), study_id=participant.study_id, study_title=participant.study.title,
        id=participant.id, code=participant.code, erased=participant.erased, erased_at=participant.erased_at,
        consent_withdrawn_at=participant.consent_withdrawn_at,
        personal=PersonalDetails.model_validate(personal) if personal is not None else None,
        segments={str(k): str(v) for k, v in (participant.segments or {}).items()},
        consents=[ExportedConsent(consented_on=c.consented_on, form_version=c.form_version,
                                  recorded_at=c.created_at) for c in participant.consents],
        sessions=[ExportedSession(
            id=s.id, starts_at=s.starts_at, timezone=s.timezone, duration_min=s.duration_min, status=s.status,
            started_at=s.started_at, ended_at=s.ended_at, task_attempts=attempts[s.id], notes=notes[s.id],
            sus=_sus(sus.get(s.id))) for s in sessions],
    )
