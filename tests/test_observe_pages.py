"""The console page, the SUS form and the participant's screen: content and who may open them."""

import re

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest.accounts.models import Role
from usabtest.observe.models import SusResponse


@pytest.fixture
def cast(db, make_user, make_session, make_member):
    """A session and one user of every relationship to it."""
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    teammate = make_user(Role.RESEARCHER)
    make_member(study_session.study, teammate)
    return study_session, {
        "moderator": study_session.moderator, "teammate": teammate, "admin": make_user(Role.ADMIN),
        "observer": observer, "other_observer": make_user(Role.OBSERVER),
        "other_researcher": make_user(Role.RESEARCHER),
        "client": make_user(Role.CLIENT, organisation=study_session.study.organisation),
    }


@pytest.mark.parametrize(
    ("who", "console", "sus"),
    [("moderator", 200, 200), ("teammate", 200, 200), ("admin", 200, 200), ("observer", 200, 403),
     ("other_observer", 404, 404), ("other_researcher", 404, 404), ("client", 404, 404)],
)
def test_page_permissions(client, login, cast, who, console, sus):
    study_session, users = cast
    login(users[who])
    assert client.get(f"/sessions/{study_session.id}/observe").status_code == console
    assert client.get(f"/sessions/{study_session.id}/sus").status_code == sus
    screen = client.post(f"/sessions/{study_session.id}/screen", data={})
    assert screen.status_code == (302 if sus == 200 else sus)


def test_signed_out_visitor_is_sent_to_sign_in(client, cast):
    study_session, _ = cast
    response = client.get(f"/sessions/{study_session.id}/observe")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_console_shows_pseudonym_script_and_controls_never_the_name(client, login, cast, db, make_tag):
    study_session, users = cast
    make_tag(study_session.study, "navigation")
    name = study_session.participant.personal.name
    login(users["observer"])
    html = client.get(f"/sessions/{study_session.id}/observe").get_data(as_text=True)
    assert study_session.participant.code in html and name not in html
    assert "Task 1" in html and "Scenario 2" in html and 'id="note-input"' in html
    assert 'data-tag="navigation"' in html and 'data-tag="bug"' in html
    assert 'id="start-session"' not in html  # observers do not run the session
    login(users["moderator"])
    html = client.get(f"/sessions/{study_session.id}/observe").get_data(as_text=True)
    assert 'id="start-session"' in html and "Open participant screen" in html and name not in html


def test_console_warns_moderator_when_consent_is_missing(client, login, make_study, make_participant,
                                                        make_session):
    study = make_study(tasks=1)
    study_session = make_session(study=study, participant=make_participant(study, consented=False))
    login(study.owner)
    html = client.get(f"/sessions/{study_session.id}/observe").get_data(as_text=True)
    assert "has no consent on record" in html


def test_sus_form_requires_all_ten_answers_then_saves(db, client, login, cast):
    study_session, users = cast
    login(users["moderator"])
    client.post(f"/api/v1/sessions/{study_session.id}/start")
    client.post(f"/api/v1/sessions/{study_session.id}/end")
    page = client.get(f"/sessions/{study_session.id}/sus").get_data(as_text=True)
    assert "I thought the system was easy to use." in page
    partial = client.post(f"/sessions/{study_session.id}/sus", data={f"q{n}": "3" for n in range(1, 10)})
    assert partial.status_code == 400
    assert "Choose an answer from 1 to 5." in partial.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SusResponse)) == 0
    bad = client.post(f"/sessions/{study_session.id}/sus", data={f"q{n}": "6" for n in range(1, 11)})
    assert bad.status_code == 400
    saved = client.post(f"/sessions/{study_session.id}/sus", data={f"q{n}": "4" for n in range(1, 11)})
    assert saved.status_code == 302
    assert db.session.scalars(sa.select(SusResponse)).one().answers == [4] * 10


def test_sus_form_is_not_offered_before_the_end(client, login, cast):
    study_session, users = cast
    login(users["moderator"])
    html = client.get(f"/sessions/{study_session.id}/sus").get_data(as_text=True)
    assert "entered after the session has ended" in html
    assert client.post(f"/sessions/{study_session.id}/sus",
                       data={f"q{n}": "4" for n in range(1, 11)}).status_code == 200


def _open_screen(client, study_session) -> str:
    response = client.post(f"/sessions/{study_session.id}/screen", data={})
    assert response.status_code == 302
    return response.headers["Location"]


def test_participant_screen_shows_only_welcome_and_scenario(db, client, login, cast):
    study_session, users = cast
    study = study_session.study
    study.welcome_text = "Thanks for helping us today."
    study.show_task_word = False
    study.tasks[0].success_criteria = "SECRET-CRITERIA"
    study.tasks[0].time_limit_s = 300
    db.session.commit()
    login(users["moderator"])
    url = _open_screen(client, study_session)
    client.post(f"/api/v1/sessions/{study_session.id}/notes",
                json={"id": "2d7c8f7e-6f6e-4b8a-9d8e-1f2a3b4c5d6e", "body": "SECRET-NOTE"})
    client.delete_cookie("session")  # the participant has no account
    page = client.get(url).get_data(as_text=True)
    assert "Thanks for helping us today." in page
    login(users["moderator"])
    client.post(f"/api/v1/sessions/{study_session.id}/start")
    client.post(f"/api/v1/sessions/{study_session.id}/tasks/{study.tasks[0].id}/start")
    client.delete_cookie("session")
    page = client.get(url).get_data(as_text=True)
    state = client.get(url + "/state").get_json()
    assert state["step"] == {"number": 1, "total": 2, "scenario": "Scenario 1"}
    visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", page)
    for text in (page, str(state)):
        assert "SECRET-CRITERIA" not in text and "SECRET-NOTE" not in text and "300" not in text
    assert not re.search(r"\btask\b", visible, re.IGNORECASE)
    assert "Activity 1 of 2" in visible


def test_screen_link_dies_when_session_ends(db, client, login, cast):
    study_session, users = cast
    login(users["moderator"])
    client.post(f"/api/v1/sessions/{study_session.id}/start")
    url = _open_screen(client, study_session)
    assert client.get(url).status_code == 200
    client.post(f"/api/v1/sessions/{study_session.id}/end")
    assert client.get(url).status_code == 404
    assert client.get(url + "/state").status_code == 404
    assert client.get("/screen/short").status_code == 404
    assert client.post(f"/api/v1/sessions/{study_session.id}/screen").status_code == 409


def test_session_actions_partial_links_console_for_allowed_users(app, client, login, cast):
    from flask import render_template

    study_session, users = cast
    allowed = {study_session.id: {"console": True, "sus": False}}
    with app.test_request_context():
        html = render_template("observe/_session_actions.html", study_session=study_session,
                               console_access=allowed)
        assert "Open console" in html
        for refused in ({study_session.id: {"console": False, "sus": False}}, {}):
            assert "Open console" not in render_template("observe/_session_actions.html",
                                                         study_session=study_session, console_access=refused)
    login(users["observer"])
    assert "Open console" in client.get(f"/sessions/{study_session.id}").get_data(as_text=True)


def test_observer_home_links_each_session_to_its_console(client, login, cast):
    study_session, users = cast
    login(users["observer"])
    html = client.get("/").get_data(as_text=True)
    assert f'href="/sessions/{study_session.id}/observe"' in html
