"""JSON API of the live console: notes, the event stream, session and task flow, SUS answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Response, current_app, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from usabtest import policy
from usabtest.api import ApiError, api_login_required, bp, get_or_404, json_body, require_api
from usabtest.extensions import db
from usabtest.observe import events, services
from usabtest.observe.events import note_json
from usabtest.observe.models import Note, SusResponse
from usabtest.planning.models import StudySession


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn a service's refusal into a JSON error, leaving nothing half-written."""
    try:
        yield
    except services.ObserveError as exc:
        db.session.rollback()
        raise ApiError(exc.status, exc.message, exc.field) from None


def _visible_session(session_id: int) -> StudySession:
    study_session = get_or_404(StudySession, session_id, f"session {session_id} not found")
    require_api(policy.can_observe_session(current_user, study_session), f"session {session_id}")
    return study_session


def _runnable_session(session_id: int) -> StudySession:
    study_session = _visible_session(session_id)
    if not policy.can_run_session(current_user, study_session):
        raise ApiError(403, "only the session's moderator or the study's researchers can do this")
    return study_session


def _cursor(value: str | None, name: str) -> int:
    if value in (None, ""):
        return 0
    if not value.isdigit():
        raise ApiError(400, f"{name} must be a whole number (an event id)", name)
    return int(value)


@bp.get("/csrf")
@api_login_required
def csrf_token():
    """A fresh CSRF token for cookie-authenticated writes (also tells a page it is still signed in)."""
    return jsonify(csrf_token=generate_csrf())


@bp.post("/sessions/<int:session_id>/notes")
@api_login_required
def create_note(session_id: int):
    """Store a note once per client UUID: 201 when new, 200 for a replay, 409 for a clash."""
    study_session = _visible_session(session_id)
    data = json_body()
    with _refusals():
        client_uuid = services.parse_uuid(data.get("id"))
        fields = services.parse_note(data, study_session.study)
        try:
            note, created = services.create_note(study_session, current_user, client_uuid, fields)
            db.session.commit()
        except IntegrityError:
            # Two copies raced past the lock-free path; the loser answers from the stored note.
            db.session.rollback()
            note = services.find_note(study_session, client_uuid)
            if note is None:
                raise
            services.check_replay(note, current_user, fields.body)
            created = False
    return jsonify(note_json(note)), 201 if created else 200


@bp.get("/sessions/<int:session_id>/notes")
@api_login_required
def list_notes(session_id: int):
    """All live notes, or (with `after`) the notes created or changed after that event cursor."""
    study_session = _visible_session(session_id)
    after = _cursor(request.args.get("after"), "after")
    query = sa.select(Note).where(Note.session_id == study_session.id).options(selectinload(Note.author))
    if after == 0:
        cursor = events.last_event_id(db.session, study_session.id)
        notes = db.session.scalars(query.where(Note.deleted_at.is_(None)).order_by(Note.id)).all()
    else:
        ids, cursor = events.touched_note_ids(db.session, study_session.id, after)
        notes = db.session.scalars(query.where(Note.id.in_(ids)).order_by(Note.id)).all() if ids else []
    return jsonify(items=[note_json(note) for note in notes], cursor=cursor)


def _own_note(study_session: StudySession, note_uuid: str) -> Note:
    try:
        client_uuid = uuid.UUID(note_uuid)
    except ValueError:
        raise ApiError(404, "note not found") from None
    note = services.find_note(study_session, client_uuid)
    require_api(note is not None, "note")
    if not policy.can_edit_note(current_user, note):
        raise ApiError(403, "only the note's author can change or delete it")
    return note


@bp.patch("/sessions/<int:session_id>/notes/<note_uuid>")
@api_login_required
def update_note(session_id: int, note_uuid: str):
    """Edit your own note's body, tags, severity or task."""
    study_session = _visible_session(session_id)
    note = _own_note(study_session, note_uuid)
    data = json_body()
    with _refusals():
        fields = services.parse_note(data, study_session.study, require_body=False)
        if fields.is_empty():
            raise services.ObserveError("send at least one of body, tags, severity, task_id", "body")
        services.update_note(note, current_user, fields)
        db.session.commit()
    return jsonify(note_json(note))


@bp.delete("/sessions/<int:session_id>/notes/<note_uuid>")
@api_login_required
def delete_note(session_id: int, note_uuid: str):
    """Delete your own note (soft and audited); deleting again answers the same."""
    study_session = _visible_session(session_id)
    note = _own_note(study_session, note_uuid)
    with _refusals():
        services.delete_note(note, current_user)
        db.session.commit()
    return jsonify(note_json(note))


@bp.get("/sessions/<int:session_id>/stream")
@api_login_required
def stream(session_id: int):
    """Server-Sent Events of the session after `Last-Event-ID` (or `?after=`), read from the database."""
    study_session = _visible_session(session_id)
    header = request.headers.get("Last-Event-ID")
    after = _cursor(header, "Last-Event-ID") if header else _cursor(request.args.get("after"), "after")
    config = current_app.config
    body = events.stream(
        db.engine, study_session.id, after,
        poll=float(config["OBSERVE_POLL_SECONDS"]),
        heartbeat=float(config["OBSERVE_HEARTBEAT_SECONDS"]),
        lifetime=float(config["OBSERVE_STREAM_SECONDS"]),
        redis_url=config["REDIS_URL"],
    )
    headers = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}
    return Response(body, mimetype="text/event-stream", headers=headers)


@bp.post("/sessions/<int:session_id>/start")
@api_login_required
def start_session(session_id: int):
    """Start the session (refused without the participant's consent)."""
    study_session = _runnable_session(session_id)
    with _refusals():
        study_session = services.start_session(study_session, current_user)
        db.session.commit()
    return jsonify(_state(study_session))


@bp.post("/sessions/<int:session_id>/end")
@api_login_required
def end_session(session_id: int):
    """End the session; the participant's screen link stops working."""
    study_session = _runnable_session(session_id)
    with _refusals():
        study_session = services.end_session(study_session, current_user)
        db.session.commit()
    return jsonify(_state(study_session))


@bp.post("/sessions/<int:session_id>/tasks/<int:task_id>/start")
@api_login_required
def start_task(session_id: int, task_id: int):
    """Start a task of the study in this session."""
    study_session = _runnable_session(session_id)
    with _refusals():
        services.start_task(study_session, task_id, current_user)
        db.session.commit()
    return jsonify(_state(study_session))


@bp.post("/sessions/<int:session_id>/tasks/<int:task_id>/end")
@api_login_required
def end_task(session_id: int, task_id: int):
    """End the running task with `outcome`, `errors` and `seq`."""
    study_session = _runnable_session(session_id)
    data = json_body()
    with _refusals():
        outcome, errors, seq = services.parse_task_end(data)
        services.end_task(study_session, task_id, current_user, outcome, errors, seq)
        db.session.commit()
    return jsonify(_state(study_session))


@bp.post("/sessions/<int:session_id>/screen")
@api_login_required
def open_screen(session_id: int):
    """The participant screen's secret link (made on first request; it dies when the session ends)."""
    study_session = _runnable_session(session_id)
    with _refusals():
        token = services.ensure_screen_token(study_session)
        db.session.commit()
    return jsonify(url=url_for("observe.screen", token=token, _external=True))


@bp.get("/sessions/<int:session_id>/sus")
@api_login_required
def get_sus(session_id: int):
    """The session's SUS answers and score."""
    study_session = _visible_session(session_id)
    response = db.session.scalar(sa.select(SusResponse).where(SusResponse.session_id == study_session.id))
    require_api(response is not None, "SUS answers")
    return jsonify(services.sus_json(response))


@bp.post("/sessions/<int:session_id>/sus")
@api_login_required
def record_sus(session_id: int):
    """Enter the ten SUS answers (1-5) after the session; 201 first time, 200 for a correction."""
    study_session = _runnable_session(session_id)
    data = json_body()
    with _refusals():
        response, created = services.record_sus(study_session, data.get("answers"), current_user)
        db.session.commit()
    return jsonify(services.sus_json(response)), 201 if created else 200


def _state(study_session: StudySession) -> dict:
    db.session.refresh(study_session)
    return services.session_state_json(study_session)
