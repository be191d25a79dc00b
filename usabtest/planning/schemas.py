"""API models of the planning domain: studies, their task script, participants and sessions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, EmailStr, Field, StringConstraints, model_validator

from usabtest.accounts.models import Role
from usabtest.accounts.schemas import OrganisationRef, UserRef
from usabtest.core.schemas import (
    VERSION_OUT,
    Id,
    InputModel,
    OutputModel,
    Page,
    UtcDateTime,
    VersionedChange,
    stale_edit_error,
    storable,
    text,
)
from usabtest.planning import models, scheduling
from usabtest.planning.models import ScreenLanguage, SessionStatus, StudyMethod, StudyStatus, TeamRole

Title = text(200, min_length=1)
ShortText = text(200)
LongText = text(5000, multiline=True)
Phone = text(50)
FormVersion = text(50)
SegmentName = text(50, min_length=1)
SegmentValue = text(200, min_length=1)
Location = text(500)
Email = Annotated[EmailStr, Field(max_length=254)]


def _full_link(value: str) -> str:
    if value and not re.fullmatch(r"https?://[^\s/?#]+\S*", value):
        raise ValueError("Give a full link, starting with https://.")
    return value


VideoLink = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(storable),
    AfterValidator(_full_link),
    Field(description="A full link starting with https://, or empty"),
]
MAX_TIME_LIMIT_S = 240 * 60
MAX_OBSERVERS = 50


def _known_zone(name: str) -> str:
    try:
        scheduling.zone_or_error(name)
    except scheduling.SchedulingError as exc:
        raise ValueError(str(exc)) from None
    return name


TimeZoneName = Annotated[
    str, Field(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/London"),
    AfterValidator(_known_zone),
]


# --- studies -------------------------------------------------------------------------------------

# Marked in the OpenAPI document only (pydantic's own flag warns on every read of the field).
DEPRECATED = {"deprecated": True}
CLIENT_NAME_DEPRECATED = (
    "Deprecated: send `organisation_id`. The client organisation's name, matched ignoring case and "
    "spaces; a name no organisation has creates one (POST /organisations does that explicitly)")


LANGUAGE_DESCRIPTION = "The participant screen's language (its welcome and questionnaires)"


class StudyCreate(InputModel):
    """A new study (it starts as a draft)."""

    title: Title
    organisation_id: Id | None = Field(None, description="The client organisation (one you may see: GET "
                                                        "/organisations); required unless `client` is sent")
    client: Title | None = Field(None, description=CLIENT_NAME_DEPRECATED, json_schema_extra=DEPRECATED)
    product: ShortText = ""
    goals: LongText = ""
    method: StudyMethod = StudyMethod.IN_PERSON
    language: ScreenLanguage = Field(ScreenLanguage.EN, description=LANGUAGE_DESCRIPTION)
    tags_from: Id | None = Field(None, description="Start from this study's tag set (a study you can "
                                                   "open); left out or null: the default set")


class StudyUpdate(VersionedChange):
    """Changes to a study's description, client or status."""

    title: Title = None
    organisation_id: Id = Field(None, description="Move the study to this client organisation (one you "
                                                  "may see); left out, the study keeps its organisation")
    client: Title = Field(None, description=CLIENT_NAME_DEPRECATED, json_schema_extra=DEPRECATED)
    product: ShortText = None
    goals: LongText = None
    method: StudyMethod = None
    status: StudyStatus = None
    language: ScreenLanguage = Field(None, description=LANGUAGE_DESCRIPTION)


class StudySummary(OutputModel):
    """A study's summary fields."""

    id: int
    version: int = Field(description=VERSION_OUT)
    title: str
    organisation: OrganisationRef = Field(description="The client organisation the study is for")
    client: str = Field(description="Deprecated: `organisation.name`", json_schema_extra=DEPRECATED)
    product: str
    method: StudyMethod
    status: StudyStatus
    language: ScreenLanguage = Field(description=LANGUAGE_DESCRIPTION)
    owner: UserRef
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def of(cls, study: models.Study) -> StudySummary:
        """Summarise `study`."""
        return cls(**_summary(study))


def _summary(study: models.Study) -> dict[str, Any]:
    return {"id": study.id, "version": study.version, "title": study.title, "client": study.organisation.name,
            "organisation": OrganisationRef(id=study.organisation.id, name=study.organisation.name),
            "product": study.product, "method": study.method, "status": study.status,
            "language": study.language, "owner": UserRef.model_validate(study.owner),
            "created_at": study.created_at, "updated_at": study.updated_at}


class StudyPage(Page[StudySummary]):
    """A page of studies."""


class Task(OutputModel):
    """One task of a study's script."""

    id: int
    version: int = Field(description=VERSION_OUT + " (its place in the script is not an edit of it)")
    position: int | None = Field(description="Place in the script, from 1; null when archived")
    title: str
    scenario: str
    success_criteria: str
    time_limit_s: int | None
    archived: bool

    @classmethod
    def of(cls, task: models.Task, position: int | None = None) -> Task:
        """`task` at `position` of the script."""
        return cls(id=task.id, version=task.version, position=None if task.archived else position,
                   title=task.title, scenario=task.scenario, success_criteria=task.success_criteria,
                   time_limit_s=task.time_limit_s, archived=task.archived)


def script(study: models.Study) -> list[Task]:
    """The study's tasks in script order, then the archived ones."""
    ordered = sorted(study.tasks, key=lambda t: (t.archived, t.position, t.id))
    active = [t for t in ordered if not t.archived]
    return [Task.of(t, i + 1) for i, t in enumerate(active)] + [Task.of(t) for t in ordered if t.archived]


class StudyCounts(OutputModel):
    """Progress of a study."""

    tasks: int
    participants: int
    consented: int
    sessions_planned: int
    sessions_done: int
    sessions_no_show: int
    sessions_cancelled: int


class StudyDetail(StudySummary):
    """A study with its goals, task script and progress."""

    goals: str
    tasks: list[Task] = Field(description="The script in order, without archived tasks")
    archived_tasks: list[Task]
    counts: StudyCounts

    @classmethod
    def of(cls, study: models.Study, counts: dict[str, int]) -> StudyDetail:  # type: ignore[override]
        """`study` with the counts of `planning.services.study_counts`."""
        tasks = script(study)
        return cls(
            **_summary(study), goals=study.goals,
            tasks=[t for t in tasks if not t.archived], archived_tasks=[t for t in tasks if t.archived],
            counts=StudyCounts(
                tasks=counts["tasks"], participants=counts["participants"], consented=counts["consented"],
                sessions_planned=counts["scheduled"] + counts["in_progress"],
                sessions_done=counts["completed"], sessions_no_show=counts["no_show"],
                sessions_cancelled=counts["cancelled"],
            ),
        )


# --- task script ----------------------------------------------------------------------------------

class TaskCreate(InputModel):
    """A task appended to the end of the script."""

    title: Title
    scenario: LongText = Field("", description="Read to the participant")
    success_criteria: LongText = ""
    time_limit_s: int | None = Field(None, ge=1, le=MAX_TIME_LIMIT_S)


class TaskUpdate(VersionedChange):
    """Changes to a task's wording or time limit (null removes the limit)."""

    title: Title = None
    scenario: LongText = None
    success_criteria: LongText = None
    time_limit_s: int | None = Field(None, ge=1, le=MAX_TIME_LIMIT_S)


class TaskOrder(InputModel):
    """The script's new order: every task of the script, each once, archived tasks left out."""

    task_ids: list[Id] = Field(max_length=500)


class TaskList(OutputModel):
    """A study's tasks in script order, then the archived ones."""

    items: list[Task]


class TaskRemoval(OutputModel):
    """What removing a task did: deleted, or archived because attempts at it are recorded."""

    result: Literal["deleted", "archived"]
    task: Task


# --- participants ---------------------------------------------------------------------------------

class ParticipantCreate(InputModel):
    """A new participant; the pseudonym (P01, P02, ...) is assigned by the server."""

    name: Title
    email: Email | None = None
    phone: Phone | None = None
    segments: dict[SegmentName, SegmentValue] = Field(default_factory=dict, max_length=50,
                                                      description="Attributes such as age band")
    consent_date: dt.date | None = Field(None, description="When the consent form was signed")
    consent_version: FormVersion | None = Field(None, description="Version of the signed form")


class ParticipantUpdate(VersionedChange):
    """Changes to contact details and segments; a consent date and version add a signed consent."""

    name: Title = None
    email: Email | None = None
    phone: Phone | None = None
    segments: dict[SegmentName, SegmentValue] = Field(None, max_length=50)
    consent_date: dt.date = None
    consent_version: FormVersion = None


class Consent(OutputModel):
    """A signed consent form."""

    consented_on: dt.date
    form_version: str


class PersonalDetails(OutputModel):
    """Name and contact details: shown only to the researchers who manage the study."""

    name: str
    email: str | None
    phone: str | None


class Participant(OutputModel):
    """A participant, known by a pseudonym; personal details only for the study's managers."""

    id: int
    version: int = Field(description=VERSION_OUT)
    study_id: int
    code: str
    has_consent: bool
    erased: bool
    consent_withdrawn_at: UtcDateTime | None = Field(
        description="When the participant withdrew consent (left out of new reports and analyses)")
    segments: dict[str, str]
    consents: list[Consent]
    personal: PersonalDetails | None = Field(
        description="Null unless you manage the study (or the participant was erased)"
    )

    @classmethod
    def of(cls, participant: models.Participant, *, personal: bool) -> Participant:
        """`participant`, with personal details when `personal` is true."""
        details = participant.personal if personal else None
        return cls(
            id=participant.id, version=participant.version, study_id=participant.study_id,
            code=participant.code,
            has_consent=participant.has_consent, erased=participant.erased,
            consent_withdrawn_at=participant.consent_withdrawn_at,
            segments=dict(participant.segments or {}),
            consents=[Consent.model_validate(c) for c in participant.consents],
            personal=PersonalDetails.model_validate(details) if details is not None else None,
        )


class ParticipantPage(Page[Participant]):
    """A page of participants."""


class ConsentWithdrawal(OutputModel):
    """A participant's withdrawal of consent: their sessions still scheduled were cancelled."""

    participant: Participant
    withdrawn_at: UtcDateTime
    sessions_cancelled: list[int] = Field(description="Ids of the sessions this request cancelled "
                                                      "(empty when consent had already been withdrawn)")


class Erasure(OutputModel):
    """What erasing a participant did (nothing the second time)."""

    participant: Participant
    erased_at: UtcDateTime
    sessions_cancelled: list[int] = Field(description="Ids of the sessions this request cancelled")
    notes_purged: int = Field(description="Notes already deleted whose text this request removed for good")
    recordings_deleted: int = Field(0, description="Session recordings this request deleted (files, links)")


class ExportedConsent(OutputModel):
    """A signed consent form, as exported."""

    consented_on: dt.date
    form_version: str
    recorded_at: UtcDateTime


class ExportedAttempt(OutputModel):
    """One attempt at a task in a session."""

    task_id: int
    task_title: str
    number: int = Field(description="1 for the first attempt at this task in the session, 2 after a restart")
    started_at: UtcDateTime
    ended_at: UtcDateTime | None
    outcome: str | None
    error_count: int | None
    seq: int | None = Field(description="Single Ease Question, 1-7")


class ExportedNote(OutputModel):
    """A note taken during one of the participant's sessions (as it reads now)."""

    id: int
    created_at: UtcDateTime
    elapsed_ms: int = Field(description="Into the session")
    kind: str
    body: str
    tags: list[str]
    severity: int | None
    task_id: int | None


class ExportedSus(OutputModel):
    """The participant's System Usability Scale answers (1-5, questionnaire order) and score."""

    answers: list[int]
    score: float | None = Field(description="0-100; null for an incomplete questionnaire")


class ExportedSession(OutputModel):
    """One of the participant's sessions with what was recorded in it."""

    id: int
    starts_at: UtcDateTime
    timezone: str
    duration_min: int
    status: SessionStatus
    started_at: UtcDateTime | None
    ended_at: UtcDateTime | None
    task_attempts: list[ExportedAttempt]
    notes: list[ExportedNote]
    sus: ExportedSus | None


class ParticipantExport(OutputModel):
    """Everything held about one participant. After an erasure, only what is kept (pseudonym, consents,
    sessions, attempts, notes and answers); personal details and segments are gone."""

    exported_at: UtcDateTime
    study_id: int
    study_title: str
    id: int
    code: str
    erased: bool
    erased_at: UtcDateTime | None
    consent_withdrawn_at: UtcDateTime | None
    personal: PersonalDetails | None
    segments: dict[str, str]
    consents: list[ExportedConsent]
    sessions: list[ExportedSession]


# --- sessions -------------------------------------------------------------------------------------

class SessionCreate(InputModel):
    """A session to schedule: local date and time in `timezone`, people by id, a place or a link."""

    participant: Id = Field(description="A participant of this study")
    day: dt.date
    time: dt.time = Field(description="Start time on the wall clock of `timezone`")
    timezone: TimeZoneName | None = Field(None, description="Default: your own time zone")
    duration_min: int = Field(60, ge=scheduling.MIN_DURATION_MIN, le=scheduling.MAX_DURATION_MIN)
    moderator: Id | None = Field(None, description="A user id on the study's team; default: you")
    observers: list[Id] = Field(default_factory=list, max_length=MAX_OBSERVERS,
                                description="User ids, each on the study's team")
    location: Location = ""
    video_link: VideoLink = ""


class WalkInCreate(InputModel):
    """A session starting now for a participant who walked in: people by id, a place or a link."""

    participant: Id = Field(description="A participant of this study")
    duration_min: int = Field(60, ge=scheduling.MIN_DURATION_MIN, le=scheduling.MAX_DURATION_MIN)
    moderator: Id | None = Field(None, description="A user id on the study's team; default: you")
    observers: list[Id] = Field(default_factory=list, max_length=MAX_OBSERVERS,
                                description="User ids, each on the study's team")
    location: Location = ""
    video_link: VideoLink = ""


class SessionUpdate(VersionedChange):
    """Changes to a scheduled session; fields left out keep their current value."""

    participant: Id = None
    day: dt.date = None
    time: dt.time = None
    timezone: TimeZoneName = None
    duration_min: int = Field(None, ge=scheduling.MIN_DURATION_MIN, le=scheduling.MAX_DURATION_MIN)
    moderator: Id = None
    observers: list[Id] = Field(None, max_length=MAX_OBSERVERS)
    location: Location = None
    video_link: VideoLink = None


class ParticipantRef(OutputModel):
    """A participant as sessions show them: pseudonym only."""

    id: int
    code: str
    has_consent: bool


class StudySession(OutputModel):
    """A session as the team sees it: pseudonym only, never the participant's personal details."""

    id: int
    version: int = Field(description=VERSION_OUT + " (the console moving its status is not an edit of it)")
    study_id: int
    participant: ParticipantRef
    starts_at: UtcDateTime
    ends_at: UtcDateTime
    timezone: str = Field(description="The zone it was scheduled in, so the time told can be shown")
    duration_min: int
    status: SessionStatus
    moderator: UserRef
    observers: list[UserRef]
    location: str
    video_link: str
    ics_uid: str = Field(description="Calendar identity: never changes")
    ics_sequence: int = Field(description="Calendar revision: rises on every reschedule and cancellation")

    @classmethod
    def of(cls, study_session: models.StudySession) -> StudySession:
        """`study_session` for the API."""
        return cls.model_validate(study_session)


class StudySessionPage(Page[StudySession]):
    """A page of sessions."""


class StudyTag(OutputModel):
    """A tag of a study's set."""

    id: int
    name: str
    description: str
    colour: str = Field(description="#rrggbb; always shown with the name")
    shortcut: str | None = Field(description="The console key with Alt, e.g. \"P\" or \"Shift+1\"")


class StudyTagList(OutputModel):
    """A study's tag set, in order."""

    items: list[StudyTag]

    @classmethod
    def of(cls, study: models.Study) -> StudyTagList:
        """`study`'s tags."""
        return cls(items=[StudyTag(id=t.id, name=t.name, description=t.description, colour=t.colour,
                                   shortcut=t.shortcut) for t in study.tags])


# --- study team -----------------------------------------------------------------------------------

class TeamMember(OutputModel):
    """One person on a study's team."""

    user: UserRef
    email: str
    account_role: Role = Field(description="The account's role, which limits what the team role grants")
    role: TeamRole = Field(description="Role on this study: researchers do the study's work, observers "
                                       "read it and join its sessions")
    owner: bool = Field(description="True for the member who owns the study (always a researcher)")
    active: bool = Field(description="False when the account is deactivated")
    added_at: UtcDateTime

    @classmethod
    def of(cls, member: models.StudyMember) -> TeamMember:
        """`member` for the API."""
        return cls(user=UserRef.model_validate(member.user), email=member.user.email,
                   account_role=member.user.role, role=member.role, owner=member.is_owner,
                   active=member.user.active, added_at=member.created_at)


class Team(OutputModel):
    """A study's team: the owner first, then researchers, then observers."""

    study_id: int
    owner: UserRef
    items: list[TeamMember]


class TeamMemberCreate(InputModel):
    """Someone to put on the team, named by user id or by the e-mail address of their account."""

    user_id: Id | None = Field(None, description="The account's id (or give `email`)")
    email: Email | None = Field(None, description="The account's e-mail address (or give `user_id`)")
    role: TeamRole = Field(description="researcher or observer")

    @model_validator(mode="after")
    def _one_person(self) -> TeamMemberCreate:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give either user_id or email")
        return self


class TeamMemberUpdate(InputModel):
    """A member's new role on the study."""

    role: TeamRole


class TeamRemoval(OutputModel):
    """What taking a member off the team did."""

    user: UserRef
    sessions_left: list[int] = Field(description="Sessions that had not ended, which they were taken off")
    past_sessions: int = Field(description="Finished sessions that still list them (their notes stay)")


class OwnershipHandOver(InputModel):
    """The researcher on the team who becomes the owner; the old owner stays as a researcher."""

    user_id: Id


# --- a change based on an old version: 409 with the record as it is now -----------------------------

StudyConflict = stale_edit_error("StudyConflict", StudyDetail)
TaskConflict = stale_edit_error("TaskConflict", Task)
ParticipantConflict = stale_edit_error("ParticipantConflict", Participant)
StudySessionConflict = stale_edit_error("StudySessionConflict", StudySession)
