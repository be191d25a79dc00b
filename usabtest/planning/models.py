"""Study planning: studies, task scripts, participants with consent, scheduled sessions."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from usabtest.core.versioning import Versioned, VersionedPart
from usabtest.db import TimestampMixin, UTCDateTime, str_enum
from usabtest.extensions import db

if TYPE_CHECKING:
    from usabtest.accounts.models import Organisation, User


class StudyMethod(enum.StrEnum):
    """How sessions are run."""

    IN_PERSON = "in_person"
    REMOTE_MODERATED = "remote_moderated"

    @property
    def label(self) -> str:
        """Human-readable method name."""
        return {"in_person": "In person", "remote_moderated": "Remote moderated"}[self.value]


class StudyStatus(enum.StrEnum):
    """Life cycle of a study."""

    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """Human-readable status."""
        return self.value.capitalize()


class SessionStatus(enum.StrEnum):
    """Life cycle of a session."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """Human-readable status."""
        return self.value.replace("_", " ").capitalize()


class TeamRole(enum.StrEnum):
    """What a member does on one study's team (their account's role still limits it)."""

    RESEARCHER = "researcher"
    OBSERVER = "observer"

    @property
    def label(self) -> str:
        """Human-readable team role."""
        return self.value.capitalize()


class ScreenLanguage(enum.StrEnum):
    """The language of the participant screen's fixed texts (its Flask-Babel catalogue)."""

    EN = "en"
    DE = "de"
    FR = "fr"
    ES = "es"

    @property
    def label(self) -> str:
        """The language's own name for itself."""
        return {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}[self.value]


session_observer = sa.Table(
    "session_observer",
    db.metadata,
    sa.Column(
        "session_id", sa.ForeignKey("study_session.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
)


class Study(Versioned, TimestampMixin, db.Model):
    """A usability study run for one client organisation."""

    __noun__ = "study"
    __versioned__ = ("organisation", "organisation_id", "title", "product", "goals", "method", "status",
                     "language")

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    product: Mapped[str] = mapped_column(sa.String(200), default="")
    goals: Mapped[str] = mapped_column(sa.Text, default="")
    method: Mapped[StudyMethod] = mapped_column(
        str_enum(StudyMethod, "study_method"), default=StudyMethod.IN_PERSON
    )
    status: Mapped[StudyStatus] = mapped_column(
        str_enum(StudyStatus, "study_status"), default=StudyStatus.DRAFT
    )
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="RESTRICT"))
    # Pseudonym counter: codes are never reused, even after a participant is removed.
    last_participant_number: Mapped[int] = mapped_column(default=0)
    welcome_text: Mapped[str] = mapped_column(sa.Text, default="")
    # Some teams avoid the word "task" on the participant's screen ("activity" feels calmer).
    show_task_word: Mapped[bool] = mapped_column(default=True)
    # What the participant reads on their screen (welcome, questionnaires) is in this language.
    language: Mapped[ScreenLanguage] = mapped_column(
        str_enum(ScreenLanguage, "screen_language"), default=ScreenLanguage.EN, server_default="en")

    organisation: Mapped[Organisation] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    members: Mapped[list[StudyMember]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="StudyMember.created_at"
    )
    tasks: Mapped[list[Task]] = relationship(
        back_populates="study", order_by="Task.position", cascade="all, delete-orphan"
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="study", order_by="Participant.number", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[StudySession]] = relationship(
        back_populates="study", order_by="StudySession.starts_at", cascade="all, delete-orphan"
    )
    tags: Mapped[list[StudyTag]] = relationship(
        back_populates="study", order_by="StudyTag.position, StudyTag.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Study {self.id} {self.title!r}>"


    def member(self, user: User | None) -> StudyMember | None:
        """`user`'s place on the team, or None when they are not on it.

        When the team is not loaded, only that person's row is read: a study's team can be
        hundreds of observers, and the console asks this on every request.
        """
        if user is None or getattr(user, "id", None) is None:
            return None
        if "members" in sa.inspect(self).unloaded and object_session(self) is not None:
            return object_session(self).get(StudyMember, (self.id, user.id))
        return next((m for m in self.members if m.user_id == user.id), None)


class StudyMember(TimestampMixin, db.Model):
    """One person on a study's team: researchers plan and analyse it, observers join its sessions.

    The owner is a member too (always a researcher); `Study.owner_id` says which member owns it.
    """

    __tablename__ = "study_member"

    study_id: Mapped[int] = mapped_column(
        sa.ForeignKey("study.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[TeamRole] = mapped_column(str_enum(TeamRole, "team_role"))

    study: Mapped[Study] = relationship(back_populates="members")
    user: Mapped[User] = relationship()

    @property
    def is_owner(self) -> bool:
        """True for the member who owns the study."""
        return self.study is not None and self.study.owner_id == self.user_id


class StudyTag(TimestampMixin, db.Model):
    """One tag of a study's codebook: what notes are tagged with, and its console shortcut.

    Notes carry tag *names*; renaming or merging a tag rewrites the notes that carry it (through
    the note write path, so each note's history shows it). `name_key` is the name case-folded, which
    keeps names unique ignoring case on every database.
    """

    __tablename__ = "study_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(50))
    name_key: Mapped[str] = mapped_column(sa.String(200))  # case folding can lengthen a name
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    colour: Mapped[str] = mapped_column(sa.String(7), default="#5d6d7e")
    # The console's key with Alt: "P" is Alt+P, "Shift+1" is Alt+Shift+1; None for no shortcut.
    shortcut: Mapped[str | None] = mapped_column(sa.String(10))

    study: Mapped[Study] = relationship(back_populates="tags")

    __table_args__ = (
        sa.UniqueConstraint("study_id", "name_key"),
        sa.UniqueConstraint("study_id", "shortcut"),
    )

    def __repr__(self) -> str:
        return f"<StudyTag {self.id} {self.name!r}>"


class Task(Versioned, TimestampMixin, db.Model):
    """One scenario in a study's script, in `position` order."""

    __noun__ = "task"
    __versioned__ = ("title", "scenario", "success_criteria", "time_limit_s")

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(sa.String(200))
    scenario: Mapped[str] = mapped_column(sa.Text, default="")
    success_criteria: Mapped[str] = mapped_column(sa.Text, default="")
    time_limit_s: Mapped[int | None] = mapped_column()
    archived: Mapped[bool] = mapped_column(default=False)

    study: Mapped[Study] = relationship(back_populates="tasks")

    __table_args__ = (
        sa.CheckConstraint("time_limit_s IS NULL OR time_limit_s > 0", name="time_limit_positive"),
    )


class Participant(Versioned, TimestampMixin, db.Model):
    """A participant known only by a study-scoped pseudonym; personal details live apart."""

    __noun__ = "participant"
    __versioned__ = ("segments",)  # and the personal details (ParticipantPersonal)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    code: Mapped[str] = mapped_column(sa.String(16))
    segments: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    erased: Mapped[bool] = mapped_column(default=False)
    # When the participant was erased (who did it is in the audit log, without personal data).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A withdrawal of consent: their sessions still scheduled are cancelled and new reports and
    # analyses leave them out; the consents they signed stay on record.
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    study: Mapped[Study] = relationship(back_populates="participants")
    consent_withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[consent_withdrawn_by_id])
    personal: Mapped[ParticipantPersonal | None] = relationship(
        back_populates="participant", cascade="all, delete-orphan", uselist=False
    )
    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="participant",
        order_by="ConsentRecord.consented_on",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        sa.UniqueConstraint("study_id", "number"),
        sa.UniqueConstraint("study_id", "code"),
    )

    @property
    def has_consent(self) -> bool:
        """True when a consent is on record, not withdrawn, and the participant is not erased."""
        return bool(self.consents) and not self.erased and self.consent_withdrawn_at is None

    @property
    def consent_withdrawn(self) -> bool:
        """True once the participant withdrew consent (they are left out of new reports and analyses)."""
        return self.consent_withdrawn_at is not None


class ParticipantPersonal(VersionedPart, db.Model):
    """Name and contact details, kept out of every join that notes, analysis or reports make."""

    __version_owner__ = "participant"
    __versioned__ = ("name", "email", "phone")

    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(50))

    participant: Mapped[Participant] = relationship(back_populates="personal")


class ConsentRecord(TimestampMixin, db.Model):
    """A signed consent form: when, and which version of the form."""

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    consented_on: Mapped[date] = mapped_column()
    form_version: Mapped[str] = mapped_column(sa.String(50))
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )

    participant: Mapped[Participant] = relationship(back_populates="consents")


def _new_ics_uid() -> str:
    return f"{uuid.uuid4()}@usabtest"


class StudySession(Versioned, TimestampMixin, db.Model):
    """One scheduled test session: a participant, a moderator, observers and a time slot."""

    __tablename__ = "study_session"
    __noun__ = "session"
    # What rescheduling changes; the status, clock and screen link (moved by the console) do not count.
    __versioned__ = ("participant", "participant_id", "starts_at", "timezone", "duration_min", "location",
                     "video_link", "moderator", "moderator_id", "observers")

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participant.id", ondelete="RESTRICT"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The scheduler's zone, so the participant's invitation shows the time they were told.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    duration_min: Mapped[int] = mapped_column(default=60)
    location: Mapped[str] = mapped_column(sa.String(500), default="")
    video_link: Mapped[str] = mapped_column(sa.String(500), default="")
    moderator_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[SessionStatus] = mapped_column(
        str_enum(SessionStatus, "session_status"), default=SessionStatus.SCHEDULED
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ics_uid: Mapped[str] = mapped_column(sa.String(100), unique=True, default=_new_ics_uid)
    ics_sequence: Mapped[int] = mapped_column(default=0)
    # Secret for the participant's screen; cleared when the session ends.
    screen_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    study: Mapped[Study] = relationship(back_populates="sessions")
    participant: Mapped[Participant] = relationship()
    moderator: Mapped[User] = relationship(foreign_keys=[moderator_id])
    observers: Mapped[list[User]] = relationship(secondary=session_observer)

    __table_args__ = (
        sa.CheckConstraint("duration_min > 0", name="duration_positive"),
    )

    def has_observer(self, user: User) -> bool:
        """True when `user` observes this session (reads one row when the observers are not loaded)."""
        if "observers" in sa.inspect(self).unloaded and object_session(self) is not None:
            return object_session(self).execute(
                sa.select(sa.literal(1)).select_from(session_observer).where(
                    session_observer.c.session_id == self.id, session_observer.c.user_id == user.id)
            ).first() is not None
        return any(observer.id == user.id for observer in self.observers)

    @property
    def ends_at(self) -> datetime:
        """Planned end in UTC."""
        return self.starts_at + timedelta(minutes=self.duration_min)
