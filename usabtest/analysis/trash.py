"""Recently deleted: findings and notes kept for 30 days after deletion, restorable, then purged.

A deleted finding keeps its row, its evidence links and its screenshots; a deleted note keeps its
row and its links to findings. Every list, page, export, metric and report leaves them out while
`deleted_at` is set. `purge` deletes for good what was deleted more than `RETENTION_DAYS` ago (the
`usabtest purge-deleted` command, run daily). Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from usabtest.accounts.models import User
from usabtest.analysis.models import Finding, Screenshot, finding_note
from usabtest.core import audit
from usabtest.core.errors import NotFound
from usabtest.core.models import AuditEvent
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.observe import services as observe_services
from usabtest.observe.models import Note
from usabtest.planning.models import Participant, StudySession

RETENTION_DAYS = 30
GONE = ("It is no longer in Recently deleted: items are deleted for good {days} days after they were "
        "deleted, or it never belonged to this study.")


def purge_due(deleted_at: datetime) -> datetime:
    """When an item deleted at `deleted_at` is deleted for good."""
    return deleted_at + timedelta(days=RETENTION_DAYS)


@dataclass(frozen=True)
class FindingCounts:
    """What goes with a finding: its screenshots and its links to live notes."""

    screenshots: int
    evidence: int


def finding_counts(finding: Finding) -> FindingCounts:
    """The screenshots and live evidence links a finding carries."""
    return FindingCounts(screenshots=len(finding.screenshots),
                         evidence=sum(1 for note in finding.notes if note.deleted_at is None))


# --- findings -----------------------------------------------------------------------------------


def delete_finding(finding: Finding, actor: User) -> bool:
    """Move a finding (with its screenshots and evidence links) to Recently deleted; False if it was."""
    if finding.deleted_at is not None:
        return False
    counts = finding_counts(finding)
    finding.deleted_at = utcnow()
    db.session.flush()
    audit.record(actor, "finding.delete", finding, {"title": finding.title, "screenshots": counts.screenshots,
                                                    "evidence": counts.evidence})
    return True


def restore_finding(finding: Finding, actor: User) -> bool:
    """Bring a finding back with its evidence and screenshots; False when it was not deleted.

    When the other findings are ordered by hand, it comes back last in that order.
    """
    if finding.deleted_at is None:
        return False
    if finding.position is not None:
        positions = db.session.scalars(sa.select(Finding.position).where(
            Finding.study_id == finding.study_id, Finding.deleted_at.is_(None),
            Finding.position.is_not(None)))
        finding.position = max(positions, default=-1) + 1
    finding.deleted_at = None
    db.session.flush()
    audit.record(actor, "finding.restore", finding, {"title": finding.title})
    return True


def study_finding(study_id: int, finding_id: int, *, to_restore: bool = False) -> Finding:
    """A finding of the study, deleted or not; NotFound (saying why) when purged or of another study."""
    finding = db.session.scalar(
        sa.select(Finding).where(Finding.id == finding_id, Finding.study_id == study_id)
        .options(selectinload(Finding.notes), selectinload(Finding.screenshots)))
    if finding is None:
        raise NotFound(("That finding cannot be restored. " + GONE.format(days=RETENTION_DAYS)) if to_restore
                       else "There is no such finding in this study.")
    return finding


# --- notes --------------------------------------------------------------------------------------


def study_notes_for_deletion(study_id: int, note_ids: list[int]) -> list[Note]:
    """The study's notes among `note_ids`, deleted ones included; NotFound for any other id."""
    wanted = set(note_ids)
    notes = db.session.scalars(
        sa.select(Note).join(StudySession, StudySession.id == Note.session_id)
        .where(Note.id.in_(wanted), StudySession.study_id == study_id)
    ).all() if wanted else []
    if len(notes) != len(wanted):
        raise NotFound("Some of the selected notes are not part of this study any more. "
                       "Reload and try again.")
    return list(notes)


def findings_backed_by(notes: list[Note]) -> list[tuple[int, str]]:
    """The live findings (id, title) that have any of `notes` as evidence."""
    ids = [note.id for note in notes]
    if not ids:
        return []
    rows = db.session.execute(
        sa.select(Finding.id, Finding.title).join(finding_note, finding_note.c.finding_id == Finding.id)
        .where(finding_note.c.note_id.in_(ids), Finding.deleted_at.is_(None))
        .group_by(Finding.id, Finding.title).order_by(Finding.title)
    )
    return [(finding_id, title) for finding_id, title in rows]


def delete_notes(notes: list[Note], actor: User) -> int:
    """Move notes to Recently deleted (live consoles drop them); returns how many were not already there."""
    moved = 0
    for note in notes:
        if note.deleted_at is None:
            observe_services.delete_note(note, actor)
            moved += 1
    return moved


def restore_note(note: Note, actor: User) -> bool:
    """Bring a note back to the board, the metrics, its findings and the live consoles."""
    return observe_services.restore_note(note, actor)


def deleted_note(study_id: int, note_id: int) -> Note:
    """A note of the study (deleted or not); NotFound when purged or of another study."""
    note = db.session.scalar(sa.select(Note).join(StudySession, StudySession.id == Note.session_id)
                             .where(Note.id == note_id, StudySession.study_id == study_id))
    if note is None:
        raise NotFound("That note cannot be restored. " + GONE.format(days=RETENTION_DAYS))
    return note


# --- the list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedFinding:
    """A finding in Recently deleted."""

    id: int
    title: str
    severity: int
    screenshots: int
    evidence: int
    deleted_at: datetime
    deleted_by: str | None

    @property
    def purge_at(self) -> datetime:
        """When it is deleted for good."""
        return purge_due(self.deleted_at)


@dataclass(frozen=True)
class DeletedNote:
    """A note in Recently deleted."""

    id: int
    body: str
    participant_code: str
    author_name: str
    created_at: datetime
    findings: int
    deleted_at: datetime
    deleted_by: str | None

    @property
    def purge_at(self) -> datetime:
        """When it is deleted for good."""
        return purge_due(self.deleted_at)


def _deleters(object_type: str, action: str, ids: list[int]) -> dict[int, str]:
    """Who deleted each object last, from the audit trail."""
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(AuditEvent.object_id, User.name).join(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == object_type, AuditEvent.action == action,
               AuditEvent.object_id.in_(ids))
        .order_by(AuditEvent.id)
    )
    return {object_id: name for object_id, name in rows}


def recently_deleted(study_id: int) -> tuple[list[DeletedFinding], list[DeletedNote]]:
    """The study's deleted findings and notes, most recently deleted first."""
    findings = db.session.scalars(
        sa.select(Finding).where(Finding.study_id == study_id, Finding.deleted_at.is_not(None))
        .options(selectinload(Finding.notes), selectinload(Finding.screenshots).load_only(Screenshot.id))
        .order_by(Finding.deleted_at.desc(), Finding.id.desc())
    ).all()
    finding_by = _deleters("Finding", "finding.delete", [f.id for f in findings])
    links = sa.select(sa.func.count()).select_from(finding_note).join(
        Finding, Finding.id == finding_note.c.finding_id).where(
        finding_note.c.note_id == Note.id, Finding.deleted_at.is_(None)).correlate(Note).scalar_subquery()
    notes = db.session.execute(
        sa.select(Note.id, Note.body, Note.created_at, Note.deleted_at, Participant.code,
                  User.name.label("author_name"), links.label("findings"))
        .join(StudySession, StudySession.id == Note.session_id)
        .join(Participant, Participant.id == StudySession.participant_id)
        .join(User, User.id == Note.author_id)
        .where(StudySession.study_id == study_id, Note.deleted_at.is_not(None))
        .order_by(Note.deleted_at.desc(), Note.id.desc())
    ).all()
    note_by = _deleters("Note", "note.delete", [row.id for row in notes])
    return (
        [DeletedFinding(id=f.id, title=f.title, severity=f.severity, screenshots=len(f.screenshots),
                        evidence=sum(1 for n in f.notes if n.deleted_at is None), deleted_at=f.deleted_at,
                        deleted_by=finding_by.get(f.id)) for f in findings],
        [DeletedNote(id=row.id, body=row.body, participant_code=row.code, author_name=row.author_name,
                     created_at=row.created_at, findings=row.findings, deleted_at=row.deleted_at,
                     deleted_by=note_by.get(row.id)) for row in notes],
    )


# --- purge --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    """What a purge deleted for good."""

    findings: int
    screenshots: int
    notes: int
    before: datetime


def purge(now: datetime | None = None, days: int = RETENTION_DAYS) -> PurgeResult:
    """Delete for good the findings (with their screenshots) and notes deleted more than `days` ago.

    Their evidence links go with them (the database cascades). The audit trail keeps that they
    existed, but not a purged note's text.
    """
    before = (now or utcnow()) - timedelta(days=days)
    findings = db.session.scalars(
        sa.select(Finding).where(Finding.deleted_at.is_not(None), Finding.deleted_at < before)
        .options(selectinload(Finding.screenshots).load_only(Screenshot.id))
    ).all()
    screenshots = sum(len(f.screenshots) for f in findings)
    for finding in findings:
        db.session.delete(finding)
    note_ids = list(db.session.scalars(
        sa.select(Note.id).where(Note.deleted_at.is_not(None), Note.deleted_at < before)))
    if note_ids:
        db.session.execute(sa.delete(finding_note).where(finding_note.c.note_id.in_(note_ids)))
        db.session.execute(sa.delete(Note).where(Note.id.in_(note_ids)).execution_options(
            synchronize_session=False))
        scrubbed = sa.update(AuditEvent).where(AuditEvent.object_type == "Note",
                                               AuditEvent.object_id.in_(note_ids))
        db.session.execute(scrubbed.values(details={"purged": True}))
    db.session.flush()
    result = PurgeResult(findings=len(findings), screenshots=screenshots, notes=len(note_ids), before=before)
    audit.record(None, "trash.purge", None, {"findings": result.findings, "screenshots": result.screenshots,
                                             "notes": result.notes, "before": before.isoformat()})
    return result
