"""Session and task flow, SUS answers, the event stream and who may use each console endpoint."""

import json
import uuid

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest.accounts.models import Role
from usabtest.observe.models import SessionEvent, SusResponse, TaskAttempt
from usabtest.planning.models import SessionStatus

SUS = [4, 2, 4, 1, 5, 2, 4, 2, 4, 1]


def _events(db):
    return [e.kind for e in db.session.scalars(sa.select(SessionEvent).order_by(SessionEvent.id))]


def _sse(response) -> list[dict]:
    text = response.get_data(as_text=True)
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_start_refused_without_consent(db, client, login, make_study, make_participant, make_session):
    study = make_study(tasks=1)
    study_session = make_session(study=study, participant=make_participant(study, consented=False))
    login(study.owner)
    response = client.post(f"/api/v1/sessions/{study_session.id}/start")
    assert response.status_code == 409
    assert "consent" in response.get_json()["error"]["message"]
    db.session.refresh(study_session)
    assert study_session.status == SessionStatus.SCHEDULED and study_session.started_at is None
    assert _events(db) == []


def test_full_session_flow_records_attempts_events_and_sus(db, client, login, make_session):
    study_session = make_session()
    first, second = study_session.study.tasks
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    started = client.post(f"{base}/start").get_json()
    assert started["status"] == "in_progress" and started["started_at"]
    assert client.post(f"{base}/start").status_code == 409
    assert client.post(f"{base}/sus", json={"answers": SUS}).status_code == 409
    state = client.post(f"{base}/tasks/{first.id}/start").get_json()
    assert state["current_task_id"] == first.id
    assert client.post(f"{base}/tasks/{second.id}/start").status_code == 409  # one at a time
    assert client.post(f"{base}/end").status_code == 409  # task still running
    ended = client.post(f"{base}/tasks/{first.id}/end", json={"outcome": "assisted", "errors": 2, "seq": 5})
    assert ended.status_code == 200 and ended.get_json()["current_task_id"] is None
    assert client.post(f"{base}/tasks/{first.id}/start").status_code == 409  # already attempted
    client.post(f"{base}/tasks/{second.id}/start")
    client.post(f"{base}/tasks/{second.id}/end", json={"outcome": "skipped", "seq": None})
    assert client.post(f"{base}/end").get_json()["status"] == "completed"
    created = client.post(f"{base}/sus", json={"answers": SUS})
    assert created.status_code == 201 and created.get_json()["score"] == 82.5
    corrected = client.post(f"{base}/sus", json={"answers": [3] * 10})
    assert corrected.status_code == 200 and corrected.get_json()["score"] == 50.0
    assert client.get(f"{base}/sus").get_json()["answers"] == [3] * 10
    attempt = db.session.scalars(sa.select(TaskAttempt).where(TaskAttempt.task_id == first.id)).one()
    assert (attempt.outcome.value, attempt.error_count, attempt.seq) == ("assisted", 2, 5)
    assert _events(db) == [
        "session.started",
        "task.started",
        "task.ended",
        "task.started",
        "task.ended",
        "session.ended",
        "sus.recorded",
        "sus.recorded",
    ]
    db.session.refresh(study_session)
    assert study_session.screen_token is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "outcome"),
        ({"outcome": "great"}, "outcome"),
        ({"outcome": "success", "errors": -1}, "errors"),
        ({"outcome": "success", "errors": "2"}, "errors"),
        ({"outcome": "success", "seq": 0}, "seq"),
        ({"outcome": "success", "seq": 8}, "seq"),
        ({"outcome": "success", "seq": 4.5}, "seq"),
    ],
)
def test_bad_task_end_is_refused_naming_the_field(db, client, login, make_session, body, field):
    study_session = make_session()
    task = study_session.study.tasks[0]
    login(study_session.moderator)
    client.post(f"/api/v1/sessions/{study_session.id}/start")
    client.post(f"/api/v1/sessions/{study_session.id}/tasks/{task.id}/start")
    response = client.post(f"/api/v1/sessions/{study_session.id}/tasks/{task.id}/end", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    attempt = db.session.scalars(sa.select(TaskAttempt)).one()
    assert attempt.ended_at is None


def test_unknown_or_foreign_task_is_404(db, client, login, make_session, make_study):
    study_session = make_session()
    foreign = make_study(tasks=1).tasks[0]
    login(study_session.moderator)
    client.post(f"/api/v1/sessions/{study_session.id}/start")
    for task_id in (foreign.id, 999_999):
        response = client.post(f"/api/v1/sessions/{study_session.id}/tasks/{task_id}/start")
        assert response.status_code == 404 and "task_id" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "answers", [None, [], [3] * 9, [3] * 11, [3] * 9 + [6], [3] * 9 + [0], [3] * 9 + ["3"], [3] * 9 + [None]]
)
def test_bad_sus_answers_are_refused(db, client, login, make_session, answers):
    study_session = make_session()
    login(study_session.moderator)
    client.post(f"/api/v1/sessions/{study_session.id}/start")
    client.post(f"/api/v1/sessions/{study_session.id}/end")
    response = client.post(f"/api/v1/sessions/{study_session.id}/sus", json={"answers": answers})
    assert response.status_code == 422
    assert {path.split(".")[0] for path in response.get_json()["error"]["fields"]} == {"answers"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SusResponse)) == 0


@pytest.mark.committed  # the stream reads through its own connection
@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.3, OBSERVE_POLL_SECONDS=0.05)
def test_stream_sends_events_with_ids_and_resumes_after_last_event_id(db, client, login, make_session):
    study_session = make_session()
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    client.post(f"{base}/start")
    client.post(f"{base}/notes", json={"id": str(uuid.uuid4()), "body": "first"})
    client.post(f"{base}/notes", json={"id": str(uuid.uuid4()), "body": "second"})
    response = client.get(f"{base}/stream")
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"].startswith("no-cache")
    events = _sse(response)
    assert [e["kind"] for e in events] == ["session.started", "note.created", "note.created"]
    assert events[1]["note"]["body"] == "first"
    assert f"id: {events[2]['id']}" in response.get_data(as_text=True)
    resumed = _sse(client.get(f"{base}/stream", headers={"Last-Event-ID": str(events[1]["id"])}))
    assert [e["note"]["body"] for e in resumed] == ["second"]
    assert _sse(client.get(f"{base}/stream?after={events[2]['id']}")) == []
    assert client.get(f"{base}/stream?after=abc").status_code == 422
    assert client.get(f"{base}/stream", headers={"Last-Event-ID": "x"}).status_code == 422


@pytest.mark.committed  # the stream reads through its own connection
@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.3, OBSERVE_POLL_SECONDS=0.05, OBSERVE_HEARTBEAT_SECONDS=0.1)
def test_stream_sends_heartbeats_and_shows_deleted_notes_without_text(db, client, login, make_session):
    study_session = make_session()
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    note_id = str(uuid.uuid4())
    client.post(f"{base}/notes", json={"id": note_id, "body": "private slip"})
    client.delete(f"{base}/notes/{note_id}")
    response = client.get(f"{base}/stream")
    text = response.get_data(as_text=True)
    assert ": keep-alive" in text and "private slip" not in text
    assert [e["kind"] for e in _sse(response)] == ["note.created", "note.deleted"]


# --- who may do what -------------------------------------------------------------------------

READS = [("get", "/notes"), ("get", "/stream")]
NOTE_WRITE = [("post", "/notes")]
RUNS = [
    ("post", "/start"),
    ("post", "/end"),
    ("post", "/tasks/{task}/start"),
    ("post", "/tasks/{task}/end"),
    ("post", "/sus"),
    ("post", "/screen"),
]


@pytest.fixture
def cast(db, make_user, make_session, make_org, make_member):
    """A session and one user of every relationship to it."""
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    teammate = make_user(Role.RESEARCHER)
    make_member(study_session.study, teammate)
    return study_session, {
        "moderator": study_session.moderator,
        "teammate": teammate,
        "admin": make_user(Role.ADMIN),
        "observer": observer,
        "other_observer": make_user(Role.OBSERVER),
        "other_researcher": make_user(Role.RESEARCHER),
        "client": make_user(Role.CLIENT, organisation=study_session.study.organisation),
    }


def _call(client, study_session, method, path):
    url = f"/api/v1/sessions/{study_session.id}" + path.format(task=study_session.study.tasks[0].id)
    body = {"id": str(uuid.uuid4()), "body": "x"} if path == "/notes" else {}
    return getattr(client, method)(url, json=body) if method == "post" else client.get(url + "?after=999999")


@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.05)
@pytest.mark.parametrize(
    ("who", "read", "write", "run"),
    [
        ("moderator", 200, 201, "ok"),
        ("teammate", 200, 201, "ok"),
        ("admin", 200, 201, "ok"),
        ("observer", 200, 201, 403),
        ("other_observer", 404, 404, 404),
        ("other_researcher", 404, 404, 404),
        ("client", 404, 404, 404),
    ],
)
def test_endpoint_permissions(db, client, login, cast, who, read, write, run):
    study_session, users = cast
    login(users[who])
    for method, path in READS:
        assert _call(client, study_session, method, path).status_code == read, path
    for method, path in NOTE_WRITE:
        assert _call(client, study_session, method, path).status_code == write, path
    for method, path in RUNS:
        status = _call(client, study_session, method, path).status_code
        # Allowed users reach the flow rules (a success, or 409/422 in this order of calls); never a
        # permission answer, and never a server error.
        assert status in ((200, 201, 409, 422) if run == "ok" else (run,)), (path, status)


def test_signed_out_api_calls_get_401(db, client, cast):
    study_session, _ = cast
    for method, path in READS + NOTE_WRITE + RUNS:
        response = _call(client, study_session, method, path)
        assert response.status_code in (400, 401), path  # 400 only for the missing CSRF token
    assert client.get(f"/api/v1/sessions/{study_session.id}/notes").status_code == 401
    assert client.get(f"/api/v1/sessions/{study_session.id}/stream").status_code == 401


def test_unknown_session_is_404(db, client, login, make_user):
    login(make_user(Role.ADMIN))
    assert client.get("/api/v1/sessions/424242/notes").status_code == 404
    assert client.post("/api/v1/sessions/424242/start").status_code == 404


def test_openapi_documents_every_console_endpoint(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, method in [
        ("/sessions/{session_id}/notes", "post"),
        ("/sessions/{session_id}/notes", "get"),
        ("/sessions/{session_id}/notes/{note_id}", "patch"),
        ("/sessions/{session_id}/notes/{note_id}", "delete"),
        ("/sessions/{session_id}/stream", "get"),
        ("/sessions/{session_id}/start", "post"),
        ("/sessions/{session_id}/end", "post"),
        ("/sessions/{session_id}/tasks/{task_id}/start", "post"),
        ("/sessions/{session_id}/tasks/{task_id}/end", "post"),
        ("/sessions/{session_id}/sus", "post"),
        ("/sessions/{session_id}/sus", "get"),
        ("/sessions/{session_id}/screen", "post"),
        ("/csrf", "get"),
    ]:
        operation = doc["paths"]["/api/v1" + path][method]
        assert operation["responses"], (path, method)
    stream = doc["paths"]["/api/v1/sessions/{session_id}/stream"]["get"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"]
    schema = doc["components"]["schemas"]["NoteCreate"]
    assert schema["properties"]["body"]["maxLength"] == 10_000
    assert {"minimum": 0, "maximum": 4}.items() <= schema["properties"]["severity"]["anyOf"][0].items()
