"""Imports every model module so the metadata is complete (for Alembic and create_all)."""

from usabtest.accounts.models import ApiToken, Organisation, Role, User
from usabtest.analysis.models import Finding, Screenshot, finding_note, finding_task
from usabtest.core.models import AuditEvent, MailDelivery, MailStatus
from usabtest.observe.models import (
    Note,
    Outcome,
    ScreenQuestion,
    SessionEvent,
    SessionRecording,
    SusResponse,
    TaskAttempt,
)
from usabtest.planning.models import (
    ConsentRecord,
    Participant,
    ParticipantPersonal,
    SessionStatus,
    Study,
    StudyMember,
    StudyMethod,
    StudySession,
    StudyStatus,
    Task,
    TeamRole,
    session_observer,
)
from usabtest.reports.models import PublishedReport, ShareLink

__all__ = [
    "ApiToken", "AuditEvent", "ConsentRecord", "Finding", "MailDelivery", "MailStatus", "Note",
    "Organisation", "Outcome", "Participant", "ParticipantPersonal", "PublishedReport", "Role",
    "ScreenQuestion", "Screenshot", "SessionEvent", "SessionRecording", "SessionStatus", "ShareLink", "Study",
    "StudyMethod", "StudyMember", "StudySession", "StudyStatus", "SusResponse", "Task", "TaskAttempt",
    "TeamRole", "User", "finding_note", "finding_task", "session_observer",
]
