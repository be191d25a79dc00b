"""Study teams through the real pages and the API: joining gives access, leaving takes it away."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role
from usabtest.core.models import AuditEvent
from usabtest.db import utcnow
from usabtest.planning.models import SessionStatus, StudyMember, StudySession, TeamRole


@pytest.fixture
def api(client, db):
    """Call the API with a personal token of `user`: `api(user).post(path, json=...)`."""

    class _Caller:
        def __init__(self, user):
            token = account_services.issue_token(user, "team test")
            db.session.commit()
            self.headers = {"Authorization": f"Bearer {token}"}

        def __getattr__(self, method):
            def call(path, **kwargs):
                return client.open("/api/v1" + path, method=method.upper(), headers=self.headers, **kwargs)

            return call

    return _Caller


@pytest.fixture
def other_client(app, login):
    """Sign `user` in on a browser of their own (a second test client)."""

    def _client(user):
        return login(user, on=app.test_client())

    return _client


def _roles(db, study) -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(StudyMember).where(StudyMember.study_id == study.id))
    return {m.user.name: m.role.value for m in rows}


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- pages ------------------------------------------------------------------------------------------

def test_a_researcher_added_from_the_team_page_opens_the_study_and_loses_it_on_removal(
        db, client, login, other_client, make_user, make_study):
    study = make_study(tasks=1, title="Checkout study")
    colleague = make_user(name="Cleo Colleague", email="cleo@example.com")
    as_colleague = other_client(colleague)
    assert as_colleague.get(f"/studies/{study.id}").status_code == 404

    login(study.owner)
    overview = _text(client.get(f"/studies/{study.id}"))
    assert "Manage team" in overview
    added = client.post(f"/studies/{study.id}/team", follow_redirects=True,
                        data={"email": " CLEO@example.com ", "role": "researcher"})
    assert added.status_code == 200
    assert "Cleo Colleague joined the team as researcher" in _text(added)
    assert _roles(db, study) == {study.owner.name: "researcher", "Cleo Colleague": "researcher"}

    assert as_colleague.get(f"/studies/{study.id}").status_code == 200
    assert "Checkout study" in _text(as_colleague.get("/studies"))
    assert as_colleague.get(f"/studies/{study.id}/tasks/new").status_code == 200
    assert as_colleague.get(f"/studies/{study.id}/results").status_code == 200
    assert as_colleague.get(f"/api/v1/studies/{study.id}").status_code == 200
    assert as_colleague.get(f"/api/v1/studies/{study.id}/team").status_code == 200

    confirm = client.get(f"/studies/{study.id}/team/{colleague.id}/remove")
    assert confirm.status_code == 200
    assert "Cleo Colleague will no longer see this study" in _text(confirm)
    assert _roles(db, study)["Cleo Colleague"] == "researcher"  # asking changes nothing
    removed = client.post(f"/studies/{study.id}/team/{colleague.id}/remove", follow_redirects=True)
    assert "Cleo Colleague is no longer on the team" in _text(removed)
    assert "Cleo Colleague" not in _roles(db, study)

    assert as_colleague.get(f"/studies/{study.id}").status_code == 404
    assert as_colleague.get(f"/studies/{study.id}/results").status_code == 404
    assert as_colleague.get(f"/api/v1/studies/{study.id}").status_code == 404
    assert "Checkout study" not in _text(as_colleague.get("/studies"))
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"team.add", "team.remove"} <= actions


def test_an_observer_on_the_team_reads_the_study_and_changes_nothing(
        client, login, other_client, make_user, make_study):
    study = make_study(tasks=1)
    olive = make_user(Role.OBSERVER, name="Olive Observer")
    login(study.owner)
    assert client.post(f"/studies/{study.id}/team",
                       data={"email": olive.email, "role": "observer"}).status_code == 302
    as_olive = other_client(olive)
    page = as_olive.get(f"/studies/{study.id}")
    assert page.status_code == 200 and "Manage team" not in _text(page)
    assert as_olive.get(f"/studies/{study.id}/team").status_code == 200
    assert as_olive.get(f"/studies/{study.id}/edit").status_code == 403
    assert as_olive.get(f"/studies/{study.id}/results").status_code == 404
    assert as_olive.patch(f"/api/v1/studies/{study.id}", json={"title": "Mine"},
                          headers={"X-CSRFToken": "x"}).status_code == 403


@pytest.mark.parametrize(("who", "data", "field_message"), [
    ("client", {"role": "observer"}, "is a client user"),
    ("inactive", {"role": "observer"}, "account is deactivated"),
    ("unknown", {"role": "observer"}, "Nobody has an account with the e-mail address nobody@example.com"),
    ("member", {"role": "observer"}, "is already on this study's team, as researcher"),
    ("owner", {"role": "researcher"}, "is already on this study's team, as its owner"),
    ("observer", {"role": "researcher"}, "they can join the team as an observer only"),
    ("nobody", {"role": "observer", "email": "not an address"}, "Give a valid e-mail address."),
    ("nobody", {"role": "boss", "email": "x@example.com"}, "Not a valid choice"),
])
def test_bad_additions_are_refused_next_to_the_field(db, client, login, make_user, make_study, who, data,
                                                     field_message):
    member = make_user(name="Mia Member")
    study = make_study(researchers=[member])
    people = {
        "client": make_user(Role.CLIENT, name="Carl Client"),
        "inactive": make_user(name="Ina Inactive", active=False),
        "member": member, "owner": study.owner,
        "observer": make_user(Role.OBSERVER, name="Olive Observer"),
    }
    before = _roles(db, study)
    login(study.owner)
    email = people[who].email if who in people else "nobody@example.com"
    response = client.post(f"/studies/{study.id}/team", data={"email": email, **data})
    assert response.status_code == 400
    page = _text(response).replace("&#39;", "'")
    assert re.search(r'<p class="error" id="(email|role)-error">[^<]*' + re.escape(field_message), page), page
    assert _roles(db, study) == before


def test_only_the_owner_and_admins_manage_the_team(client, login, other_client, make_user, make_study):
    member = make_user(name="Mia Member")
    newcomer = make_user(name="Ned Newcomer")
    study = make_study(researchers=[member])
    as_member = other_client(member)
    page = as_member.get(f"/studies/{study.id}/team")
    assert page.status_code == 200 and "Add a colleague" not in _text(page) and "Mia Member" in _text(page)
    assert as_member.post(f"/studies/{study.id}/team",
                          data={"email": newcomer.email, "role": "observer"}).status_code == 403
    assert as_member.get(f"/studies/{study.id}/team/{study.owner_id}/remove").status_code == 403
    assert as_member.post(f"/studies/{study.id}/team/ownership",
                          data={"new_owner": member.id, "confirm": "y"}).status_code == 403
    assert other_client(make_user()).get(f"/studies/{study.id}/team").status_code == 404
    login(make_user(Role.ADMIN))
    assert client.post(f"/studies/{study.id}/team",
                       data={"email": newcomer.email, "role": "observer"}).status_code == 302


def test_ownership_is_handed_to_a_researcher_and_the_old_owner_stays_as_researcher(
        db, client, login, make_user, make_study):
    old_owner = make_user(name="Rita Owner")
    heir = make_user(name="Hana Heir")
    watcher = make_user(name="Walt Watcher")
    study = make_study(owner=old_owner, researchers=[heir], observers=[watcher])
    login(old_owner)
    team_page = _text(client.get(f"/studies/{study.id}/team"))
    assert f'<option value="{heir.id}">Hana Heir</option>' in team_page
    assert f'<option value="{watcher.id}">' not in team_page  # observers cannot own the study

    unconfirmed = client.post(f"/studies/{study.id}/team/ownership", data={"new_owner": heir.id})
    assert unconfirmed.status_code == 400 and "Tick the box to confirm the hand-over." in _text(unconfirmed)
    to_observer = client.post(f"/studies/{study.id}/team/ownership",
                              data={"new_owner": watcher.id, "confirm": "y"})
    assert to_observer.status_code == 400
    assert "Walt Watcher is on the team as an observer: make them a researcher first." in _text(to_observer)
    db.session.expire_all()
    assert study.owner_id == old_owner.id

    done = client.post(f"/studies/{study.id}/team/ownership", data={"new_owner": heir.id, "confirm": "y"},
                       follow_redirects=True)
    assert "Hana Heir owns the study now; Rita Owner stays on the team as a researcher." in _text(done)
    db.session.expire_all()
    assert study.owner_id == heir.id
    assert _roles(db, study) == {"Rita Owner": "researcher", "Hana Heir": "researcher",
                                 "Walt Watcher": "observer"}
    # The old owner keeps the study's work but no longer manages the team.
    assert client.get(f"/studies/{study.id}/tasks/new").status_code == 200
    assert client.post(f"/studies/{study.id}/team",
                       data={"email": make_user().email, "role": "observer"}).status_code == 403


def test_the_owner_cannot_be_removed_or_made_an_observer(db, client, login, make_user, make_study):
    member = make_user(name="Mia Member")
    study = make_study(researchers=[member])
    login(make_user(Role.ADMIN))
    confirm = client.get(f"/studies/{study.id}/team/{study.owner_id}/remove")
    assert confirm.status_code == 409
    assert "owns this study: hand ownership to another researcher before removing them" in _text(confirm)
    assert 'type="submit"' not in _text(confirm).split("<main", 1)[1]
    assert client.post(f"/studies/{study.id}/team/{study.owner_id}/remove").status_code == 409
    demoted = client.post(f"/studies/{study.id}/team/{study.owner_id}/role",
                          data={f"m{study.owner_id}-role": "observer"}, follow_redirects=True)
    assert "the owner is always a researcher" in _text(demoted)
    assert _roles(db, study)[study.owner.name] == "researcher"
    # Another member's role changes from the same form.
    changed = client.post(f"/studies/{study.id}/team/{member.id}/role",
                          data={f"m{member.id}-role": "observer"}, follow_redirects=True)
    assert "Mia Member is now observer on this study." in _text(changed)
    assert _roles(db, study)["Mia Member"] == "observer"


def test_a_researcher_made_observer_keeps_reading_but_stops_planning(other_client, client, login, make_user,
                                                                     make_study):
    member = make_user(name="Mia Member")
    study = make_study(researchers=[member])
    as_member = other_client(member)
    assert as_member.get(f"/studies/{study.id}/tasks/new").status_code == 200
    login(study.owner)
    client.post(f"/studies/{study.id}/team/{member.id}/role", data={f"m{member.id}-role": "observer"})
    assert as_member.get(f"/studies/{study.id}").status_code == 200
    assert as_member.get(f"/studies/{study.id}/tasks/new").status_code == 403
    observer_account = make_user(Role.OBSERVER, name="Olive")
    client.post(f"/studies/{study.id}/team", data={"email": observer_account.email, "role": "observer"})
    refused = client.post(f"/studies/{study.id}/team/{observer_account.id}/role",
                          data={f"m{observer_account.id}-role": "researcher"}, follow_redirects=True)
    assert "Olive has an observer account: they can be on the team as an observer only." in _text(refused)


def test_removing_an_observer_takes_them_off_unfinished_sessions_and_keeps_past_notes(
        db, client, login, other_client, make_user, make_study, make_session, make_note):
    olive = make_user(Role.OBSERVER, name="Olive Observer")
    study = make_study(tasks=1, observers=[olive])
    past = make_session(study=study, observers=[olive], starts_at=utcnow() - timedelta(days=2),
                        status=SessionStatus.COMPLETED)
    note = make_note(past, olive, body="Missed the coupon field")
    upcoming = make_session(study=study, observers=[olive], starts_at=utcnow() + timedelta(days=3))
    as_olive = other_client(olive)
    assert as_olive.get(f"/sessions/{past.id}/observe").status_code == 200
    assert "Open console" in _text(as_olive.get("/"))

    login(study.owner)
    confirm = _text(client.get(f"/studies/{study.id}/team/{olive.id}/remove"))
    assert "Olive Observer will be taken off 1 session that has not ended" in confirm
    assert "stays listed on 1 past session, and every note Olive Observer took stays in the study" in confirm
    assert f"Session #{upcoming.id} with {upcoming.participant.code}" in confirm
    done = client.post(f"/studies/{study.id}/team/{olive.id}/remove", follow_redirects=True)
    assert "was taken off 1 session that had not ended. Their notes stay in the study." in _text(done)

    db.session.expire_all()
    assert upcoming.observers == [] and upcoming.ics_sequence == 1
    assert past.observers == [olive]
    assert db.session.get(type(note), note.id).body == "Missed the coupon field"
    assert as_olive.get(f"/sessions/{past.id}/observe").status_code == 404
    assert as_olive.get(f"/studies/{study.id}").status_code == 404
    assert as_olive.get(f"/api/v1/sessions/{past.id}/notes").status_code == 404
    assert "Open console" not in _text(as_olive.get("/"))
    assert _text(client.get(f"/sessions/{past.id}")).count("Olive Observer") == 1


def test_someone_moderating_an_unfinished_session_is_not_removed(db, client, login, make_user, make_study,
                                                                 make_session):
    mo = make_user(name="Mo Moderator")
    study = make_study(researchers=[mo])
    booked = make_session(study=study, moderator=mo)
    login(study.owner)
    confirm = client.get(f"/studies/{study.id}/team/{mo.id}/remove")
    assert confirm.status_code == 409
    code = booked.participant.code
    assert (f"Mo Moderator moderates 1 session that has not ended (#{booked.id} ({code})): "
            "give them another moderator or cancel them first.") in _text(confirm)
    assert client.post(f"/studies/{study.id}/team/{mo.id}/remove").status_code == 409
    assert "Mo Moderator" in _roles(db, study)


@pytest.mark.csrf
def test_removal_asks_first_and_needs_the_confirmation_form(db, client, make_user, make_study):
    member = make_user(name="Mia Member")
    study = make_study(researchers=[member])
    sign_in = _text(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', sign_in).group(1)
    client.post("/login", data={"email": study.owner.email, "password": "correct-horse-battery",
                                "csrf_token": token})
    forged = client.post(f"/studies/{study.id}/team/{member.id}/remove")
    assert forged.status_code == 400 and "Mia Member" in _roles(db, study)
    confirm = _text(client.get(f"/studies/{study.id}/team/{member.id}/remove"))
    assert "Remove Mia Member" in confirm and "Keep Mia Member on the team" in confirm
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', confirm).group(1)
    assert client.post(f"/studies/{study.id}/team/{member.id}/remove",
                       data={"csrf_token": token}).status_code == 302
    assert "Mia Member" not in _roles(db, study)


# --- sessions are staffed from the team -------------------------------------------------------------

def _session_form(participant, moderator, **changes):
    data = {"participant": participant.id, "day": "2030-01-15", "at": "10:00", "timezone": "Europe/London",
            "duration_min": 60, "moderator": moderator.id, "location": "Lab 1"}
    data.update(changes)
    return data


def test_the_session_form_offers_the_team_and_refuses_anyone_else(db, client, login, make_user, make_study,
                                                                  make_participant):
    olive = make_user(Role.OBSERVER, name="Olive Observer")
    stranger = make_user(Role.OBSERVER, name="Sid Stranger")
    study = make_study(observers=[olive])
    participant = make_participant(study)
    login(study.owner)
    form = _text(client.get(f"/studies/{study.id}/sessions/new"))
    assert "Olive Observer (Observer)" in form and "Sid Stranger" not in form

    refused = client.post(f"/studies/{study.id}/sessions/new",
                          data=_session_form(participant, study.owner, observers=[olive.id, stranger.id]))
    assert refused.status_code == 400
    assert re.search(r'id="observers-error">Sid Stranger is not on this study&#39;s team', _text(refused))
    refused = client.post(f"/studies/{study.id}/sessions/new", data=_session_form(participant, stranger))
    assert re.search(r'id="moderator-error">Sid Stranger is not on this study&#39;s team', _text(refused))
    assert study.sessions == []

    booked = client.post(f"/studies/{study.id}/sessions/new",
                         data=_session_form(participant, study.owner, observers=[olive.id]))
    assert booked.status_code == 302
    db.session.expire_all()
    assert [s.observers for s in study.sessions] == [[olive]]


def test_the_api_refuses_session_people_who_are_not_on_the_team(db, api, make_user, make_study,
                                                                make_participant):
    stranger = make_user(Role.OBSERVER, name="Sid Stranger")
    study = make_study()
    participant = make_participant(study)
    body = {"participant": participant.id, "day": "2030-01-15", "time": "10:00", "location": "Lab 1",
            "observers": [stranger.id]}
    refused = api(study.owner).post(f"/studies/{study.id}/sessions", json=body)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"observers": (
        "Sid Stranger is not on this study's team: the study's owner adds them on its Team page first.")}
    assert api(study.owner).post(f"/studies/{study.id}/team",
                                 json={"user_id": stranger.id, "role": "observer"}).status_code == 201
    assert api(study.owner).post(f"/studies/{study.id}/sessions", json=body).status_code == 201


# --- API --------------------------------------------------------------------------------------------

def test_the_team_api_adds_changes_hands_over_and_removes(db, api, make_user, make_study, make_session):
    rita = make_user(name="Rita Owner")
    cleo = make_user(name="Cleo Colleague", email="cleo@example.com")
    olive = make_user(Role.OBSERVER, name="Olive Observer")
    study = make_study(owner=rita)
    as_rita = api(rita)
    base = f"/studies/{study.id}/team"

    added = as_rita.post(base, json={"email": "Cleo@Example.com", "role": "researcher"})
    assert added.status_code == 201
    assert added.get_json()["user"] == {"id": cleo.id, "name": "Cleo Colleague"}
    assert as_rita.post(base, json={"user_id": olive.id, "role": "observer"}).status_code == 201
    assert api(cleo).get(f"/studies/{study.id}").status_code == 200

    listed = as_rita.get(base).get_json()
    assert listed["owner"] == {"id": rita.id, "name": "Rita Owner"}
    assert [(m["user"]["name"], m["role"], m["owner"]) for m in listed["items"]] == [
        ("Rita Owner", "researcher", True), ("Cleo Colleague", "researcher", False),
        ("Olive Observer", "observer", False)]

    demoted = as_rita.patch(f"{base}/{cleo.id}", json={"role": "observer"})
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "observer"
    assert api(cleo).patch(f"/studies/{study.id}", json={"title": "x"}).status_code == 403
    assert as_rita.patch(f"{base}/{cleo.id}", json={"role": "researcher"}).status_code == 200

    handed = as_rita.post(f"/studies/{study.id}/ownership", json={"user_id": cleo.id})
    assert handed.status_code == 200 and handed.get_json()["owner"]["id"] == cleo.id
    assert as_rita.post(base, json={"user_id": make_user().id, "role": "observer"}).status_code == 403
    assert api(rita).get(f"/studies/{study.id}").status_code == 200  # still on the team

    upcoming = make_session(study=study, observers=[olive])
    removed = api(cleo).delete(f"{base}/{olive.id}")
    assert removed.status_code == 200
    assert removed.get_json() == {"user": {"id": olive.id, "name": "Olive Observer"},
                                  "sessions_left": [upcoming.id], "past_sessions": 0}
    assert api(olive).get(f"/studies/{study.id}").status_code == 404
    assert api(cleo).delete(f"{base}/{olive.id}").status_code == 404


@pytest.mark.parametrize(("who", "body", "status", "field"), [
    ("client", {"role": "observer"}, 422, "user_id"),
    ("inactive", {"role": "observer"}, 422, "user_id"),
    ("member", {"role": "observer"}, 409, "user_id"),
    ("observer", {"role": "researcher"}, 422, "role"),
    ("unknown", {"role": "observer"}, 422, "user_id"),
    ("unknown_email", {"role": "observer"}, 422, "email"),
    ("both", {"role": "observer"}, 422, None),
    ("member", {"role": "owner"}, 422, "role"),
])
def test_bad_team_additions_through_the_api(db, api, make_user, make_study, who, body, status, field):
    member = make_user(name="Mia Member")
    study = make_study(researchers=[member])
    people = {"client": make_user(Role.CLIENT), "inactive": make_user(active=False), "member": member,
              "observer": make_user(Role.OBSERVER)}
    if who in people:
        body = {"user_id": people[who].id, **body}
    elif who == "unknown":
        body = {"user_id": 999_999, **body}
    elif who == "unknown_email":
        body = {"email": "nobody@example.com", **body}
    else:
        body = {"user_id": member.id, "email": member.email, **body}
    before = _roles(db, study)
    response = api(study.owner).post(f"/studies/{study.id}/team", json=body)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["message"]
    if field:
        assert field in error["fields"], error
    assert _roles(db, study) == before


@pytest.mark.parametrize(("target", "status", "message"), [
    ("observer_member", 422, "is on the team as an observer: make them a researcher first."),
    ("observer_account", 422, "has an observer account: only a researcher can own a study."),
    ("client", 422, "has a client account: only a researcher can own a study."),
    ("outsider", 422, "is not on this study's team: add them as a researcher first."),
    ("owner", 409, "already owns this study."),
    ("unknown", 422, "There is no user 999999."),
])
def test_ownership_goes_only_to_a_researcher_on_the_team(db, api, make_user, make_study, target, status,
                                                         message):
    watcher = make_user(name="Walt Watcher")
    olive = make_user(Role.OBSERVER, name="Olive")
    study = make_study(observers=[watcher, olive])
    ids = {"observer_member": watcher.id, "observer_account": olive.id, "client": make_user(Role.CLIENT).id,
           "outsider": make_user().id, "owner": study.owner_id, "unknown": 999_999}
    response = api(study.owner).post(f"/studies/{study.id}/ownership", json={"user_id": ids[target]})
    assert response.status_code == status
    assert message in response.get_json()["error"]["fields"]["user_id"]
    db.session.expire_all()
    assert study.owner_id == study.owner.id and _roles(db, study)[study.owner.name] == "researcher"


def test_the_owner_cannot_leave_or_be_demoted_through_the_api(db, api, make_user, make_study):
    study = make_study()
    admin = make_user(Role.ADMIN)
    removed = api(admin).delete(f"/studies/{study.id}/team/{study.owner_id}")
    assert removed.status_code == 409
    assert "hand ownership to another researcher" in removed.get_json()["error"]["message"]
    demoted = api(admin).patch(f"/studies/{study.id}/team/{study.owner_id}", json={"role": "observer"})
    assert demoted.status_code == 409 and demoted.get_json()["error"]["fields"]["role"]
    assert _roles(db, study) == {study.owner.name: "researcher"}


def test_team_reads_and_writes_follow_the_policy(api, make_user, make_study, make_session):
    member, olive = make_user(), make_user(Role.OBSERVER)
    study = make_study(researchers=[member])
    make_session(study=study, observers=[olive])
    base = f"/studies/{study.id}/team"
    assert api(olive).get(base).status_code == 200
    assert api(olive).post(base, json={"user_id": make_user().id, "role": "observer"}).status_code == 403
    assert api(member).delete(f"{base}/{olive.id}").status_code == 403
    assert api(make_user()).get(base).status_code == 404
    assert api(make_user(Role.CLIENT, organisation=study.organisation)).get(base).status_code == 404
    assert api(member).patch(f"{base}/{olive.id}", json={"role": "observer"}).status_code == 403


def test_a_study_created_through_the_api_has_its_creator_on_the_team(api, make_user):
    rita = make_user(name="Rita")
    created = api(rita).post("/studies", json={"title": "New study", "client": "Northwind"}).get_json()
    team = api(rita).get(f"/studies/{created['id']}/team").get_json()
    members = [(m["user"]["name"], m["role"], m["owner"]) for m in team["items"]]
    assert members == [("Rita", "researcher", True)]


def test_builders_make_a_team_and_staff_sessions_from_it(db, make_user, make_study, make_session):
    cleo, olive, mo = make_user(), make_user(Role.OBSERVER), make_user(Role.OBSERVER)
    study = make_study(researchers=[cleo], observers=[olive])
    study_session = make_session(study=study, moderator=mo, observers=[olive])
    roles = {m.user_id: m.role for m in study.members}
    assert roles == {study.owner_id: TeamRole.RESEARCHER, cleo.id: TeamRole.RESEARCHER,
                     olive.id: TeamRole.OBSERVER, mo.id: TeamRole.OBSERVER}
    assert db.session.get(StudySession, study_session.id).moderator == mo
