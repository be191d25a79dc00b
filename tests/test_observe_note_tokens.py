"""The note POST finds a bearer token's holder in its own query: the same refusals and the same
permission rule as every other API request (tests/test_accounts_tokens.py for the generic path).

On PostgreSQL each test runs twice: inside the test's transaction (the note write's one statement
joins a transaction begun before it), and committed, where a request that read nothing before runs
that statement in autocommit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from usabtest.accounts import services
from usabtest.accounts.models import ApiToken, Role
from usabtest.api import observe as observe_api
from usabtest.db import utcnow
from usabtest.observe.models import Note, SessionEvent
from usabtest.planning.models import TeamRole


@pytest.fixture(autouse=True, params=[
    pytest.param("transaction", id="in-transaction"),
    *([pytest.param("autocommit", id="autocommit", marks=pytest.mark.committed)] if PG_URL else []),
])
def write_path(request) -> str:
    """How the request's note write runs (see the module's docstring)."""
    return request.param


def _post(app, session_id: int, token: str, note_id: str | None = None, body: str = "Misses the coupon",
          **fields):
    return app.test_client().post(
        f"/api/v1/sessions/{session_id}/notes", headers={"Authorization": f"Bearer {token}"},
        json={"id": note_id or str(uuid.uuid4()), "body": body, **fields})


def _token(db, user) -> str:
    value = services.issue_token(user)
    db.session.commit()
    return value


def _stored(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Note))


@pytest.fixture
def observed(db, make_user, make_session):
    """A session, one of its observers and that observer's token."""
    observer = make_user(Role.OBSERVER, name="Olga Observer")
    study_session = make_session(observers=[observer])
    return study_session, observer, _token(db, observer)


def test_observer_token_stores_the_note_with_its_event_and_notes_the_use(app, db, observed):
    study_session, observer, token = observed
    response = _post(app, study_session.id, token)
    assert response.status_code == 201
    assert response.get_json()["author"] == {"id": observer.id, "name": "Olga Observer"}
    event = db.session.scalar(sa.select(SessionEvent).where(SessionEvent.kind == "note.created"))
    note = db.session.scalar(sa.select(Note))
    assert event.payload == {"note_id": note.id} and response.get_json()["seq"] == note.id
    assert db.session.scalar(sa.select(ApiToken.last_used_at)) is not None


@pytest.mark.parametrize("spoil, reason", [
    (lambda token, user: token.__setattr__("revoked_at", utcnow()), "this token has been revoked"),
    (lambda token, user: token.__setattr__("expires_at", utcnow() - timedelta(seconds=1)),
     "this token has expired"),
    (lambda token, user: user.__setattr__("active", False), "this token's account is deactivated"),
])
def test_refused_token_answers_401_saying_why_and_stores_nothing(app, db, observed, spoil, reason):
    study_session, observer, token = observed
    spoil(db.session.scalar(sa.select(ApiToken)), observer)
    db.session.commit()
    refused = _post(app, study_session.id, token)
    assert refused.status_code == 401 and refused.is_json
    assert refused.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{reason}"')
    assert _stored(db) == 0


@pytest.mark.parametrize("session_id", [None, 999_999])
def test_unknown_token_is_401_whatever_the_session(app, db, observed, session_id):
    study_session = observed[0]
    refused = _post(app, session_id or study_session.id, "ut_not-a-token")
    assert refused.status_code == 401
    assert "unknown token" in refused.headers["WWW-Authenticate"]


def test_valid_token_to_a_missing_session_is_404(app, db, observed):
    assert _post(app, 999_999, observed[2]).status_code == 404


def test_team_member_outside_the_session_and_outsider_get_404(app, db, observed, make_user, make_member):
    study_session = observed[0]
    team_observer, outsider = make_user(Role.OBSERVER), make_user(Role.RESEARCHER)
    make_member(study_session.study, team_observer, TeamRole.OBSERVER)
    for user in (team_observer, outsider):
        assert _post(app, study_session.id, _token(db, user)).status_code == 404
    assert _stored(db) == 0


def test_researcher_of_the_study_and_admin_may_write(app, db, observed, make_user, make_member):
    study_session = observed[0]
    researcher, admin = make_user(Role.RESEARCHER), make_user(Role.ADMIN)
    make_member(study_session.study, researcher, TeamRole.RESEARCHER)
    statuses = [_post(app, study_session.id, _token(db, user)).status_code for user in (researcher, admin)]
    assert statuses == [201, 201]


def test_researcher_account_on_the_team_as_observer_needs_a_place_in_the_session(
        app, db, observed, make_user, make_member):
    study_session = observed[0]
    researcher = make_user(Role.RESEARCHER)
    make_member(study_session.study, researcher, TeamRole.OBSERVER)
    assert _post(app, study_session.id, _token(db, researcher)).status_code == 404


def test_resend_answers_200_and_a_different_body_409_storing_one_note(app, db, observed):
    study_session, _, token = observed
    note_id = str(uuid.uuid4())
    first, again = _post(app, study_session.id, token, note_id), _post(app, study_session.id, token, note_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert _post(app, study_session.id, token, note_id, body="Something else").status_code == 409
    assert _stored(db) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionEvent)) == 1


def test_a_token_names_the_writer_even_beside_a_signed_in_browser_session(db, client, login, observed,
                                                                          make_user):
    study_session, observer, token = observed
    login(make_user(Role.ADMIN))  # the client carries an admin's session cookie
    note = {"id": str(uuid.uuid4()), "body": "Written with the token"}
    headers = {"Authorization": f"Bearer {token}"}
    written = client.post(f"/api/v1/sessions/{study_session.id}/notes", json=note, headers=headers)
    assert written.status_code == 201 and written.get_json()["author"]["id"] == observer.id
    refused = client.post(f"/api/v1/sessions/{study_session.id}/notes", headers={
        "Authorization": "Bearer not-a-token"}, json={"id": str(uuid.uuid4()), "body": "Nobody's"})
    assert refused.status_code == 401 and _stored(db) == 1


def test_tags_task_and_moment_are_checked_and_stored_as_the_study_spells_them(app, db, observed, make_tag,
                                                                             make_study, monkeypatch):
    study_session, _, token = observed
    study = study_session.study
    for name in ("Navigation", "Pricing page"):
        make_tag(study, name)
    task_id = make_study(tasks=1).tasks[0].id  # another study's task
    db.session.commit()
    assert _post(app, study_session.id, token).status_code == 201  # notes the token's first use
    with monkeypatch.context() as patched:
        if PG_URL:  # the one statement stores it: the usual path is not needed
            patched.setattr(observe_api, "note_target", None)
        written = _post(app, study_session.id, token, tags=["pricing  PAGE", "navigation", "Navigation"],
                        severity=3, kind="quote", elapsed_ms=0)
    assert written.status_code == 201, written.get_json()
    note = written.get_json()
    assert (note["tags"], note["severity"], note["kind"], note["elapsed_ms"], note["task_id"]) == (
        ["Pricing page", "Navigation"], 3, "quote", 0, None)
    stored = db.session.scalar(sa.select(Note).where(Note.client_uuid == uuid.UUID(note["id"])))
    assert (stored.tags, stored.severity, stored.kind.value) == (["Pricing page", "Navigation"], 3, "quote")
    for fields, field in [({"tags": ["Navigation", "nowhere"]}, "tags"), ({"task_id": task_id}, "task_id"),
                          ({"elapsed_ms": 60_000}, "elapsed_ms")]:
        refused = _post(app, study_session.id, token, **fields)
        assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], fields
    assert _stored(db) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionEvent)) == 2


def test_a_tokens_use_is_noted_again_once_a_minute_has_passed(app, db, observed):
    study_session, _, token = observed
    assert _post(app, study_session.id, token).status_code == 201
    api_token = db.session.scalar(sa.select(ApiToken))
    long_ago = utcnow() - timedelta(seconds=services.TOKEN_USE_WRITE_SECONDS + 5)
    api_token.last_used_at = long_ago
    db.session.commit()
    assert _post(app, study_session.id, token).status_code == 201
    db.session.refresh(api_token)
    assert api_token.last_used_at > long_ago + timedelta(seconds=5)
    assert _stored(db) == 2
