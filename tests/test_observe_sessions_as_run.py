"""Sessions as they really happen: walk-ins started now, early ends freeing their slot, closed screens."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest.accounts.models import Role
from usabtest.db import utcnow
from usabtest.planning import scheduling, services
from usabtest.planning.models import SessionStatus, StudySession

WHERE = {"location": "Lab 2"}


def _count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(StudySession))


def test_walk_in_through_the_api_starts_now_and_can_be_run(db, client, login, make_study, make_participant):
    study = make_study(tasks=1)
    participant = make_participant(study)
    login(study.owner)
    response = client.post(f"/api/v1/studies/{study.id}/sessions/walk-in",
                           json={"participant": participant.id, "duration_min": 45, **WHERE})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    stored = db.session.get(StudySession, body["id"])
    assert abs((stored.starts_at - utcnow()).total_seconds()) < 5
    assert (stored.status, stored.moderator_id) == (SessionStatus.SCHEDULED, study.owner_id)
    assert stored.duration_min == 45
    assert client.post(f"/api/v1/sessions/{stored.id}/start").status_code == 200


def test_walk_in_is_refused_when_the_moderator_is_busy_now(db, client, login, make_study, make_participant,
                                                           make_session):
    study = make_study(tasks=1)
    make_session(study=study, starts_at=utcnow() - timedelta(minutes=20), duration_min=60)
    login(study.owner)
    before = _count(db)
    response = client.post(f"/api/v1/studies/{study.id}/sessions/walk-in",
                           json={"participant": make_participant(study).id, **WHERE})
    assert response.status_code == 409
    assert "already moderating" in response.get_json()["error"]["message"]
    assert _count(db) == before


def test_a_session_that_ended_early_frees_the_rest_of_its_slot(db, client, login, make_study,
                                                               make_participant, make_session):
    study = make_study(tasks=1)
    earlier = make_session(study=study, starts_at=utcnow() - timedelta(minutes=30), duration_min=120,
                           status=SessionStatus.IN_PROGRESS, started_at=utcnow() - timedelta(minutes=30))
    login(study.owner)
    walk_in = {"participant": make_participant(study).id, **WHERE}
    url = f"/api/v1/studies/{study.id}/sessions/walk-in"
    assert client.post(url, json=walk_in).status_code == 409  # still running: its slot holds
    earlier.status, earlier.ended_at = SessionStatus.COMPLETED, utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert client.post(url, json=walk_in).status_code == 201


def test_an_ended_slot_occupies_only_the_time_it_ran():
    now = utcnow()
    ended = scheduling.Slot(1, now - timedelta(hours=1), 120, {"user:1": "moderator"},
                            ended_at=now - timedelta(minutes=10))
    later = scheduling.Slot(None, now, 30, {"user:1": "moderator"})
    assert ended.ends_at == now - timedelta(minutes=10)
    assert scheduling.find_clashes(later, [ended]) == []
    planned = scheduling.Slot(1, now - timedelta(hours=1), 120, {"user:1": "moderator"})
    assert len(scheduling.find_clashes(later, [planned])) == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"participant": 999_999}, "participant"),
    ({"duration_min": 2}, "duration_min"),
    ({"location": ""}, "location"),
    ({"day": "2030-01-01"}, "day"),
])
def test_bad_walk_in_is_refused_and_nothing_is_booked(db, client, login, make_study, make_participant,
                                                      change, field):
    study = make_study(tasks=1)
    login(study.owner)
    response = client.post(f"/api/v1/studies/{study.id}/sessions/walk-in",
                           json={"participant": make_participant(study).id, **WHERE, **change})
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    assert _count(db) == 0


def test_walk_in_page_books_the_session_and_opens_its_console(db, client, login, make_study,
                                                              make_participant):
    study = make_study(tasks=1)
    participant = make_participant(study)
    login(study.owner)
    overview = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert f"/studies/{study.id}/sessions/walk-in" in overview
    assert client.get(f"/studies/{study.id}/sessions/walk-in").status_code == 200
    response = client.post(f"/studies/{study.id}/sessions/walk-in", data={
        "participant": participant.id, "duration_min": 30, "moderator": study.owner_id, **WHERE})
    assert response.status_code == 302
    stored = db.session.scalars(sa.select(StudySession)).one()
    assert response.headers["Location"].endswith(f"/sessions/{stored.id}/observe")


def test_walk_in_page_names_the_clash(db, client, login, make_study, make_participant, make_session):
    study = make_study(tasks=1)
    make_session(study=study, starts_at=utcnow() - timedelta(minutes=5))
    login(study.owner)
    response = client.post(f"/studies/{study.id}/sessions/walk-in", data={
        "participant": make_participant(study).id, "duration_min": 30, "moderator": study.owner_id, **WHERE})
    assert response.status_code == 409
    assert "already moderating" in response.get_data(as_text=True)
    assert _count(db) == 1


def test_observer_cannot_start_a_walk_in(db, client, login, make_user, make_study, make_member,
                                         make_participant):
    observer = make_user(Role.OBSERVER)
    study = make_study(tasks=1)
    make_member(study, observer, "observer")
    login(observer)
    assert client.get(f"/studies/{study.id}/sessions/walk-in").status_code == 403
    response = client.post(f"/api/v1/studies/{study.id}/sessions/walk-in",
                           json={"participant": make_participant(study).id, **WHERE})
    assert response.status_code == 403


# --- the participant screen's link ----------------------------------------------------------------

def _open_screen(client, study_session) -> str:
    url = client.post(f"/api/v1/sessions/{study_session.id}/screen").get_json()["url"]
    return url.split("localhost", 1)[-1]


def test_screen_link_stops_working_when_the_session_is_cancelled(db, client, login, make_session):
    study_session = make_session()
    login(study_session.study.owner)
    screen = _open_screen(client, study_session)
    assert client.get(screen).status_code == 200
    assert client.post(f"/api/v1/sessions/{study_session.id}/cancel").status_code == 200
    closed = client.get(screen)
    assert closed.status_code == 404
    assert "This screen has closed" in closed.get_data(as_text=True)
    assert client.get(f"{screen}/state").status_code == 404


@pytest.mark.parametrize("status", [SessionStatus.NO_SHOW, SessionStatus.CANCELLED, SessionStatus.COMPLETED])
def test_a_link_left_on_a_closed_session_answers_gone(db, client, login, make_session, status):
    study_session = make_session(screen_token="t" * 40, status=status)
    response = client.get("/screen/" + "t" * 40)
    assert response.status_code == 410
    text = response.get_data(as_text=True)
    assert "This screen has closed. You may close this window." in text
    assert study_session.study.title not in text
    state = client.get("/screen/" + "t" * 40 + "/state")
    assert state.status_code == 410 and state.get_json()["error"]["status"] == 410


def test_no_show_clears_the_screen_link(db, client, login, make_session):
    study_session = make_session(starts_at=utcnow() - timedelta(minutes=10))
    login(study_session.study.owner)
    screen = _open_screen(client, study_session)
    services.mark_no_show(study_session, study_session.study.owner)
    db.session.commit()
    assert client.get(screen).status_code == 404
