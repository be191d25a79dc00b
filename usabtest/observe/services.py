"""Running a session: notes, session and task flow, SUS answers. These flush; callers commit.

Every change also appends a `SessionEvent` in the same transaction, after locking the session row
(see `events.lock_session`), so live consoles see exactly what was committed, in order.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from usabtest.core.audit import record
from usabtest.core.errors import Conflict, InvalidInput, NotFound
from usabtest.core.versioning import claim
from usabtest.db import UTCDateTime, utcnow
from usabtest.extensions import db
from usabtest.observe import events, sus
from usabtest.observe.models import (
    Note,
    NoteKind,
    NoteRevision,
    Outcome,
    SusResponse,
    TaskAttempt,
    TaskAttemptRevision,
)
from usabtest.observe.schemas import MAX_ERRORS, NoteCreate, NoteUpdate
from usabtest.planning import tagset
from usabtest.planning.models import SessionStatus, Study, StudySession, StudyTag, Task

# The fields of a note people change; `write_note` records any other (deleted_at...) as well.
NOTE_FIELDS = ("body", "tags", "severity", "task_id", "kind")
# The fields of an ended task attempt the moderator and the study's researchers correct afterwards.
ATTEMPT_FIELDS = ("outcome", "error_count", "seq", "started_at", "ended_at")
# How long after starting a task its start can be undone from the console (a mistaken click).
UNDO_SECONDS = 10
# How far ahead of the session's clock a note's client-side moment may be (the console's estimate of
# the server's clock is off by the latency of the page load that set it).
NOTE_CLOCK_SKEW_MS = 10_000


def check_note_references(study: Study, task_id: int | None, tags: list[str] | None) -> list[str] | None:
    """The note's task must be one of the study's, and its tags the study's; 422 naming the field.

    Returns the tags spelt as the study's set spells them (a tag typed "Problem" is "problem").
    """
    if task_id is not None and not any(task.id == task_id for task in study.tasks):
        raise InvalidInput(f"task {task_id} is not a task of this study", "task_id")
    if not tags:
        return tags
    known = {tag.name_key: tag.name for tag in study.tags}
    unknown = [tag for tag in tags if tagset.name_key(tag) not in known]
    if unknown:
        names = ", ".join(tagset.tag_names(study)) or "no tags yet"
        raise InvalidInput(f"unknown tag {unknown[0]!r}; this study uses {names}", "tags")
    return list(dict.fromkeys(known[tagset.name_key(tag)] for tag in tags))


def redis_url() -> str | None:
    """Where events wake other processes' consoles (None: they poll)."""
    return current_app.config.get("REDIS_URL")


def locked(study_session: StudySession) -> StudySession:
    """The session with its row locked for this transaction, so its events keep the commit order."""
    if db.session.get_bind().dialect.name == "sqlite":
        return study_session  # a writing request already holds SQLite's one write lock
    locked = events.lock_session(study_session.id)
    if locked is None:
        raise NotFound("session not found")
    return locked


def running_attempt(study_session: StudySession) -> TaskAttempt | None:
    """The task attempt started and not yet ended, if any."""
    return db.session.scalar(
        sa.select(TaskAttempt).where(
            TaskAttempt.session_id == study_session.id, TaskAttempt.ended_at.is_(None)
        )
    )


def elapsed_ms_now(study_session: StudySession) -> int:
    """Milliseconds since the session started (0 before it starts)."""
    return _elapsed_ms(study_session.started_at, study_session.ended_at)


def _elapsed_ms(started_at: datetime | None, ended_at: datetime | None) -> int:
    if started_at is None:
        return 0
    return max(0, int(((ended_at or utcnow()) - started_at).total_seconds() * 1000))


def find_note(study_session: StudySession, client_uuid: uuid.UUID) -> Note | None:
    """The session's note with this client UUID."""
    return find_note_in(study_session.id, client_uuid)


def find_note_in(session_id: int, client_uuid: uuid.UUID) -> Note | None:
    """The note with this client UUID in the session with this id."""
    return db.session.scalar(
        sa.select(Note).where(Note.session_id == session_id, Note.client_uuid == client_uuid)
    )


def check_replay(note: Note, author, body: str) -> Note:
    """A resent note is the stored one when it matches, else a 409 conflict."""
    if note.author_id != author.id or note.body != body:
        raise Conflict(f"a different note with id {note.client_uuid} already exists", "id")
    return note


def note_moment(started_at: datetime | None, ended_at: datetime | None, elapsed_ms: int | None) -> int:
    """The session time a note is stamped with: the client's (its first keystroke's), checked here.

    The console sends the moment the note's first character was typed, by its estimate of the
    server's clock. A moment slightly ahead of the session's clock (that estimate's error) counts
    as now; one further ahead is not a moment of this session and is refused (422). The session's
    start and end come from the note's `NoteTarget`.
    """
    now_ms = _elapsed_ms(started_at, ended_at)
    if elapsed_ms is None:
        return now_ms
    if elapsed_ms > now_ms + NOTE_CLOCK_SKEW_MS:
        when = ("the session has not started" if started_at is None
                else f"the session's clock reads {now_ms} ms")
        raise InvalidInput(f"elapsed_ms {elapsed_ms} lies after the session's time ({when})", "elapsed_ms")
    return min(elapsed_ms, now_ms)


@dataclass(frozen=True)
class NoteTarget:
    """What storing a note needs to know of its session; the API reads it in the query that also
    checks the writer's permission (and, on PostgreSQL, locks the session row: see `lock_session`)."""

    session_id: int
    study_id: int
    started_at: datetime | None
    ended_at: datetime | None
    running_task_id: int | None
    writer: Any  # a `User`, or a `Writer` when the request's own query found the token's holder


@dataclass(frozen=True)
class Writer:
    """A note's author as the API shows them (`UserRef`), read without loading the whole account."""

    id: int
    name: str


@dataclass(frozen=True)
class StoredNote:
    """A note just stored, with the attributes `schemas.Note.of` reads (no mapped object is built)."""

    id: int
    client_uuid: uuid.UUID
    session_id: int
    task_id: int | None
    author: Any
    body: str
    tags: list[str]
    severity: int | None
    kind: NoteKind
    elapsed_ms: int
    created_at: datetime
    version: int = 1
    edited_at: None = None
    deleted_at: None = None


def create_note(target: NoteTarget, data: NoteCreate) -> tuple[Note | StoredNote, bool]:
    """Store a note once per (session, client UUID); returns the note and whether it is new.

    The hot path of a live session, so plain statements: one INSERT that does nothing when the
    client UUID is stored already (the unique constraint decides, so two copies racing each other
    cannot both be stored), and the event's INSERT. Only a resent copy reads the stored note back:
    the same note answers 200, a different one 409.
    """
    author = target.writer
    try:
        tags = []
        if data.task_id is not None or data.tags:
            study = db.session.get(Study, target.study_id)
            tags = check_note_references(study, data.task_id, data.tags) or []
        elapsed = note_moment(target.started_at, target.ended_at, data.elapsed_ms)
    except InvalidInput:
        # A resent copy is answered as stored, even if its task or tags have left the study since.
        existing = find_note_in(target.session_id, data.id)
        if existing is None:
            raise
        return check_replay(existing, author, data.body), False
    task_id = data.task_id if "task_id" in data.model_fields_set else target.running_task_id
    note = StoredNote(0, data.id, target.session_id, task_id, author, data.body, tags, data.severity,
                      data.kind, elapsed, utcnow())
    values = {"session_id": note.session_id, "task_id": task_id, "author_id": author.id,
              "client_uuid": note.client_uuid, "body": note.body, "tags": tags, "severity": note.severity,
              "kind": note.kind, "elapsed_ms": elapsed, "created_at": note.created_at, "version": 1}
    note_id = _insert_note_and_event(db.session.connection(), values)
    if note_id is None:
        existing = find_note_in(target.session_id, data.id)
        return check_replay(existing, author, data.body), False
    events.wake_after_commit(target.session_id, redis_url())
    return replace(note, id=note_id), True


def _insert_note_and_event(connection: sa.Connection, values: dict[str, Any]) -> int | None:
    """The new note's id, its `note.created` event written too; None when the UUID is stored already.

    PostgreSQL does both in one statement (one round trip fewer: under load each costs a wait for
    the database process); SQLite runs the two INSERTs, which cost no round trip there.
    """
    if connection.dialect.name == "postgresql":
        return connection.execute(_NOTE_AND_EVENT, {**values, "kind": values["kind"].value}).scalar()
    note_id = connection.execute(_insert_new_note(connection.dialect.name), values).scalar()
    if note_id is not None:
        events.insert_event(connection, values["session_id"], "note.created", {"note_id": note_id})
    return note_id


# The event is written only when the note is (a resent UUID inserts nothing, so nothing feeds it).
_NOTE_AND_EVENT = sa.text("""
    WITH new_note AS (
        INSERT INTO note (session_id, task_id, author_id, client_uuid, body, tags, severity, kind,
                          elapsed_ms, created_at, version)
        VALUES (:session_id, :task_id, :author_id, :client_uuid, :body, :tags, :severity, :kind,
                :elapsed_ms, :created_at, :version)
        ON CONFLICT (session_id, client_uuid) DO NOTHING
        RETURNING id),
    new_event AS (
        INSERT INTO session_event (session_id, kind, payload, created_at)
        SELECT :session_id, 'note.created', json_build_object('note_id', id), :created_at FROM new_note)
    SELECT id FROM new_note
""").bindparams(sa.bindparam("tags", type_=sa.JSON), sa.bindparam("client_uuid", type_=sa.Uuid),
                sa.bindparam("created_at", type_=UTCDateTime))


_NOTE_INSERTS: dict[str, sa.Insert] = {}


def _insert_new_note(dialect: str) -> sa.Insert:
    """INSERT ... ON CONFLICT (session_id, client_uuid) DO NOTHING RETURNING id, built once."""
    statement = _NOTE_INSERTS.get(dialect)
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = Note.__table__
        statement = (insert(table)
                     .on_conflict_do_nothing(index_elements=[table.c.session_id, table.c.client_uuid])
                     .returning(table.c.id))
        _NOTE_INSERTS[dialect] = statement
    return statement


_UNCLAIMED = object()  # `write_note` without a person's version: no compare-and-set


def _plain(name: str, value: Any) -> Any:
    """A field's value as history stores it (JSON)."""
    if isinstance(value, NoteKind):
        return value.value
    if name == "tags":
        return list(value or [])
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def write_note(note: Note, actor, values: dict[str, Any], *, based_on: int | None | object = _UNCLAIMED,
               action: str = "edit", event: str = "note.updated") -> Note:
    """The one write path of a stored note: every change goes through here and leaves its history.

    Only the fields whose value really changes are written; they are recorded in a `NoteRevision`
    (who, when, each value before and after) and the audit trail, and a `note.updated` event tells
    the live consoles. Nothing changing writes nothing. Callers check their own rules first.

    A person's edit passes `based_on`, the note's version their form or PATCH was made from: a change
    made from an old version (a console replaying an offline edit after a researcher retagged the
    note, say) is refused with `StaleVersion`, nothing written. Changes no person typed into this
    note (a tag renamed for the whole study, a deletion) leave it out; they still bump the version.
    """
    locked(note.study_session)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in values.items():
        old = getattr(note, name)
        if _plain(name, old) != _plain(name, value):
            before[name], after[name] = _plain(name, old), _plain(name, value)
    if based_on is not _UNCLAIMED:
        if not after and based_on == note.version:
            return note
        claim(note, based_on)  # type: ignore[arg-type]
    if not after:
        return note
    for name in after:
        setattr(note, name, values[name])
    if any(name in NOTE_FIELDS for name in after):
        note.edited_at = utcnow()
    db.session.add(NoteRevision(note=note, actor_id=getattr(actor, "id", None), action=action,
                                before=before, after=after, created_at=utcnow()))
    db.session.flush()
    record(actor, f"note.{action}", note, {"before": before})
    events.append(note.study_session, event, {"note_id": note.id}, redis_url())
    return note


def edit_note(note: Note, actor, values: dict[str, Any], based_on: int | None) -> Note:
    """Change a note's body, tags, severity, task or kind after checking them against its study.

    `based_on` is the note's version the person's edit was made from (see `write_note`).
    """
    if note.deleted_at is not None:
        raise Conflict("this note was deleted")
    unknown = set(values) - set(NOTE_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]} cannot be changed", sorted(unknown)[0])
    values = dict(values)
    if "body" in values:
        body = (values["body"] or "").strip()
        if not body:
            raise InvalidInput("A note needs some text.", "body")
        values["body"] = body
    if "kind" in values:
        values["kind"] = NoteKind(values["kind"] or NoteKind.OBSERVATION)
    tags = check_note_references(note.study_session.study, values.get("task_id"), values.get("tags"))
    if tags is not None:
        values["tags"] = tags
    return write_note(note, actor, values, based_on=based_on)


def update_note(note: Note, actor, changes: NoteUpdate) -> Note:
    """The API's change of a note (only the fields sent), made from `changes.version`."""
    return edit_note(note, actor, changes.changes(), changes.version)


def delete_note(note: Note, actor) -> Note:
    """Soft-delete a note (it stays in the database and its history); repeating is harmless."""
    if note.deleted_at is None:
        write_note(note, actor, {"deleted_at": utcnow()}, action="delete", event="note.deleted")
    return note


def note_history(note: Note) -> list[NoteRevision]:
    """The note's changes, oldest first, with their authors."""
    return db.session.scalars(
        sa.select(NoteRevision).where(NoteRevision.note_id == note.id).order_by(NoteRevision.id)
    ).all()


# --- tag sets: changes that rewrite notes ---------------------------------------------------------


def _study_notes(study: Study) -> list[Note]:
    """Every note of the study, deleted ones too (restoring one must not bring back a stale tag)."""
    return list(db.session.scalars(
        sa.select(Note).join(StudySession, StudySession.id == Note.session_id)
        .where(StudySession.study_id == study.id).order_by(Note.id)
    ))


def tag_usage(study: Study) -> dict[str, int]:
    """How many live notes carry each tag (by the tag's case-folded name)."""
    counts: dict[str, int] = {}
    rows = db.session.execute(
        sa.select(Note.tags).join(StudySession, StudySession.id == Note.session_id)
        .where(StudySession.study_id == study.id, Note.deleted_at.is_(None))
    )
    for (tags,) in rows:
        for name in {tagset.name_key(str(t)) for t in tags or []}:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _retag(study: Study, actor, old: StudyTag, replacement: str | None, action: str) -> int:
    """Put `replacement` (or nothing) in place of `old` on every note carrying it; returns how many."""
    changed = 0
    for note in _study_notes(study):
        tags = list(note.tags or [])
        if not any(tagset.name_key(str(t)) == old.name_key for t in tags):
            continue
        new = [replacement if tagset.name_key(str(t)) == old.name_key else t for t in tags]
        new = list(dict.fromkeys(t for t in new if t is not None))
        write_note(note, actor, {"tags": new}, action=action)
        changed += 1
    return changed


def update_tag(tag: StudyTag, actor, *, name: str, description: str, colour: str,
               shortcut: str | None) -> int:
    """Change a tag; a new name is written into every note that carries it. Returns notes changed."""
    study = tag.study
    checked = tagset.check_tag(study, name=name, description=description, colour=colour,
                               shortcut=shortcut, current=tag)
    old_name = tag.name
    changed = 0
    if checked.name != old_name:
        changed = _retag(study, actor, tag, checked.name, "tag.rename")
    tag.name, tag.name_key = checked.name, tagset.name_key(checked.name)
    tag.description, tag.colour, tag.shortcut = checked.description, checked.colour, checked.shortcut
    db.session.flush()
    record(actor, "tag.update", tag, {"study": study.id, "from": old_name, "to": tag.name, "notes": changed})
    return changed


def merge_tag(source: StudyTag, target: StudyTag, actor) -> int:
    """Fold `source` into `target`: its notes carry `target` instead, and `source` leaves the set."""
    if source.id == target.id:
        raise InvalidInput("Choose another tag to merge into.", "target")
    if source.study_id != target.study_id:
        raise InvalidInput("Tags of different studies cannot be merged.", "target")
    study = source.study
    changed = _retag(study, actor, source, target.name, "tag.merge")
    record(actor, "tag.merge", target, {"study": study.id, "merged": source.name, "notes": changed})
    study.tags.remove(source)
    db.session.flush()
    return changed


def delete_tag(tag: StudyTag, actor) -> int:
    """Remove a tag from the set and from every note that carries it; returns the notes changed."""
    study = tag.study
    changed = _retag(study, actor, tag, None, "tag.remove")
    record(actor, "tag.delete", None, {"study": study.id, "name": tag.name, "notes": changed})
    study.tags.remove(tag)
    db.session.flush()
    return changed


def restore_note(note: Note, actor) -> bool:
    """Bring a deleted note back (board, metrics, consoles); False when it was not deleted."""
    if note.deleted_at is None:
        return False
    write_note(note, actor, {"deleted_at": None}, action="restore", event="note.restored")
    return True




def actor_payload(actor) -> dict[str, Any]:
    """Who did it, as an event names them."""
    return {"actor": {"id": actor.id, "name": actor.name}}


def ensure_screen_token(study_session: StudySession) -> str:
    """The secret of the participant's screen link, made when first needed."""
    if study_session.status not in (SessionStatus.SCHEDULED, SessionStatus.IN_PROGRESS):
        raise Conflict("the participant screen closes when the session ends")
    if not study_session.screen_token:
        study_session.screen_token = secrets.token_urlsafe(32)
    return study_session.screen_token


def start_session(study_session: StudySession, actor) -> StudySession:
    """Start the clock; refused without the participant's consent or when already started."""
    study_session = locked(study_session)
    if study_session.status != SessionStatus.SCHEDULED:
        raise Conflict(f"the session is {study_session.status.label.lower()}; only a scheduled "
                       "session can be started")
    if not study_session.participant.has_consent:
        raise Conflict(f"participant {study_session.participant.code} has no consent on record; "
                       "record their consent before starting the session")
    study_session.status = SessionStatus.IN_PROGRESS
    study_session.started_at = utcnow()
    ensure_screen_token(study_session)
    record(actor, "session.start", study_session)
    events.append(study_session, "session.started",
                  {**actor_payload(actor), "started_at": study_session.started_at.isoformat()}, redis_url())
    return study_session


def end_session(study_session: StudySession, actor) -> StudySession:
    """Stop the clock and close the participant's screen; a running task must be ended first."""
    study_session = locked(study_session)
    if study_session.status != SessionStatus.IN_PROGRESS:
        raise Conflict("only a session in progress can be ended")
    attempt = running_attempt(study_session)
    if attempt is not None:
        raise Conflict(f"end the running task {attempt.task.title!r} first (record its outcome)")
    study_session.status = SessionStatus.COMPLETED
    study_session.ended_at = utcnow()
    study_session.screen_token = None
    record(actor, "session.end", study_session)
    events.append(study_session, "session.ended",
                  {**actor_payload(actor), "ended_at": study_session.ended_at.isoformat(),
                   "elapsed_ms": elapsed_ms_now(study_session)}, redis_url())
    return study_session


def _task_of(study_session: StudySession, task_id: int) -> Task:
    task = db.session.get(Task, task_id)
    if task is None or task.study_id != study_session.study_id:
        raise NotFound(f"task {task_id} is not a task of this study", "task_id")
    return task


def task_payload(task: Task, study_session: StudySession,
                 attempt: TaskAttempt | None = None) -> dict[str, Any]:
    """The task (and attempt) an event is about, with the session time."""
    payload: dict[str, Any] = {"task": {"id": task.id, "title": task.title, "position": task.position},
                               "elapsed_ms": elapsed_ms_now(study_session)}
    if attempt is not None:
        payload["attempt"] = {"id": attempt.id, "number": attempt.number,
                              "started_at": attempt.started_at.isoformat()}
    return payload


def task_attempts(study_session: StudySession, task: Task) -> list[TaskAttempt]:
    """The session's attempts at `task`, first to last."""
    return list(db.session.scalars(sa.select(TaskAttempt).where(
        TaskAttempt.session_id == study_session.id, TaskAttempt.task_id == task.id
    ).order_by(TaskAttempt.number)))


def _begin_attempt(study_session: StudySession, task: Task, actor, number: int,
                   at: datetime | None = None) -> TaskAttempt:
    attempt = TaskAttempt(session_id=study_session.id, task_id=task.id, number=number,
                          started_at=at or utcnow())
    db.session.add(attempt)
    db.session.flush()
    events.append(study_session, "task.started",
                  {**actor_payload(actor), **task_payload(task, study_session, attempt)}, redis_url())
    return attempt


def _check_can_start(study_session: StudySession, task: Task) -> TaskAttempt | None:
    if study_session.status != SessionStatus.IN_PROGRESS:
        raise Conflict("start the session before starting a task")
    running = running_attempt(study_session)
    if running is not None and running.task_id != task.id:
        raise Conflict(f"task {running.task.title!r} is still running; end it first")
    return running


def start_task(study_session: StudySession, task_id: int, actor) -> TaskAttempt:
    """Start a task's first attempt: one running task at a time (a later attempt is a restart)."""
    study_session = locked(study_session)
    task = _task_of(study_session, task_id)
    running = _check_can_start(study_session, task)
    if running is not None:
        raise Conflict(f"task {task.title!r} is already running")
    if task_attempts(study_session, task):
        raise Conflict(f"task {task.title!r} was already attempted in this session; restart it for a "
                       "new attempt")
    return _begin_attempt(study_session, task, actor, 1)


def restart_task(study_session: StudySession, task_id: int, actor) -> TaskAttempt:
    """Start a new attempt of a task; every earlier attempt is kept.

    Restarting the running task stops its attempt without an outcome (so it never counts, see
    `analysis.metrics.ATTEMPT_RULE`) and starts the next one at once.
    """
    study_session = locked(study_session)
    task = _task_of(study_session, task_id)
    running = _check_can_start(study_session, task)
    earlier = task_attempts(study_session, task)
    now = utcnow()
    if running is not None:
        running.ended_at = now
        db.session.flush()
        events.append(study_session, "task.restarted",
                      {**actor_payload(actor), **task_payload(task, study_session, running)}, redis_url())
    record(actor, "task.restart", task, {"session": study_session.id, "attempt": len(earlier) + 1})
    return _begin_attempt(study_session, task, actor, (earlier[-1].number if earlier else 0) + 1, now)


def undo_task_start(study_session: StudySession, task_id: int, actor) -> None:
    """Take back a task start made by mistake, within `UNDO_SECONDS`: the attempt is removed.

    When the undone attempt was a restart of the running task, the attempt it stopped runs again.
    """
    study_session = locked(study_session)
    task = _task_of(study_session, task_id)
    attempt = running_attempt(study_session)
    if attempt is None or attempt.task_id != task.id:
        raise Conflict(f"task {task.title!r} is not running, so there is no start to undo")
    if utcnow() - attempt.started_at > timedelta(seconds=UNDO_SECONDS):
        raise Conflict(f"a task start can be undone only in its first {UNDO_SECONDS} seconds; end the "
                       "task with its outcome instead (or restart it)")
    previous = next((a for a in task_attempts(study_session, task) if a.number == attempt.number - 1), None)
    reopened = previous is not None and previous.outcome is None and previous.ended_at == attempt.started_at
    payload = {**actor_payload(actor), **task_payload(task, study_session, attempt)}
    record(actor, "task.undo_start", task, {"session": study_session.id, "attempt": attempt.number})
    db.session.delete(attempt)
    db.session.flush()
    if reopened:
        previous.ended_at = None
        db.session.flush()
        payload["resumed"] = {"id": previous.id, "number": previous.number,
                              "started_at": previous.started_at.isoformat()}
    elif previous is not None:
        # What the console's script shows for the task again.
        payload["latest"] = {**attempt_state(previous), "attempt": {"number": previous.number}}
    events.append(study_session, "task.undone", payload, redis_url())


def end_task(study_session: StudySession, task_id: int, actor, outcome: Outcome, errors: int,
             seq: int | None) -> TaskAttempt:
    """End the running task with its outcome, error count and SEQ answer."""
    study_session = locked(study_session)
    task = _task_of(study_session, task_id)
    attempt = running_attempt(study_session)
    if attempt is None or attempt.task_id != task.id:
        raise Conflict(f"task {task.title!r} is not running")
    attempt.ended_at = utcnow()
    attempt.outcome, attempt.error_count, attempt.seq = outcome, errors, seq
    db.session.flush()
    payload = {**actor_payload(actor), **task_payload(task, study_session, attempt), "outcome": outcome.value,
               "errors": errors, "seq": seq, "duration_s": round(attempt.duration_s or 0, 1)}
    events.append(study_session, "task.ended", payload, redis_url())
    return attempt


def record_sus(study_session: StudySession, answers: Any, actor) -> tuple[SusResponse, bool]:
    """Store (or correct) the ten SUS answers once the session has ended."""
    problem = sus.validation_error(answers)
    if problem:
        raise InvalidInput(problem, "answers")
    study_session = locked(study_session)
    if study_session.status != SessionStatus.COMPLETED:
        raise Conflict("SUS answers are entered after the session has ended")
    return store_sus(study_session, answers, actor)


def store_sus(study_session: StudySession, answers: list[int], actor) -> tuple[SusResponse, bool]:
    """Keep checked SUS answers, typed by `actor` or (None) given by the participant on their screen."""
    response = db.session.scalar(sa.select(SusResponse).where(SusResponse.session_id == study_session.id))
    created = response is None
    entered_by = actor.id if actor is not None else None
    if created:
        response = SusResponse(session_id=study_session.id, answers=list(answers), entered_by_id=entered_by)
        db.session.add(response)
    else:
        response.answers, response.entered_by_id = list(answers), entered_by
    db.session.flush()
    score = sus.score(answers)
    record(actor, "sus.record" if created else "sus.correct", response,
           {"score": score, "by_participant": actor is None})
    who = actor_payload(actor) if actor is not None else {"by_participant": True}
    payload = {**who, "score": score, "elapsed_ms": elapsed_ms_now(study_session)}
    events.append(study_session, "sus.recorded", payload, redis_url())
    return response, created


# --- corrections of task attempts -----------------------------------------------------------------


def _attempt_plain(value: Any) -> Any:
    """A field's value as an attempt's history stores it (JSON)."""
    if isinstance(value, Outcome):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _attempt_problems(attempt: TaskAttempt, merged: dict[str, Any]) -> dict[str, str]:
    """What is wrong with an attempt's corrected values, field by field (empty: nothing)."""
    problems: dict[str, str] = {}
    study_session = attempt.study_session
    if merged["outcome"] is None:
        problems["outcome"] = "Choose the outcome of the attempt."
    errors = merged["error_count"]
    if errors is not None and (isinstance(errors, bool) or not 0 <= errors <= MAX_ERRORS):
        problems["error_count"] = f"Errors are counted from 0 to {MAX_ERRORS}."
    seq = merged["seq"]
    if seq is not None and (isinstance(seq, bool) or not 1 <= seq <= 7):
        problems["seq"] = "The SEQ answer is a whole number from 1 (very difficult) to 7 (very easy)."
    start, end = merged["started_at"], merged["ended_at"]
    if start is None or start.tzinfo is None:
        problems["started_at"] = "Give the start time with its time zone."
    if end is None or end.tzinfo is None:
        problems["ended_at"] = "Give the end time with its time zone."
    if problems.keys() & {"started_at", "ended_at"}:
        return problems
    if end <= start:
        problems["ended_at"] = "The end must come after the start."
    if study_session.started_at is not None and start < study_session.started_at:
        problems["started_at"] = "The attempt cannot start before the session started."
    latest = study_session.ended_at or utcnow()
    if end > latest:
        problems["ended_at"] = ("The attempt cannot end after the session ended." if study_session.ended_at
                                else "The attempt cannot end in the future.")
    if not problems:
        # One task runs at a time: a corrected attempt may not overlap another attempt of the session.
        for other in study_session.attempts:
            if other.id == attempt.id or other.ended_at is None and other.started_at >= end:
                continue
            other_end = other.ended_at or utcnow()
            if start < other_end and other.started_at < end:
                problems["started_at"] = (f"These times overlap attempt {other.number} of task "
                                          f"{other.task.title!r}; only one task runs at a time.")
                break
    return problems


def correct_attempt(attempt: TaskAttempt, actor, values: dict[str, Any], based_on: int | None) -> TaskAttempt:
    """Correct an ended attempt's outcome, errors, SEQ, start or end, keeping each change in its history.

    Every value is checked before anything is written: an end before the start, an SEQ outside 1-7
    and the like are refused (422) field by field, and nothing is stored. `based_on` is the attempt's
    version the correction was made from; a stale one is refused with `StaleVersion` (409).
    """
    unknown = set(values) - set(ATTEMPT_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"{name} cannot be changed", name)
    locked(attempt.study_session)
    if attempt.ended_at is None:
        raise Conflict("end the running task before correcting its attempt")
    values = dict(values)
    if "outcome" in values and values["outcome"] is not None:
        values["outcome"] = Outcome(values["outcome"])
    merged = {name: values.get(name, getattr(attempt, name)) for name in ATTEMPT_FIELDS}
    problems = _attempt_problems(attempt, merged)
    if problems:
        first = next(iter(problems.values()))
        message = first if len(problems) == 1 else f"{len(problems)} values need correcting: {first}"
        raise InvalidInput(message, fields=problems)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in values.items():
        old = getattr(attempt, name)
        if _attempt_plain(old) != _attempt_plain(value):
            before[name], after[name] = _attempt_plain(old), _attempt_plain(value)
    if not after and based_on == attempt.version:
        return attempt
    claim(attempt, based_on)
    if not after:
        return attempt
    for name in after:
        setattr(attempt, name, values[name])
    db.session.add(TaskAttemptRevision(attempt=attempt, actor_id=getattr(actor, "id", None), action="correct",
                                       before=before, after=after, created_at=utcnow()))
    db.session.flush()
    record(actor, "attempt.correct", attempt, {"before": before})
    study_session = attempt.study_session
    latest = attempt.number == max(a.number for a in task_attempts(study_session, attempt.task))
    events.append(study_session, "attempt.corrected",
                  {**actor_payload(actor), **task_payload(attempt.task, study_session, attempt),
                   **attempt_state(attempt), "latest": latest}, redis_url())
    return attempt


def attempt_state(attempt: TaskAttempt) -> dict[str, Any]:
    """An ended attempt's outcome, errors, SEQ and duration, as events carry them."""
    return {"outcome": attempt.outcome.value if attempt.outcome else None, "errors": attempt.error_count,
            "seq": attempt.seq, "duration_s": round(attempt.duration_s or 0, 1)}


def attempt_history(attempt: TaskAttempt) -> list[TaskAttemptRevision]:
    """The attempt's corrections, oldest first, with their authors."""
    return list(db.session.scalars(sa.select(TaskAttemptRevision).where(
        TaskAttemptRevision.attempt_id == attempt.id).order_by(TaskAttemptRevision.id)))
