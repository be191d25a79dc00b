"""The note API: idempotent creation, validation of every field, editing and soft deletion."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest.accounts.models import Role
from usabtest.core.models import AuditEvent
from usabtest.observe.models import Note, SessionEvent


@pytest.fixture
def running(db, client, login, make_user, make_session):
    """A started session with two tasks; an observer is signed in on `client`."""
    observer = make_user(Role.OBSERVER, name="Olga Observer")
    study_session = make_session(observers=[observer])
    login(study_session.moderator)
    assert client.post(f"/api/v1/sessions/{study_session.id}/start").status_code == 200
    login(observer)
    return study_session, observer


def _post(client, study_session, **fields):
    payload = {"id": str(uuid.uuid4()), "body": "Hesitates at the shipping step", **fields}
    return client.post(f"/api/v1/sessions/{study_session.id}/notes", json=payload), payload


def _notes(db):
    return db.session.scalars(sa.select(Note)).all()


def test_note_is_created_with_server_elapsed_time_and_event(db, client, running):
    study_session, observer = running
    response, payload = _post(client, study_session, tags=["problem", "quote"], severity=3)
    assert response.status_code == 201
    data = response.get_json()
    assert data["id"] == payload["id"]
    assert data["author"] == {"id": observer.id, "name": "Olga Observer"}
    assert data["tags"] == ["problem", "quote"] and data["severity"] == 3
    assert data["elapsed_ms"] >= 0 and data["task_id"] is None
    note = _notes(db)[0]
    event = db.session.scalars(sa.select(SessionEvent).where(SessionEvent.kind == "note.created")).one()
    assert event.payload == {"note_id": note.id}


def test_note_is_attached_to_the_running_task_when_task_omitted(db, client, login, running):
    study_session, observer = running
    task = study_session.study.tasks[1]
    login(study_session.moderator)
    client.post(f"/api/v1/sessions/{study_session.id}/tasks/{task.id}/start")
    login(observer)
    assert _post(client, study_session)[0].get_json()["task_id"] == task.id
    # An explicit null means "no task", e.g. a note typed before the task began and sent late.
    assert _post(client, study_session, task_id=None)[0].get_json()["task_id"] is None


def test_client_elapsed_time_and_task_are_kept(db, client, running):
    study_session, _ = running
    study_session.started_at -= timedelta(minutes=2)
    db.session.commit()
    task = study_session.study.tasks[0]
    data = _post(client, study_session, elapsed_ms=65_000, task_id=task.id)[0].get_json()
    assert data["elapsed_ms"] == 65_000 and data["task_id"] == task.id


def test_a_client_moment_after_the_sessions_clock_is_refused_and_nothing_is_stored(db, client, running):
    study_session, _ = running
    study_session.started_at -= timedelta(minutes=2)
    db.session.commit()
    response, _ = _post(client, study_session, elapsed_ms=10 * 60_000)
    assert response.status_code == 422
    assert "elapsed_ms" in response.get_json()["error"]["fields"]
    assert _notes(db) == []


def test_a_client_moment_a_little_ahead_of_the_sessions_clock_counts_as_now(db, client, running):
    study_session, _ = running
    study_session.started_at -= timedelta(minutes=2)
    db.session.commit()
    data = _post(client, study_session, elapsed_ms=120_000 + 5_000)[0].get_json()
    assert 119_000 <= data["elapsed_ms"] < 125_000


def test_a_note_before_the_session_starts_cannot_claim_a_later_moment(db, client, login, make_user,
                                                                     make_session):
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    login(observer)
    assert _post(client, study_session, elapsed_ms=60_000)[0].status_code == 422
    assert _post(client, study_session, elapsed_ms=0)[0].status_code == 201


def test_replay_returns_stored_note_and_different_body_conflicts(db, client, running):
    study_session, _ = running
    first, payload = _post(client, study_session)
    again = client.post(f"/api/v1/sessions/{study_session.id}/notes", json=payload)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    clash = client.post(f"/api/v1/sessions/{study_session.id}/notes", json={**payload, "body": "Other"})
    assert clash.status_code == 409
    assert "id" in clash.get_json()["error"]["fields"]
    assert len(_notes(db)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionEvent).where(
        SessionEvent.kind == "note.created")) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"body": None}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"body": 12}, "body"),
        ({"id": "not-a-uuid"}, "id"),
        ({"id": None}, "id"),
        ({"id": 5}, "id"),
        ({"severity": 5}, "severity"),
        ({"severity": -1}, "severity"),
        ({"severity": "3"}, "severity"),
        ({"severity": True}, "severity"),
        ({"task_id": 999_999}, "task_id"),
        ({"task_id": "1"}, "task_id"),
        ({"tags": "problem"}, "tags"),
        ({"tags": ["problem", 3]}, "tags"),
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"elapsed_ms": -5}, "elapsed_ms"),
        ({"elapsed_ms": 1.5}, "elapsed_ms"),
    ],
)
def test_bad_note_field_is_refused_naming_it(db, client, running, fields, field):
    study_session, _ = running
    response, _ = _post(client, study_session, **fields)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert field in {path.split(".")[0] for path in error["fields"]} and error["message"]
    assert _notes(db) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionEvent).where(
        SessionEvent.kind.like("note.%"))) == 0


def test_body_of_exactly_ten_thousand_characters_is_accepted(client, running):
    study_session, _ = running
    assert _post(client, study_session, body="y" * 10_000)[0].status_code == 201


def test_task_of_another_study_is_refused(db, client, running, make_study):
    study_session, _ = running
    other = make_study(tasks=1)
    response, _ = _post(client, study_session, task_id=other.tasks[0].id)
    assert response.status_code == 422
    assert "task_id" in response.get_json()["error"]["fields"]


def test_study_custom_tags_are_accepted(db, client, running, make_tag):
    study_session, _ = running
    make_tag(study_session.study, "Navigation")
    response = _post(client, study_session, tags=["navigation", "PROBLEM"])[0]
    assert response.status_code == 201
    assert response.get_json()["tags"] == ["Navigation", "problem"]  # spelt as the study's set spells them


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", ""])
def test_malformed_json_is_a_400(db, client, running, raw):
    study_session, _ = running
    response = client.post(f"/api/v1/sessions/{study_session.id}/notes", data=raw,
                           content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]["message"]
    assert _notes(db) == []


def test_author_edits_own_note_and_old_text_is_audited(db, client, running):
    study_session, _ = running
    created, payload = _post(client, study_session)
    url = f"/api/v1/sessions/{study_session.id}/notes/{payload['id']}"
    assert created.get_json()["version"] == 1
    response = client.patch(url, json={"version": 1, "body": "Hesitates, then finds it", "severity": 1})
    assert response.status_code == 200
    data = response.get_json()
    assert data["body"] == "Hesitates, then finds it" and data["severity"] == 1 and data["edited_at"]
    assert data["version"] == 2
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "note.edit")).one()
    assert audit.details["before"]["body"] == payload["body"]
    assert client.patch(url, json={}).status_code == 422
    assert client.patch(url, json={"version": 2}).status_code == 422  # nothing to change
    assert "version" in client.patch(url, json={"body": "no version"}).get_json()["error"]["fields"]
    assert "severity" in client.patch(url, json={"version": 2, "severity": 9}).get_json()["error"]["fields"]


def test_delete_is_soft_audited_idempotent_and_hidden_from_list(db, client, running):
    study_session, _ = running
    _, payload = _post(client, study_session)
    url = f"/api/v1/sessions/{study_session.id}/notes/{payload['id']}"
    first = client.delete(url)
    assert first.status_code == 200 and first.get_json()["deleted"] is True
    assert first.get_json()["body"] == ""
    assert client.delete(url).status_code == 200
    note = _notes(db)[0]
    assert note.deleted_at is not None and note.body == payload["body"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "note.delete")) == 1
    assert client.get(f"/api/v1/sessions/{study_session.id}/notes").get_json()["items"] == []
    assert client.patch(url, json={"version": 1, "body": "again"}).status_code == 409


def test_other_observer_cannot_edit_or_delete_a_note(db, client, login, running, make_user, make_member):
    study_session, _ = running
    _, payload = _post(client, study_session)
    colleague = make_user(Role.OBSERVER)
    make_member(study_session.study, colleague)
    study_session.observers.append(colleague)
    db.session.commit()
    login(colleague)
    url = f"/api/v1/sessions/{study_session.id}/notes/{payload['id']}"
    assert client.patch(url, json={"version": 1, "body": "mine now"}).status_code == 403
    assert client.delete(url).status_code == 403
    assert client.delete(f"/api/v1/sessions/{study_session.id}/notes/{uuid.uuid4()}").status_code == 404
    assert client.delete(f"/api/v1/sessions/{study_session.id}/notes/garbage").status_code == 404


def test_list_after_cursor_returns_only_changed_notes(db, client, running):
    study_session, _ = running
    _, first = _post(client, study_session, body="first")
    listing = client.get(f"/api/v1/sessions/{study_session.id}/notes").get_json()
    assert [n["body"] for n in listing["items"]] == ["first"]
    cursor = listing["cursor"]
    _post(client, study_session, body="second")
    client.delete(f"/api/v1/sessions/{study_session.id}/notes/{first['id']}")
    later = client.get(f"/api/v1/sessions/{study_session.id}/notes?after={cursor}").get_json()
    assert {(n["body"], n["deleted"]) for n in later["items"]} == {("", True), ("second", False)}
    assert later["cursor"] > cursor
    bad_cursor = client.get(f"/api/v1/sessions/{study_session.id}/notes?after=x")
    assert bad_cursor.status_code == 422 and "after" in bad_cursor.get_json()["error"]["fields"]


def test_bearer_token_writes_need_no_csrf(db, app, make_user, make_session):
    from usabtest.accounts.services import issue_token

    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    token = issue_token(observer)
    db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = True
    response = app.test_client().post(
        f"/api/v1/sessions/{study_session.id}/notes", headers={"Authorization": f"Bearer {token}"},
        json={"id": str(uuid.uuid4()), "body": "via token"})
    assert response.status_code == 201


@pytest.mark.csrf
def test_cookie_write_without_csrf_token_is_refused_and_csrf_endpoint_helps(db, client, login,
                                                                             make_user, make_session):
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    client.post("/login", data={"email": observer.email, "password": "correct-horse-battery",
                                "csrf_token": token})
    url = f"/api/v1/sessions/{study_session.id}/notes"
    refused = client.post(url, json={"id": str(uuid.uuid4()), "body": "x"})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]["message"]
    fresh = client.get("/api/v1/csrf").get_json()["csrf_token"]
    accepted = client.post(url, json={"id": str(uuid.uuid4()), "body": "x"}, headers={"X-CSRFToken": fresh})
    assert accepted.status_code == 201


def test_csrf_endpoint_answers_401_when_signed_out(client):
    response = client.get("/api/v1/csrf")
    assert response.status_code == 401
    assert response.get_json()["error"]["message"]
