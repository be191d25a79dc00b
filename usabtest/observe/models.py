"""What happens in a session: task attempts, observers' notes, SUS answers and the live event log."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from usabtest.core.versioning import Versioned
from usabtest.db import BigIntId, TimestampMixin, UTCDateTime, str_enum, utcnow
from usabtest.extensions import db

if TYPE_CHECKING:
    from usabtest.accounts.models import User
    from usabtest.planning.models import StudySession, Task


class Outcome(enum.StrEnum):
    """How a task attempt ended."""

    SUCCESS = "success"
    ASSISTED = "assisted"
    FAILURE = "failure"
    ABANDONED = "abandoned"
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        """Human-readable outcome."""
        return self.value.capitalize()


class TaskAttempt(Versioned, TimestampMixin, db.Model):
    """A participant's attempt at one task within a session; a restarted task gets a new attempt.

    Every attempt is kept (numbered 1, 2, ... per task and session); which one the analysis counts
    is `analysis.metrics.counted_attempts`' rule. The moderator and the study's researchers correct
    an ended attempt's outcome, errors, SEQ and times afterwards (`observe.services.correct_attempt`),
    each change kept as a `TaskAttemptRevision`.
    """

    __noun__ = "task attempt"
    __versioned__ = ("outcome", "error_count", "seq", "started_at", "ended_at")

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("study_session.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("task.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int] = mapped_column(default=1, server_default="1")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome, "outcome"))
    error_count: Mapped[int | None] = mapped_column()
    seq: Mapped[int | None] = mapped_column()

    # Planning's models know nothing of attempts: the reverse sides are declared here, as
    # back-references (`StudySession.attempts` goes with its session, `Task.attempts` keeps tasks
    # with recorded attempts from being deleted).
    study_session: Mapped[StudySession] = relationship(
        backref=backref("attempts", cascade="all, delete-orphan")
    )
    task: Mapped[Task] = relationship(backref="attempts")

    __table_args__ = (
        sa.UniqueConstraint("session_id", "task_id", "number"),
        sa.CheckConstraint("seq IS NULL OR (seq BETWEEN 1 AND 7)", name="seq_range"),
        sa.CheckConstraint("error_count IS NULL OR error_count >= 0", name="errors_nonneg"),
    )

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or None while running."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class TaskAttemptRevision(db.Model):
    """One correction of a task attempt: who made it, when, and the changed fields before and after.

    Written only by `observe.services.correct_attempt`, the same way `NoteRevision` keeps a note's.
    """

    __tablename__ = "task_attempt_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("task_attempt.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(40), default="correct")
    before: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attempt: Mapped[TaskAttempt] = relationship(
        backref=backref("revisions", cascade="all, delete-orphan", order_by="TaskAttemptRevision.id"))
    actor: Mapped[User | None] = relationship()


class NoteKind(enum.StrEnum):
    """What a note records."""

    OBSERVATION = "observation"
    QUOTE = "quote"
    POSITIVE = "positive"
    QUESTION = "question"

    @property
    def label(self) -> str:
        """Human-readable kind."""
        return {"observation": "Observation", "quote": "Participant quote", "positive": "Positive",
                "question": "Question"}[self.value]


class Note(Versioned, db.Model):
    """An observer's timestamped note. The client's UUID makes sending it idempotent."""

    __noun__ = "note"
    __versioned__ = ("body", "tags", "severity", "task_id", "task", "kind")

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("study_session.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("task.id", ondelete="SET NULL"), index=True
    )
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="RESTRICT"))
    client_uuid: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    body: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    severity: Mapped[int | None] = mapped_column()
    kind: Mapped[NoteKind] = mapped_column(str_enum(NoteKind, "note_kind"), default=NoteKind.OBSERVATION,
                                           server_default=NoteKind.OBSERVATION.value)
    elapsed_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while the note is in Recently deleted; `usabtest purge-deleted` removes it 30 days later.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    study_session: Mapped[StudySession] = relationship()
    # `Task.notes` lets planning count a task's notes before removing it; the database clears
    # `task_id` when a task is deleted (passive: the notes are not loaded for it).
    task: Mapped[Task | None] = relationship(backref=backref("notes", passive_deletes=True))
    author: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("session_id", "client_uuid"),
        sa.CheckConstraint("severity IS NULL OR (severity BETWEEN 0 AND 4)", name="severity_range"),
        sa.CheckConstraint("elapsed_ms >= 0", name="elapsed_nonneg"),
    )


class NoteRevision(db.Model):
    """One change of a note: who made it, when, and the changed fields' values before and after.

    Written only by `observe.services.write_note`, the one path every note change takes.
    """

    __tablename__ = "note_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("note.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    # "edit", "delete", "tag.rename", "tag.merge", "tag.remove"...
    action: Mapped[str] = mapped_column(sa.String(40), default="edit")
    before: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    note: Mapped[Note] = relationship(
        backref=backref("revisions", cascade="all, delete-orphan", order_by="NoteRevision.id"))
    actor: Mapped[User | None] = relationship()


class SusResponse(TimestampMixin, db.Model):
    """The participant's ten System Usability Scale answers (1-5), in questionnaire order."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("study_session.id", ondelete="CASCADE"), unique=True
    )
    answers: Mapped[list[int]] = mapped_column(sa.JSON)
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    study_session: Mapped[StudySession] = relationship()


class QuestionKind(enum.StrEnum):
    """A questionnaire the participant answers on their own screen."""

    SEQ = "seq"
    SUS = "sus"

    @property
    def label(self) -> str:
        """Its usual short name."""
        return self.value.upper()


class ScreenQuestion(db.Model):
    """A questionnaire the moderator put on the participant's screen: one task attempt's SEQ, or the SUS.

    At most one is open per session (asking another closes the one before); the answer is stored
    where a typed one goes (the attempt's `seq`, the session's `SusResponse`).
    """

    __tablename__ = "screen_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("study_session.id", ondelete="CASCADE"), index=True)
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind, "question_kind"))
    attempt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("task_attempt.id", ondelete="CASCADE"))
    asked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when answered, withdrawn or replaced by another question; `answered` tells which.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    attempt: Mapped[TaskAttempt | None] = relationship()


class SessionEvent(db.Model):
    """Append-only log of a session's happenings, read by live consoles with an id cursor."""

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("study_session.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordingKind(enum.StrEnum):
    """Where a session's recording lives."""

    LINK = "link"  # an external recording (a meeting tool's or a video platform's page)
    FILE = "file"  # an audio or video file uploaded here, kept in the recordings folder


class SessionRecording(TimestampMixin, db.Model):
    """A session's recording: an external link or an uploaded file, and where the session starts in it.

    A note's moment in the recording is its session time plus `offset_ms`. The file itself lives
    outside the database, in the configured recordings folder, under `file_key` (a random name:
    the uploader's file name is never used); `observe.recordings` stores, serves and deletes it.
    """

    __tablename__ = "session_recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("study_session.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[RecordingKind] = mapped_column(str_enum(RecordingKind, "recording_kind"))
    url: Mapped[str] = mapped_column(sa.String(2000), default="")
    # Where the session's start lies in the recording; negative when the recording began late.
    offset_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    file_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100), default="")
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    study_session: Mapped[StudySession] = relationship(
        backref=backref("recording", uselist=False, cascade="all, delete-orphan", passive_deletes=True))
    added_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("(kind = 'link') = (file_key IS NULL)", name="file_key_for_files"),
    )

    @property
    def is_file(self) -> bool:
        """True for an uploaded file (served here), False for an external link."""
        return self.kind == RecordingKind.FILE

    @property
    def is_audio(self) -> bool:
        """True for an audio-only file (played in an <audio> element)."""
        return self.content_type.startswith("audio/")

    def at(self, elapsed_ms: int) -> int:
        """The moment `elapsed_ms` into the session, in milliseconds into the recording (never below 0)."""
        return max(0, elapsed_ms + self.offset_ms)
