"""API of the live console: notes, the event stream, session and task flow, SUS answers.

Reading needs the right to observe the session (404 otherwise); running it is for the moderator
and the study's managers (403 for other observers); a note changes by its author or the study's
researchers, and is deleted only by its author (403 otherwise).
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request, url_for
from flask_login import current_user
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import joinedload, selectinload

from usabtest import policy
from usabtest.accounts import services as account_services
from usabtest.accounts.models import ApiToken, Role, User
from usabtest.api import (
    allow,
    bearer_token,
    bp,
    load,
    loads,
    reads,
    refuse_token,
    showing_current,
    spec,
    valid_body,
    writes,
)
from usabtest.core.errors import InvalidInput, NotFound
from usabtest.core.schemas import MAX_ID
from usabtest.core.uploads import large_upload
from usabtest.db import UTCDateTime, utcnow
from usabtest.extensions import db
from usabtest.observe import events, live, questions, recordings, services
from usabtest.observe.models import Note, SessionEvent, SessionRecording, SusResponse, TaskAttempt
from usabtest.observe.schemas import (
    MAX_CURSOR,
    AttemptConflict,
    AttemptCorrection,
    AttemptHistory,
    AttemptRevision,
    NoteConflict,
    NoteCreate,
    NoteHistory,
    NoteList,
    NotesQuery,
    NoteUpdate,
    QuestionAsk,
    RecordingLink,
    RecordingOffset,
    RecordingUploadQuery,
    ScreenLink,
    SessionLiveState,
    SusAnswers,
    SusResult,
    TaskEnd,
)
from usabtest.observe.schemas import Note as NoteOut
from usabtest.observe.schemas import NoteRevision as NoteRevisionOut
from usabtest.observe.schemas import Recording as RecordingOut
from usabtest.observe.schemas import ScreenQuestion as ScreenQuestionOut
from usabtest.observe.schemas import TaskAttempt as TaskAttemptOut
from usabtest.planning import tagset
from usabtest.planning.models import StudySession, StudyTag, Task, TeamRole

TAGS = ["observe"]


# The study `policy.can_observe_session` reads, loaded with the session (the console's every
# request, a note's above all, starts here). The team and the observers are not: the policy reads
# the caller's own rows, whatever the size of the team.
_FOR_POLICY = (joinedload(StudySession.study),)


def observed_session(session_id: int) -> StudySession:
    """A session the caller may observe (404 otherwise)."""
    return load(StudySession, session_id, policy.can_observe_session, "session", options=_FOR_POLICY)


def run_session(session_id: int) -> StudySession:
    """A session the caller may run: its moderator or the study's managers (403 for other observers)."""
    study_session = observed_session(session_id)
    allow(policy.can_run_session(current_user, study_session),
          "only the session's moderator or the study's researchers can do this")
    return study_session


def _note(study_session: StudySession, note_id: uuid.UUID) -> Note:
    note = services.find_note(study_session, note_id)
    if note is None:
        raise NotFound(f"note {note_id} not found")
    return note


def _editable_note(study_session: StudySession, note_id: uuid.UUID) -> Note:
    note = _note(study_session, note_id)
    allow(policy.can_edit_note(current_user, note),
          "only the note's author or the study's researchers can change it")
    return note


def _own_note(study_session: StudySession, note_id: uuid.UUID) -> Note:
    note = _note(study_session, note_id)
    allow(policy.can_delete_note(current_user, note), "only the note's author can delete it")
    return note


def _task_id(task_id: int) -> int:
    if not 1 <= task_id <= MAX_ID:
        raise NotFound(f"task {task_id} is not a task of this study", "task_id")
    return task_id


def _state(study_session: StudySession) -> SessionLiveState:
    attempts = db.session.scalars(sa.select(TaskAttempt).where(TaskAttempt.session_id == study_session.id)
                                  .order_by(TaskAttempt.started_at, TaskAttempt.id)).all()
    running = next((a for a in attempts if a.ended_at is None), None)
    return SessionLiveState(
        id=study_session.id, status=study_session.status, started_at=study_session.started_at,
        ended_at=study_session.ended_at, current_task_id=running.task_id if running else None,
        attempts=[TaskAttemptOut.of(a) for a in attempts],
    )


# --- notes ----------------------------------------------------------------------------------------

def note_target(session_id: int) -> services.NoteTarget:
    """The session a note goes to and its writer, if they may observe it (404 otherwise).

    One query reads the session, its running task and the writer's place on its team and in it,
    and on PostgreSQL locks the session row (events of one session commit in id order). With a
    bearer token, the same query finds the token's holder (`TOKEN_READ_BY_VIEW`).
    """
    token = bearer_token()
    connection = db.session.connection()
    dialect = connection.dialect.name
    row = None
    if token is not None:
        if 1 <= session_id <= MAX_ID:
            digest = account_services.token_digest(token)
            row = connection.execute(_note_target_query(dialect, by_token=True),
                                     {"session_id": session_id, "digest": digest}).first()
        if row is None:  # an unknown or refused token (401), else no such session (404 below)
            _token_holder(token)
        else:
            _accept_token(row)
        writer, role = (services.Writer(row.user_id, row.name), row.role) if row is not None else (None, None)
    else:
        writer, role = current_user, current_user.role
        if 1 <= session_id <= MAX_ID:
            row = connection.execute(_note_target_query(dialect, by_token=False),
                                     {"session_id": session_id, "user_id": writer.id}).first()
    if row is None or not policy.may_observe(
            Role(role), row.role_on_team and TeamRole(row.role_on_team),
            lambda: row.moderator_id == writer.id or row.observes):
        raise NotFound(f"session {session_id} not found")
    return services.NoteTarget(session_id, row.study_id, row.started_at, row.ended_at, row.running_task_id,
                               writer)


def _token_holder(token: str) -> None:
    try:
        account_services.user_for_token(token)
    except account_services.TokenRefused as refused:
        raise refuse_token(str(refused)) from None


def _accept_token(row) -> None:
    try:
        account_services.accept_token(row.token_id, row.revoked_at, row.expires_at, row.active,
                                      row.last_used_at)
    except account_services.TokenRefused as refused:
        raise refuse_token(str(refused)) from None


@functools.cache
def _note_target_query(dialect: str, by_token: bool) -> sa.Select:
    """`note_target`'s query, built once per dialect and kind (building one costs about as much as
    running it)."""
    sessions, users, tokens = StudySession.__table__, User.__table__, ApiToken.__table__
    user_id = users.c.id if by_token else sa.bindparam("user_id")
    role_on_team, observes = policy.observing_columns(user_id, sessions.c.id, sessions.c.study_id)
    running = (sa.select(TaskAttempt.task_id)
               .where(TaskAttempt.session_id == sessions.c.id, TaskAttempt.ended_at.is_(None))
               .order_by(TaskAttempt.id.desc()).limit(1).scalar_subquery())
    columns = [sessions.c.study_id, sessions.c.started_at, sessions.c.ended_at, sessions.c.moderator_id,
               role_on_team, observes, running.label("running_task_id")]
    if by_token:
        query = (sa.select(*columns, tokens.c.id.label("token_id"), tokens.c.revoked_at, tokens.c.expires_at,
                           tokens.c.last_used_at, users.c.id.label("user_id"), users.c.name, users.c.role,
                           users.c.active)
                 .select_from(tokens.join(users, users.c.id == tokens.c.user_id)
                              .join(sessions, sessions.c.id == sa.bindparam("session_id")))
                 .where(tokens.c.token_hash == sa.bindparam("digest")))
    else:
        query = sa.select(*columns).where(sessions.c.id == sa.bindparam("session_id"))
    if dialect == "postgresql":
        query = query.with_for_update(of=sessions)
    return query


# --- the note write in one statement (PostgreSQL) -------------------------------------------------

def stored_or_target(session_id: int) -> services.StoredNote | services.NoteTarget:
    """On PostgreSQL, the note stored by one statement when everything allows it; else `note_target`.

    The statement checks what `note_target` and `services.create_note` check (the token, the
    permission, the task, the tags, the moment), locks the session row, and writes the note and its
    event, or writes nothing. Then the usual path runs and finds out why (a refused token, a hidden
    session, a resent or clashing UUID, a bad reference, a token whose use is due to be noted): every
    refusal keeps its answer, and only the common case is shortened. The body must be valid first,
    since a hidden session answers 404 before a bad body's 422.
    """
    if 1 <= session_id <= MAX_ID and db.session.get_bind().dialect.name == "postgresql":
        data = valid_body(NoteCreate)
        if data is not None:
            stored = _store_at_once(session_id, data)
            if stored is not None:
                return stored
    return note_target(session_id)


def _store_at_once(session_id: int, data: NoteCreate) -> services.StoredNote | None:
    token = bearer_token()
    by_token = token is not None
    now = utcnow()
    tag_keys = list(dict.fromkeys(tagset.name_key(tag) for tag in data.tags))
    params = {"session_id": session_id, "now": now, "elapsed_ms": data.elapsed_ms,
              "task_given": "task_id" in data.model_fields_set, "task_id": data.task_id, "tag_keys": tag_keys,
              "client_uuid": data.id, "body": data.body, "severity": data.severity, "kind": data.kind.value}
    if by_token:
        params["digest"] = account_services.token_digest(token)
        # A use due to be noted goes the usual way, which notes it (once a minute at most).
        params["used_since"] = now - timedelta(seconds=account_services.TOKEN_USE_WRITE_SECONDS)
    else:
        params["user_id"], params["role"] = current_user.id, current_user.role.value
    statement = _at_once_statement(by_token)
    bind = db.session.get_bind()
    if isinstance(bind, sa.Engine) and not db.session().in_transaction():
        # Autocommit: the statement is its own transaction, so the note costs one round trip
        # instead of three (BEGIN, the statement, COMMIT). It keeps every guarantee: a statement
        # is atomic (note and event are both stored or neither); the session row's lock is taken
        # before either id is drawn and held until the statement commits, so the session's events
        # still commit in id order; a resent UUID is still decided by the unique constraint. Once
        # it returns, the note is committed: what is left is building the answer from the values
        # written (no database), and a client that never gets it resends and is answered 200.
        with bind.connect() as connection:
            row = connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                statement, params).first()
        if row is not None:
            events.wake_now(session_id, services.redis_url())
    else:  # a request that read already (signed in by its cookie): inside its transaction
        row = db.session.connection().execute(statement, params).first()
        if row is not None:
            events.wake_after_commit(session_id, services.redis_url())
    if row is None:
        return None
    writer = services.Writer(row.user_id, row.name) if by_token else current_user
    return services.StoredNote(row.id, data.id, session_id, row.task_id, writer, data.body, list(row.tags),
                               data.severity, data.kind, row.elapsed_ms, now)


# psycopg converts a statement's placeholders once and keeps the result for statements up to this
# long (`psycopg._queries.MAX_CACHED_STATEMENT_LENGTH`); a longer one is converted at every execution,
# which cost about a third of the request's own CPU. tests/test_observe_note_cost.py holds to it.
STATEMENT_CACHE_LIMIT = 4096


@functools.cache
def _at_once_statement(by_token: bool) -> sa.Select:
    """The one statement of `stored_or_target`, built once per process (by token, by signed-in user).

    WITH target AS (`note_target`'s query, FOR UPDATE OF study_session), allowed AS (its row when
    every check passes, with the session's clock), new_note AS (INSERT INTO note SELECT ... FROM
    allowed ON CONFLICT DO NOTHING RETURNING ...), new_event AS (INSERT INTO session_event SELECT
    ... FROM new_note) SELECT ... FROM new_note.
    """
    target = _note_target_query("postgresql", by_token).cte("target")
    t = target.c
    now = sa.bindparam("now", type_=UTCDateTime)
    user_id = t.user_id if by_token else sa.bindparam("user_id", type_=sa.Integer)
    role = t.role if by_token else sa.bindparam("role", type_=sa.String)
    checks = [policy.may_observe_clause(role, t.role_on_team, sa.or_(t.moderator_id == user_id, t.observes))]
    if by_token:  # `account_services.accept_token`
        checks += [t.revoked_at.is_(None), sa.or_(t.expires_at.is_(None), t.expires_at > now), t.active,
                   t.last_used_at > sa.bindparam("used_since", type_=UTCDateTime)]
    # `services.check_note_references`: a task of the study, and tags of its set (stored as the
    # set spells them, in the order given).
    task_given = sa.bindparam("task_given", type_=sa.Boolean)
    task_id = sa.bindparam("task_id", type_=sa.Integer)
    checks.append(sa.or_(~task_given, task_id.is_(None),
                         sa.exists().where(Task.id == task_id, Task.study_id == t.study_id)))
    keys = sa.bindparam("tag_keys", type_=postgresql.ARRAY(sa.String))
    of_study = (StudyTag.study_id == t.study_id, StudyTag.name_key == sa.any_(keys))
    checks.append(sa.select(sa.func.count()).where(*of_study).scalar_subquery() == sa.func.cardinality(keys))
    tag_names = sa.select(sa.func.json_agg(postgresql.aggregate_order_by(
        StudyTag.name, sa.func.array_position(keys, StudyTag.name_key)))).where(*of_study).scalar_subquery()
    # `services.note_moment`: the session's clock in ms (0 before it starts).
    clock_ms = sa.case((t.started_at.is_(None), 0), else_=sa.cast(sa.func.greatest(0, sa.func.floor(
        sa.extract("epoch", sa.func.coalesce(t.ended_at, now) - t.started_at) * 1000)), sa.BigInteger))
    allowed = (sa.select(user_id.label("user_id"), t.running_task_id, clock_ms.label("clock_ms"),
                         sa.func.coalesce(tag_names, sa.cast(sa.literal_column("'[]'"), postgresql.JSON))
                         .label("tags"))
               .select_from(target).where(*checks).cte("allowed"))
    a = allowed.c
    # The client's moment, at most the session's clock, and refused beyond the allowed skew.
    elapsed = sa.bindparam("elapsed_ms", type_=sa.BigInteger)
    session_id = sa.bindparam("session_id", type_=sa.Integer)
    notes = Note.__table__
    columns = {
        "session_id": session_id,
        "task_id": sa.case((task_given, task_id), else_=a.running_task_id),
        "author_id": a.user_id,
        "client_uuid": sa.bindparam("client_uuid", type_=sa.Uuid),
        "body": sa.bindparam("body", type_=sa.Text),
        "tags": a.tags,
        "severity": sa.bindparam("severity", type_=sa.Integer),
        "kind": sa.bindparam("kind", type_=sa.String),
        "elapsed_ms": sa.func.least(sa.func.coalesce(elapsed, a.clock_ms), a.clock_ms),
        "created_at": now,
        "version": sa.literal(1),
    }
    rows = sa.select(*columns.values()).where(
        sa.or_(elapsed.is_(None), elapsed <= a.clock_ms + services.NOTE_CLOCK_SKEW_MS))
    new_note = (postgresql.insert(notes).from_select(list(columns), rows)
                .on_conflict_do_nothing(index_elements=[notes.c.session_id, notes.c.client_uuid])
                .returning(notes.c.id, notes.c.task_id, notes.c.tags, notes.c.elapsed_ms)
                .cte("new_note"))
    new_event = sa.insert(SessionEvent.__table__).from_select(
        ["session_id", "kind", "payload", "created_at"],
        sa.select(session_id, sa.literal("note.created"), sa.func.json_build_object("note_id", new_note.c.id),
                  now)
    ).cte("new_event")
    statement = sa.select(new_note.c.id, new_note.c.task_id, new_note.c.tags, new_note.c.elapsed_ms)
    if by_token:  # the writer as the answer shows them
        statement = statement.add_columns(t.user_id, t.name).join_from(new_note, target, sa.true())
    return statement.add_cte(new_event)


@bp.post("/sessions/<int:session_id>/notes")
@loads("session_id", stored_or_target, "target")
@spec.validate(json=NoteCreate, resp=writes({201: NoteOut, 200: NoteOut}, 404, 409), tags=TAGS)
def create_note(target: services.StoredNote | services.NoteTarget, json: NoteCreate):
    """Store a note once per client UUID: 201 when new, 200 for a resent copy, 409 for a different note."""
    if isinstance(target, services.StoredNote):  # stored by `stored_or_target`'s one statement
        return NoteOut.of(target), 201
    note, created = services.create_note(target, json)
    return NoteOut.of(note), 201 if created else 200


@bp.get("/sessions/<int:session_id>/notes")
@loads("session_id", observed_session, "study_session")
@spec.validate(query=NotesQuery, resp=reads(NoteList, 404), tags=TAGS)
def list_notes(study_session: StudySession, query: NotesQuery):
    """Every live note, or (with `after`) the notes created, changed or deleted after that cursor."""
    select = sa.select(Note).where(Note.session_id == study_session.id).options(selectinload(Note.author))
    if query.after == 0:
        cursor = events.last_event_id(db.session, study_session.id)
        notes = db.session.scalars(select.where(Note.deleted_at.is_(None)).order_by(Note.id)).all()
    else:
        ids, cursor = events.touched_note_ids(db.session, study_session.id, query.after)
        notes = db.session.scalars(select.where(Note.id.in_(ids)).order_by(Note.id)).all() if ids else []
    return NoteList(items=[NoteOut.of(note) for note in notes], cursor=cursor)


@bp.patch("/sessions/<int:session_id>/notes/<uuid:note_id>")
@loads("session_id", observed_session, "study_session")
@spec.validate(json=NoteUpdate, resp=writes(NoteOut, 403, 404, conflict=NoteConflict), tags=TAGS)
def update_note(study_session: StudySession, note_id: uuid.UUID, json: NoteUpdate):
    """Edit a note's body, tags, severity, task or kind: your own, or any note of a study you research.

    Every change is kept in the note's history (GET .../history). `version` is required: an edit based
    on an old version (e.g. replayed from an offline queue after someone else changed the note) answers
    409 with the note as it is now in `current`.
    """
    note = _editable_note(study_session, note_id)
    with showing_current(lambda: NoteOut.of(note)):
        services.update_note(note, current_user, json)
    return NoteOut.of(note)


@bp.get("/sessions/<int:session_id>/notes/<uuid:note_id>/history")
@loads("session_id", observed_session, "study_session")
@spec.validate(resp=reads(NoteHistory, 404), tags=TAGS)
def note_history(study_session: StudySession, note_id: uuid.UUID):
    """A note's changes, oldest first: who, when, and each changed field before and after."""
    note = _note(study_session, note_id)
    return NoteHistory(note_id=note.client_uuid,
                       items=[NoteRevisionOut.of(r) for r in services.note_history(note)])


@bp.delete("/sessions/<int:session_id>/notes/<uuid:note_id>")
@loads("session_id", observed_session, "study_session")
@spec.validate(resp=writes(NoteOut, 403, 404), tags=TAGS)
def delete_note(study_session: StudySession, note_id: uuid.UUID):
    """Delete your own note (soft and audited); deleting again answers the same."""
    note = services.delete_note(_own_note(study_session, note_id), current_user)
    return NoteOut.of(note)


# --- the event stream -----------------------------------------------------------------------------

def _resume_cursor(after: int) -> int:
    header = request.headers.get("Last-Event-ID")
    if header is None:
        return after
    if not header.isascii() or not header.isdigit() or int(header) > MAX_CURSOR:
        raise InvalidInput("Last-Event-ID must be an event id (a whole number)", "Last-Event-ID")
    return int(header)


@bp.get("/sessions/<int:session_id>/stream")
@loads("session_id", observed_session, "study_session")
@spec.validate(query=NotesQuery, resp=reads(None, 404), tags=TAGS, operation_id="stream_session_events")
def stream_events(study_session: StudySession, query: NotesQuery):
    """Server-Sent Events of the session after the `Last-Event-ID` header (or `after`).

    Each event has an `id:` line (the cursor) and one JSON `data:` line; see docs/api.md. The
    server ends the stream after a few minutes and the browser reconnects where it left off.
    """
    config = current_app.config
    hub = live.hub_for(db.engine, poll=float(config["OBSERVE_POLL_SECONDS"]), redis_url=config["REDIS_URL"],
                       per_user=int(config["OBSERVE_STREAMS_PER_USER"]))
    body = live.stream(hub, study_session.id, current_user, _resume_cursor(query.after),
                       heartbeat=float(config["OBSERVE_HEARTBEAT_SECONDS"]),
                       lifetime=float(config["OBSERVE_STREAM_SECONDS"]))
    # A generator, not a Response: spectree would read a Response's whole body to validate it.
    headers = {"Content-Type": "text/event-stream; charset=utf-8",
               "Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}
    return body, 200, headers


# --- session and task flow ------------------------------------------------------------------------

@bp.post("/sessions/<int:session_id>/start")
@loads("session_id", run_session, "study_session")
@spec.validate(resp=writes(SessionLiveState, 403, 404, 409), tags=TAGS)
def start_session(study_session: StudySession):
    """Start the session (refused without the participant's consent)."""
    return _state(services.start_session(study_session, current_user))


@bp.post("/sessions/<int:session_id>/end")
@loads("session_id", run_session, "study_session")
@spec.validate(resp=writes(SessionLiveState, 403, 404, 409), tags=TAGS)
def end_session(study_session: StudySession):
    """End the session; the participant's screen link stops working."""
    return _state(services.end_session(study_session, current_user))


@bp.post("/sessions/<int:session_id>/tasks/<int:task_id>/start")
@loads("session_id", run_session, "study_session")
@spec.validate(resp=writes(SessionLiveState, 403, 404, 409), tags=TAGS)
def start_task(study_session: StudySession, task_id: int):
    """Start a task of the study: one running task at a time, one attempt per task."""
    services.start_task(study_session, _task_id(task_id), current_user)
    return _state(study_session)


@bp.post("/sessions/<int:session_id>/tasks/<int:task_id>/restart")
@loads("session_id", run_session, "study_session")
@spec.validate(resp=writes(SessionLiveState, 403, 404, 409), tags=TAGS)
def restart_task(study_session: StudySession, task_id: int):
    """Start a new attempt of a task (every earlier attempt is kept); restarting the running task stops its
    attempt without an outcome. Which attempt the analysis counts: the results page states the rule."""
    services.restart_task(study_session, _task_id(task_id), current_user)
    return _state(study_session)


@bp.post("/sessions/<int:session_id>/tasks/<int:task_id>/undo")
@loads("session_id", run_session, "study_session")
@spec.validate(resp=writes(SessionLiveState, 403, 404, 409), tags=TAGS)
def undo_task_start(study_session: StudySession, task_id: int):
    """Take back the running task's start within its first seconds (409 later): the attempt is removed."""
    services.undo_task_start(study_session, _task_id(task_id), current_user)
    return _state(study_session)


@bp.post("/sessions/<int:session_id>/tasks/<int:task_id>/end")
@loads("session_id", run_session, "study_session")
@spec.validate(json=TaskEnd, resp=writes(SessionLiveState, 403, 404, 409), tags=TAGS)
def end_task(study_session: StudySession, task_id: int, json: TaskEnd):
    """End the running task with its outcome, error count and SEQ answer."""
    services.end_task(study_session, _task_id(task_id), current_user, json.outcome, json.errors or 0,
                      json.seq)
    return _state(study_session)


@bp.post("/sessions/<int:session_id>/screen")
@loads("session_id", run_session, "study_session")
@spec.validate(resp=writes(ScreenLink, 403, 404, 409), tags=TAGS)
def open_screen(study_session: StudySession):
    """The participant screen's secret link (made on first request; it dies when the session ends)."""
    token = services.ensure_screen_token(study_session)
    return ScreenLink(url=url_for("observe.screen", token=token, _external=True))


@bp.post("/sessions/<int:session_id>/screen/question")
@loads("session_id", run_session, "study_session")
@spec.validate(json=QuestionAsk, resp=writes({201: ScreenQuestionOut}, 403, 404, 409), tags=TAGS)
def ask_question(study_session: StudySession, json: QuestionAsk):
    """Put the last ended task's SEQ, or the SUS, on the participant's screen (replacing any question there).

    The participant's answer is stored where a typed one goes (the attempt's `seq`, the session's SUS
    answers). 409 while a task runs, outside a running session, or for an SEQ before any task ended.
    """
    return ScreenQuestionOut.of(questions.ask(study_session, current_user, json.kind)), 201


@bp.delete("/sessions/<int:session_id>/screen/question")
@loads("session_id", run_session, "study_session")
@spec.validate(resp=writes(ScreenQuestionOut, 403, 404, 409), tags=TAGS)
def withdraw_question(study_session: StudySession):
    """Take the question off the participant's screen (409 when none is there)."""
    return ScreenQuestionOut.of(questions.withdraw(study_session, current_user))


@bp.get("/sessions/<int:session_id>/sus")
@loads("session_id", observed_session, "study_session")
@spec.validate(resp=reads(SusResult, 404), tags=TAGS)
def get_sus(study_session: StudySession):
    """The session's SUS answers and score (404 until they are entered)."""
    response = db.session.scalar(sa.select(SusResponse).where(SusResponse.session_id == study_session.id))
    if response is None:
        raise NotFound(f"session {study_session.id} has no SUS answers yet")
    return SusResult.of(response)


@bp.post("/sessions/<int:session_id>/sus")
@loads("session_id", run_session, "study_session")
@spec.validate(json=SusAnswers, resp=writes({201: SusResult, 200: SusResult}, 403, 404, 409), tags=TAGS)
def record_sus(study_session: StudySession, json: SusAnswers):
    """Enter the ten SUS answers after the session: 201 the first time, 200 for a correction."""
    response, created = services.record_sus(study_session, json.answers, current_user)
    return SusResult.of(response), 201 if created else 200


# --- corrections of task attempts -----------------------------------------------------------------

def _attempt(study_session: StudySession, attempt_id: int) -> TaskAttempt:
    attempt = db.session.get(TaskAttempt, attempt_id) if 1 <= attempt_id <= MAX_ID else None
    if attempt is None or attempt.session_id != study_session.id:
        raise NotFound(f"task attempt {attempt_id} not found")
    return attempt


@bp.patch("/sessions/<int:session_id>/attempts/<int:attempt_id>")
@loads("session_id", run_session, "study_session")
@spec.validate(json=AttemptCorrection, resp=writes(TaskAttemptOut, 403, 404, conflict=AttemptConflict),
               tags=TAGS)
def correct_attempt(study_session: StudySession, attempt_id: int, json: AttemptCorrection):
    """Correct an ended attempt's outcome, errors, SEQ, start or end (its moderator, the study's researchers).

    Each change is kept in the attempt's history (GET .../history). An end before the start, times
    outside the session or an SEQ outside 1-7 answer 422 naming the fields, and nothing changes; a
    correction based on an old `version` answers 409 with the attempt as it is now in `current`.
    """
    attempt = _attempt(study_session, attempt_id)
    allow(policy.can_correct_attempt(current_user, attempt),
          "only the session's moderator or the study's researchers can correct a task attempt")
    with showing_current(lambda: TaskAttemptOut.of(attempt)):
        services.correct_attempt(attempt, current_user, json.changes(), json.version)
    return TaskAttemptOut.of(attempt)


@bp.get("/sessions/<int:session_id>/attempts/<int:attempt_id>/history")
@loads("session_id", observed_session, "study_session")
@spec.validate(resp=reads(AttemptHistory, 404), tags=TAGS)
def attempt_history(study_session: StudySession, attempt_id: int):
    """A task attempt's corrections, oldest first: who, when, and each changed field before and after."""
    attempt = _attempt(study_session, attempt_id)
    return AttemptHistory(attempt_id=attempt.id,
                          items=[AttemptRevision.of(r) for r in services.attempt_history(attempt)])


# --- the session's recording ----------------------------------------------------------------------

def _viewed_recording_session(session_id: int) -> StudySession:
    return load(StudySession, session_id, policy.can_view_recording, "session", options=_FOR_POLICY)


def _managed_recording_session(session_id: int) -> StudySession:
    study_session = _viewed_recording_session(session_id)
    allow(policy.can_manage_recording(current_user, study_session),
          "only the session's moderator or the study's researchers can change its recording")
    return study_session


def _recording_out(recording: SessionRecording) -> RecordingOut:
    session_id = recording.session_id
    return RecordingOut(
        session_id=session_id, kind=recording.kind, url=recording.url, offset_ms=recording.offset_ms,
        content_type=recording.content_type, size_bytes=recording.size_bytes,
        file_url=url_for("observe.recording_file", session_id=session_id) if recording.is_file else None,
        review_url=url_for("observe.review", session_id=session_id), updated_at=recording.updated_at)


def _recording_of(study_session: StudySession) -> SessionRecording:
    if study_session.recording is None:
        raise NotFound(f"session {study_session.id} has no recording")
    return study_session.recording


@bp.get("/sessions/<int:session_id>/recording")
@loads("session_id", _viewed_recording_session, "study_session")
@spec.validate(resp=reads(RecordingOut, 404), tags=TAGS)
def get_recording(study_session: StudySession):
    """The session's recording (404 when it has none): for whoever may open the session."""
    return _recording_out(_recording_of(study_session))


@bp.put("/sessions/<int:session_id>/recording")
@loads("session_id", _managed_recording_session, "study_session")
@spec.validate(json=RecordingLink, resp=writes(RecordingOut, 403, 404), tags=TAGS)
def link_recording(study_session: StudySession, json: RecordingLink):
    """Make an external recording the session's; a file it had is deleted."""
    return _recording_out(recordings.set_link(study_session, current_user, json.url, json.offset_ms))


@bp.put("/sessions/<int:session_id>/recording/file")
@large_upload("RECORDING_MAX_BYTES")
@loads("session_id", _managed_recording_session, "study_session")
@spec.validate(query=RecordingUploadQuery, resp=writes(RecordingOut, 403, 404), tags=TAGS,
               operation_id="upload_recording_file")
def upload_recording(study_session: StudySession, query: RecordingUploadQuery):
    """Upload an audio or video file as the session's recording (the body is the file; its content, not
    its Content-Type, decides what it is); replaces any recording before it."""
    limit = recordings.max_bytes()
    if request.content_length is not None and request.content_length > limit:
        raise recordings.TooLarge(f"the file is larger than the limit of {limit:,} bytes", "file")
    return _recording_out(recordings.store_file(study_session, current_user, request.stream, query.offset_ms))


@bp.put("/sessions/<int:session_id>/recording/offset")
@loads("session_id", _managed_recording_session, "study_session")
@spec.validate(json=RecordingOffset, resp=writes(RecordingOut, 403, 404), tags=TAGS)
def set_recording_offset(study_session: StudySession, json: RecordingOffset):
    """Move the session's start within its recording."""
    return _recording_out(recordings.set_offset(_recording_of(study_session), json.offset_ms))


@bp.delete("/sessions/<int:session_id>/recording")
@loads("session_id", _managed_recording_session, "study_session")
@spec.validate(resp=writes({204: None}, 403, 404), tags=TAGS)
def delete_recording(study_session: StudySession):
    """Take the recording away from the session; an uploaded file is deleted."""
    _recording_of(study_session)
    recordings.remove(study_session)
    return "", 204
