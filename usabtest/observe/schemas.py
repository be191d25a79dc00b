"""API models of the live console: notes, session and task flow, SUS answers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AwareDatetime, Field

from usabtest.accounts.schemas import UserRef
from usabtest.core.schemas import (
    VERSION_OUT,
    Id,
    InputModel,
    OutputModel,
    QueryModel,
    UtcDateTime,
    VersionedChange,
    stale_edit_error,
    text,
)
from usabtest.observe import models, sus
from usabtest.observe.models import NoteKind, Outcome, QuestionKind
from usabtest.planning.models import SessionStatus

MAX_BODY = 10_000
MAX_TAGS = 20
MAX_ELAPSED_MS = 7 * 24 * 3600 * 1000
MAX_ERRORS = 1000
MAX_CURSOR = 2**63 - 1

NoteBody = text(MAX_BODY, min_length=1, multiline=True)
Tag = text(50, min_length=1)
Severity = Annotated[int, Field(ge=0, le=4, description="0 (not a problem) to 4 (catastrophe)")]
ElapsedMs = Annotated[int, Field(ge=0, le=MAX_ELAPSED_MS, description="Time since the session started")]
SusAnswer = Annotated[int, Field(ge=1, le=5)]


class NoteCreate(InputModel):
    """A note; resending one with the same `id` is harmless."""

    id: uuid.UUID = Field(description="Chosen by the client")
    body: NoteBody
    task_id: Id | None = Field(None, description="A task of the session's study; null for none; "
                                                 "left out: the task running when the note arrives")
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS,
                            description="Names of the study's tags (GET /studies/{id}/tags), any case")
    severity: Severity | None = None
    kind: NoteKind = Field(NoteKind.OBSERVATION, description="What the note records")
    elapsed_ms: ElapsedMs | None = Field(
        None, description="The moment the note is about (the console sends its first keystroke's), in "
                          "ms since the session started; at most 10 s ahead of the session's clock (422 "
                          "beyond), never later than now. Left out or null: the moment it arrives")


class NoteUpdate(VersionedChange):
    """Changes to a note (yours, or any note of a study you research): body, tags, severity, task, kind, with
    the `version` they were based on."""

    body: NoteBody = None
    task_id: Id | None = None
    tags: list[Tag] = Field(None, max_length=MAX_TAGS)
    severity: Severity | None = None
    kind: NoteKind = None


class Note(OutputModel):
    """A note as the API and the live stream show it; a deleted note keeps no text."""

    id: uuid.UUID = Field(description="The client's UUID")
    version: int = Field(description=VERSION_OUT)
    seq: int = Field(description="Server order of creation")
    session_id: int
    task_id: int | None
    author: UserRef
    body: str = Field(description="Empty for a deleted note")
    tags: list[str]
    severity: Severity | None
    kind: NoteKind
    elapsed_ms: int
    created_at: UtcDateTime
    edited_at: UtcDateTime | None
    deleted: bool

    @classmethod
    def of(cls, note: models.Note) -> Note:
        """`note` as clients see it."""
        deleted = note.deleted_at is not None
        return cls(
            id=note.client_uuid, version=note.version, seq=note.id, session_id=note.session_id,
            task_id=note.task_id,
            author=UserRef.model_validate(note.author), body="" if deleted else note.body,
            tags=[] if deleted else list(note.tags or []), severity=None if deleted else note.severity,
            kind=note.kind, elapsed_ms=note.elapsed_ms, created_at=note.created_at, edited_at=note.edited_at,
            deleted=deleted,
        )


class NoteRevision(OutputModel):
    """One change of a note: who, when, and the changed fields' values before and after."""

    at: UtcDateTime
    actor: UserRef | None = Field(description="Null when the account was removed")
    action: str = Field(description="edit, delete, tag.rename, tag.merge or tag.remove")
    before: dict[str, Any] = Field(description="The changed fields' old values")
    after: dict[str, Any] = Field(description="The changed fields' new values")

    @classmethod
    def of(cls, revision: models.NoteRevision) -> NoteRevision:
        """`revision` for the API."""
        actor = UserRef.model_validate(revision.actor) if revision.actor is not None else None
        return cls(at=revision.created_at, actor=actor, action=revision.action,
                   before=dict(revision.before or {}), after=dict(revision.after or {}))


class NoteHistory(OutputModel):
    """A note's changes, oldest first."""

    note_id: uuid.UUID
    items: list[NoteRevision]


NoteConflict = stale_edit_error("NoteConflict", Note)


class NotesQuery(QueryModel):
    """`?after=`: only what changed after this event cursor (0 or left out: every live note)."""

    after: int = Field(0, ge=0, le=MAX_CURSOR, description="An event id, e.g. a previous `cursor`")


class NoteList(OutputModel):
    """Notes and the cursor to ask for later changes."""

    items: list[Note]
    cursor: int = Field(description="Pass as `after` to get later changes")


class TaskEnd(InputModel):
    """How the running task ended."""

    outcome: Outcome
    errors: int | None = Field(0, ge=0, le=MAX_ERRORS, description="Errors counted; null means 0")
    seq: int | None = Field(None, ge=1, le=7, description="Single Ease Question answer; null when not asked")


class TaskAttempt(OutputModel):
    """One task attempt of a session (a restarted task has several, numbered from 1)."""

    id: int
    version: int = Field(description=VERSION_OUT)
    task_id: int
    number: int = Field(description="1 for the task's first attempt in the session, 2 after a restart...")
    started_at: UtcDateTime
    ended_at: UtcDateTime | None
    outcome: Outcome | None
    errors: int | None
    seq: int | None

    @classmethod
    def of(cls, attempt: models.TaskAttempt) -> TaskAttempt:
        """`attempt` for the API."""
        return cls(id=attempt.id, version=attempt.version, task_id=attempt.task_id, number=attempt.number,
                   started_at=attempt.started_at, ended_at=attempt.ended_at,
                   outcome=attempt.outcome, errors=attempt.error_count, seq=attempt.seq)


class AttemptCorrection(VersionedChange):
    """Corrections of an ended task attempt (only the fields sent), with the `version` they were based on.

    The end must come after the start, within the session; both times need their UTC offset."""

    outcome: Outcome = None
    errors: int = Field(None, ge=0, le=MAX_ERRORS, description="Errors counted")
    seq: int | None = Field(None, ge=1, le=7, description="Single Ease Question answer; null: not asked")
    started_at: AwareDatetime = None
    ended_at: AwareDatetime = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, named as the attempt names them (`errors` is `error_count`)."""
        values = super().changes()
        if "errors" in values:
            values["error_count"] = values.pop("errors")
        return values


class AttemptRevision(OutputModel):
    """One correction of a task attempt: who, when, and the changed fields before and after."""

    at: UtcDateTime
    actor: UserRef | None = Field(description="Null when the account was removed")
    action: str = Field(description="correct, or participant: the SEQ answered on the participant screen")
    before: dict[str, Any] = Field(description="The changed fields' old values")
    after: dict[str, Any] = Field(description="The changed fields' new values")

    @classmethod
    def of(cls, revision: models.TaskAttemptRevision) -> AttemptRevision:
        """`revision` for the API."""
        actor = UserRef.model_validate(revision.actor) if revision.actor is not None else None
        return cls(at=revision.created_at, actor=actor, action=revision.action,
                   before=dict(revision.before or {}), after=dict(revision.after or {}))


class AttemptHistory(OutputModel):
    """A task attempt's corrections, oldest first."""

    attempt_id: int
    items: list[AttemptRevision]


AttemptConflict = stale_edit_error("AttemptConflict", TaskAttempt)


class SessionLiveState(OutputModel):
    """Status, clock and task attempts of a session: what a console needs to redraw."""

    id: int
    status: SessionStatus
    started_at: UtcDateTime | None
    ended_at: UtcDateTime | None
    current_task_id: int | None
    attempts: list[TaskAttempt]


class SusAnswers(InputModel):
    """The participant's ten SUS answers, 1 (strongly disagree) to 5 (strongly agree), in order."""

    answers: list[SusAnswer] = Field(min_length=len(sus.STATEMENTS), max_length=len(sus.STATEMENTS))


class SusResult(OutputModel):
    """A session's SUS answers with their 0-100 score."""

    session_id: int
    answers: list[int]
    score: float
    updated_at: UtcDateTime

    @classmethod
    def of(cls, response: models.SusResponse) -> SusResult:
        """`response` with its score."""
        return cls(session_id=response.session_id, answers=list(response.answers),
                   score=sus.score(response.answers), updated_at=response.updated_at)


class ScreenLink(OutputModel):
    """The participant screen's secret link."""

    url: str


OffsetMs = Annotated[int, Field(ge=-24 * 3600 * 1000, le=24 * 3600 * 1000, description=(
    "Where the session's start lies in the recording, in milliseconds (negative: the recording began "
    "after the session started); a note's moment in the recording is its elapsed_ms plus this"))]


class RecordingLink(InputModel):
    """An external recording (a meeting tool's or a video platform's): replaces any recording before it."""

    url: text(2000, min_length=1) = Field(description="An http or https address; other schemes are refused")
    offset_ms: OffsetMs = 0


class RecordingOffset(InputModel):
    """Move the session's start within its recording."""

    offset_ms: OffsetMs


class RecordingUploadQuery(QueryModel):
    """Parameters of a recording upload (the body is the file itself)."""

    offset_ms: OffsetMs = 0


class Recording(OutputModel):
    """A session's recording: an external link, or an audio or video file kept by the server."""

    session_id: int
    kind: models.RecordingKind
    url: str = Field(description="The external recording's address; empty for a file")
    offset_ms: int
    content_type: str = Field(description="The file's media type, found from its content; empty for a link")
    size_bytes: int | None
    file_url: str | None = Field(description="Where the file is served, with range requests; null for links")
    review_url: str = Field(description="The review page; append ?t=SECONDS for a moment of the session")
    updated_at: UtcDateTime


class QuestionAsk(InputModel):
    """What to put on the participant's screen: the SEQ of the last task ended, or the SUS."""

    kind: QuestionKind = Field(description="seq: the last ended task's Single Ease Question; sus: the System "
                                           "Usability Scale. Only while the session runs and no task does")


class ScreenQuestion(OutputModel):
    """A question put on the participant's screen; their answer is stored like a typed one."""

    id: int
    kind: QuestionKind
    task_id: int | None = Field(description="The task whose SEQ is asked (null for the SUS)")
    attempt_id: int | None
    asked_at: UtcDateTime
    closed_at: UtcDateTime | None = Field(description="When it was answered, withdrawn or replaced")
    answered: bool

    @classmethod
    def of(cls, question: models.ScreenQuestion) -> ScreenQuestion:
        """`question` for the API."""
        return cls(id=question.id, kind=question.kind, attempt_id=question.attempt_id,
                   task_id=question.attempt.task_id if question.attempt is not None else None,
                   asked_at=question.asked_at, closed_at=question.closed_at, answered=question.answered)
