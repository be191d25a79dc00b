"""The event stream's JSON: built from plain rows, byte for byte what the note API model gives."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from usabtest.accounts.models import Role
from usabtest.db import utcnow
from usabtest.observe import events
from usabtest.observe.models import Note, NoteKind, SessionEvent
from usabtest.observe.schemas import Note as NoteOut


def _as_the_api_model_gives_it(db, event: SessionEvent) -> dict:
    """The event as a mapped object and the note's pydantic model render it (the stream's former way)."""
    payload = dict(event.payload or {})
    body = {"id": event.id, "kind": event.kind, "at": event.created_at.isoformat()}
    note_id = payload.pop("note_id", None)
    if note_id is not None:
        note = db.session.get(Note, note_id)
        if note is None:
            return {"id": event.id, "kind": "gap", "at": event.created_at.isoformat()}
        body["note"] = NoteOut.of(note).model_dump(mode="json")
    body.update(payload)
    return body


@pytest.mark.committed  # read on a connection of its own as well
def test_streamed_events_are_byte_for_byte_the_api_models_json(db, make_user, make_study, make_session,
                                                                make_note):
    author = make_user(Role.OBSERVER, name="Zoë «Observer»")
    study = make_study(tasks=1)
    study_session = make_session(study, observers=[author])
    plain = make_note(study_session, author, "Plain")
    full = make_note(study_session, author, "Tagged, \"quoted\"\nand on two lines", tags=["problem", "Quote"],
                     severity=3, task=study.tasks[0], kind=NoteKind.QUOTE, elapsed_ms=61_000)
    edited = make_note(study_session, author, "Edited")
    edited.body, edited.version, edited.edited_at = "Edited again", 2, utcnow() + timedelta(seconds=5)
    deleted = make_note(study_session, author, "Deleted", tags=["x"], severity=2)
    deleted.deleted_at = utcnow()
    gone = make_note(study_session, author, "Purged")
    for note in (plain, full, edited, deleted, gone):
        db.session.add(SessionEvent(session_id=study_session.id, kind="note.created",
                                    payload={"note_id": note.id}))
    db.session.add(SessionEvent(session_id=study_session.id, kind="note.deleted",
                                payload={"note_id": deleted.id, "by": "someone"}))
    db.session.add(SessionEvent(session_id=study_session.id, kind="task.started",
                                payload={"task_id": study.tasks[0].id, "note_id": None}))
    db.session.add(SessionEvent(session_id=study_session.id, kind="session.started", payload={}))
    db.session.commit()
    db.session.delete(gone)
    db.session.commit()

    streamed = events.read_events(db.session, study_session.id, 0)
    stored = db.session.scalars(sa.select(SessionEvent).where(SessionEvent.session_id == study_session.id)
                                .order_by(SessionEvent.id)).all()
    expected = [_as_the_api_model_gives_it(db, event) for event in stored]
    assert [events.sse_format(e) for e in streamed] == [events.sse_format(e) for e in expected]
    assert [event["kind"] for event in streamed] == ["note.created"] * 4 + [
        "gap", "note.deleted", "task.started", "session.started"]
    # Read through a plain connection too (the live watcher's way), and a page at a time.
    with db.engine.connect() as connection:
        paged = (events.read_events(connection, study_session.id, 0, limit=3)
                 + events.read_events(connection, study_session.id, stored[2].id))
    assert paged == streamed


@pytest.mark.committed
def test_several_sessions_are_read_at_once_as_each_alone(db, make_user, make_session, make_note):
    author = make_user(Role.OBSERVER)
    study_sessions = [make_session(observers=[author]) for _ in range(events.READ_MANY_SESSIONS + 2)]
    for number, study_session in enumerate(study_sessions):
        for _ in range(number % 3 + 1):
            note = make_note(study_session, author, f"Note in session {number}")
            db.session.add(SessionEvent(session_id=study_session.id, kind="note.created",
                                        payload={"note_id": note.id}))
        db.session.add(SessionEvent(session_id=study_session.id, kind="probe", payload={"n": number}))
    db.session.commit()
    cursors = {study_session.id: 0 for study_session in study_sessions}
    cursors[study_sessions[0].id] = events.last_event_id(db.session, study_sessions[0].id)  # nothing new
    queries: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "session_event" in statement:
            queries.append(statement)

    with db.engine.connect() as connection:
        sa.event.listen(connection, "before_cursor_execute", count)
        together = events.read_many(connection, cursors, limit=2)
        sa.event.remove(connection, "before_cursor_execute", count)
        alone = {sid: events.read_events(connection, sid, after, limit=2) for sid, after in cursors.items()}
    assert together == alone
    assert together[study_sessions[0].id] == [] and all(len(found) <= 2 for found in together.values())
    # PostgreSQL takes the sessions as arrays, every one in one query; elsewhere READ_MANY_SESSIONS a query.
    assert len(queries) == (1 if db.engine.dialect.name == "postgresql" else 2)
