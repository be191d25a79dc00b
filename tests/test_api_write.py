"""The write API for integrations: the pages' rules, refusals and messages, answered as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role
from usabtest.core.models import AuditEvent
from usabtest.db import utcnow
from usabtest.planning.models import StudySession, StudyStatus

DAY = (utcnow() + timedelta(days=20)).date().isoformat()
SIGNED = (utcnow() - timedelta(days=3)).date().isoformat()


@pytest.fixture
def bearer(db):
    """Authorization headers carrying a fresh personal token of `user`."""

    def _headers(user) -> dict[str, str]:
        token = account_services.issue_token(user, "integration")
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return _headers


@pytest.fixture
def api(client, bearer):
    """Call the API as `user`: `api(user).post(path, json=...)`, paths relative to /api/v1."""

    class _Caller:
        def __init__(self, user):
            self.headers = bearer(user)

        def __getattr__(self, method):
            def call(path, **kwargs):
                return client.open("/api/v1" + path, method=method.upper(), headers=self.headers, **kwargs)

            return call

    return _Caller


def _fields(response) -> set[str]:
    """The fields an error answer names, top level only (`answers.3` -> `answers`)."""
    return {path.split(".")[0] for path in response.get_json()["error"]["fields"]}


def test_a_study_is_set_up_end_to_end_through_the_write_api(db, api, make_user):
    rita, olive = make_user(name="Rita"), make_user(Role.OBSERVER, name="Olive")
    as_rita = api(rita)
    created = as_rita.post("/studies", json={"title": " Checkout study ", "client": "Northwind",
                                             "product": "Web shop", "method": "remote_moderated"})
    assert created.status_code == 201
    study = created.get_json()
    assert (study["title"], study["client"], study["status"], study["owner"]["name"]) == (
        "Checkout study", "Northwind", "draft", "Rita")

    base = f"/studies/{study['id']}"
    tasks = [as_rita.post(f"{base}/tasks", json={"title": f"Task {n}", "time_limit_s": 300}).get_json()
             for n in (1, 2, 3)]
    assert [t["position"] for t in tasks] == [1, 2, 3]
    order = [tasks[2]["id"], tasks[0]["id"], tasks[1]["id"]]
    reordered = as_rita.put(f"{base}/tasks/order", json={"task_ids": order}).get_json()
    assert [(t["id"], t["position"]) for t in reordered["items"]] == list(zip(order, [1, 2, 3], strict=True))
    edited = as_rita.patch(f"/tasks/{tasks[0]['id']}", json={"version": tasks[0]["version"],
                                                               "title": "Find a gift", "time_limit_s": None})
    assert edited.get_json() == {**tasks[0], "title": "Find a gift", "time_limit_s": None, "position": 2,
                                 "version": tasks[0]["version"] + 1}
    removed = as_rita.delete(f"/tasks/{tasks[1]['id']}").get_json()
    assert removed["result"] == "deleted" and removed["task"]["title"] == "Task 2"

    first = as_rita.post(f"{base}/participants", json={
        "name": "Ann Example", "email": "ann@example.net", "phone": "+44 20 7946 0000",
        "segments": {"age band": "25-34"}, "consent_date": SIGNED, "consent_version": "v2"})
    second = as_rita.post(f"{base}/participants", json={"name": "Bob Example"})
    assert (first.status_code, second.status_code) == (201, 201)
    ann = first.get_json()
    assert (ann["code"], ann["has_consent"], ann["personal"]["email"]) == ("P01", True, "ann@example.net")
    assert ann["consents"] == [{"consented_on": SIGNED, "form_version": "v2"}]
    bob = as_rita.patch(f"/participants/{second.get_json()['id']}",
                        json={"version": second.get_json()["version"], "email": "bob@example.net",
                              "consent_date": SIGNED, "consent_version": "v2"}).get_json()
    assert (bob["code"], bob["has_consent"], bob["personal"]["email"]) == ("P02", True, "bob@example.net")

    joined = as_rita.post(f"{base}/team", json={"user_id": olive.id, "role": "observer"})
    assert joined.status_code == 201 and joined.get_json()["role"] == "observer"
    scheduled = as_rita.post(f"{base}/sessions", json={
        "participant": ann["id"], "day": DAY, "time": "10:00", "timezone": "Europe/London",
        "duration_min": 45, "observers": [olive.id], "video_link": "https://meet.example.com/abc"})
    assert scheduled.status_code == 201, scheduled.get_json()
    booked = scheduled.get_json()
    assert booked["moderator"]["id"] == rita.id and [o["name"] for o in booked["observers"]] == ["Olive"]
    assert booked["participant"] == {"id": ann["id"], "code": "P01", "has_consent": True}
    moved = as_rita.patch(f"/sessions/{booked['id']}", json={"version": booked["version"], "time": "14:30",
                                                             "participant": bob["id"]})
    assert moved.status_code == 200
    assert moved.get_json()["ics_sequence"] == 1 and moved.get_json()["participant"]["code"] == "P02"
    assert moved.get_json()["starts_at"].endswith("+00:00")
    cancelled = as_rita.post(f"/sessions/{booked['id']}/cancel").get_json()
    assert (cancelled["status"], cancelled["ics_sequence"]) == ("cancelled", 2)

    detail = as_rita.get(base).get_json()
    assert detail["status"] == "active" and [t["title"] for t in detail["tasks"]] == ["Task 3", "Find a gift"]
    assert {"tasks": 2, "participants": 2, "consented": 2, "sessions_cancelled": 1}.items() <= (
        detail["counts"].items())
    closed = as_rita.patch(base, json={"version": detail["version"], "status": "closed",
                                       "goals": "Why people abandon carts"}).get_json()
    assert (closed["status"], closed["goals"], closed["client"]) == ("closed", "Why people abandon carts",
                                                                     "Northwind")
    refused = as_rita.post(f"{base}/sessions", json={"participant": ann["id"], "day": DAY, "time": "16:00",
                                                     "location": "Lab 1"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"] == "This study is closed: reopen it to schedule sessions."
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"study.create", "task.reorder", "participant.update", "session.reschedule",
            "session.cancel"} <= actions


def test_a_double_booking_is_a_409_naming_the_clashing_session_as_the_page_does(db, api, client, login,
                                                                                 make_session):
    starts = datetime.fromisoformat(f"{DAY}T10:00:00").replace(tzinfo=UTC)
    existing = make_session(starts_at=starts, location="Lab 1")
    study, rita = existing.study, existing.moderator
    participant = existing.participant
    other = api(rita).post(f"/studies/{study.id}/participants", json={"name": "Cy"}).get_json()
    body = {"participant": other["id"], "day": DAY, "time": "10:30", "timezone": "UTC", "location": "Lab 2"}
    clash = api(rita).post(f"/studies/{study.id}/sessions", json=body)
    assert clash.status_code == 409
    message = clash.get_json()["error"]["message"]
    assert message.startswith(f"{rita.name} is already moderating session #{existing.id} ")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StudySession)) == 1

    login(rita)
    page = client.post(f"/studies/{study.id}/sessions/new", data={
        "participant": other["id"], "day": DAY, "at": "10:30", "timezone": "UTC", "duration_min": 60,
        "moderator": rita.id, "location": "Lab 2"})
    assert page.status_code == 409
    assert f"is already moderating session #{existing.id} " in page.get_data(as_text=True)
    same_person = {**body, "participant": participant.id, "time": "13:00"}
    assert api(rita).post(f"/studies/{study.id}/sessions", json=same_person).status_code == 201


def test_a_moderator_cannot_also_observe_the_same_session(db, api, make_user, make_session):
    study_session = make_session(location="Lab 1")
    rita = study_session.moderator
    body = {"participant": study_session.participant_id, "day": DAY, "time": "09:00", "location": "Lab 1",
            "observers": [rita.id]}
    scheduled = api(rita).post(f"/studies/{study_session.study_id}/sessions", json=body)
    assert scheduled.status_code == 422
    assert scheduled.get_json()["error"]["fields"] == {
        "observers": "The moderator cannot also be an observer of the same session."}
    rescheduled = api(rita).patch(f"/sessions/{study_session.id}",
                                  json={"version": 1, "observers": [rita.id]})
    assert rescheduled.status_code == 422 and _fields(rescheduled) == {"observers"}
    db.session.refresh(study_session)
    assert study_session.observers == [] and study_session.ics_sequence == 0


WRITES = [
    ("patch", "/studies/{study}", {"title": "Renamed"}),
    ("post", "/studies/{study}/tasks", {"title": "New task"}),
    ("put", "/studies/{study}/tasks/order", {"task_ids": []}),
    ("patch", "/tasks/{task}", {"title": "Renamed"}),
    ("delete", "/tasks/{task}", None),
    ("post", "/studies/{study}/participants", {"name": "Dee"}),
    ("patch", "/participants/{participant}", {"phone": "123"}),
    ("post", "/studies/{study}/sessions", {"participant": 1, "day": DAY, "time": "08:00", "location": "x"}),
    ("patch", "/sessions/{session}", {"location": "Lab 9"}),
    ("post", "/sessions/{session}/cancel", None),
]


@pytest.fixture
def cast(db, make_user, make_session, make_member):
    """A session and one user of every relationship to its study."""
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer], location="Lab 1")
    teammate = make_user()
    make_member(study_session.study, teammate)
    return study_session, {
        "teammate": teammate, "admin": make_user(Role.ADMIN), "observer": observer,
        "other_researcher": make_user(), "other_observer": make_user(Role.OBSERVER),
        "client": make_user(Role.CLIENT, organisation=study_session.study.organisation),
    }


@pytest.mark.parametrize(("who", "expected"), [
    ("observer", 403), ("other_researcher", 404), ("other_observer", 404), ("client", 404)])
def test_writes_are_refused_as_the_pages_refuse_them(db, api, cast, who, expected):
    study_session, users = cast
    ids = {"study": study_session.study_id, "task": study_session.study.tasks[0].id,
           "participant": study_session.participant_id, "session": study_session.id}
    caller = api(users[who])
    for method, path, body in WRITES:
        response = getattr(caller, method)(path.format(**ids), json=body)
        assert response.status_code == expected, (method, path, response.get_json())
        assert response.get_json()["error"]["status"] == expected
    db.session.refresh(study_session)
    assert study_session.status.value == "scheduled" and study_session.study.title == "Checkout study"


@pytest.mark.parametrize("who", ["teammate", "admin"])
def test_study_managers_may_write(db, api, cast, who):
    study_session, users = cast
    caller = api(users[who])
    assert caller.patch(f"/studies/{study_session.study_id}", json={
        "version": study_session.study.version, "product": "App"}).status_code == 200
    assert caller.post(f"/sessions/{study_session.id}/cancel").status_code == 200


@pytest.mark.parametrize(("role", "expected"), [(Role.OBSERVER, 403), (Role.CLIENT, 403), (Role.ADMIN, 201)])
def test_only_researchers_and_admins_create_studies(db, api, make_user, role, expected):
    response = api(make_user(role)).post("/studies", json={"title": "T", "client": "C"})
    assert response.status_code == expected


def test_personal_details_are_for_the_study_managers_only(db, api, cast):
    study_session, users = cast
    path = f"/participants/{study_session.participant_id}"
    personal = study_session.participant.personal
    as_observer = api(users["observer"]).get(path).get_json()
    assert as_observer["code"] == "P01" and as_observer["personal"] is None
    listing = api(users["observer"]).get(f"/studies/{study_session.study_id}/participants")
    assert personal.email not in listing.get_data(as_text=True)
    assert personal.name not in listing.get_data(as_text=True)
    as_teammate = api(users["teammate"]).get(path).get_json()
    assert as_teammate["personal"] == {"name": personal.name, "email": personal.email, "phone": None}
    assert api(users["client"]).get(path).status_code == 404


BAD_INPUT = [
    ("post", "/studies", {"title": "", "client": "C"}, "title"),
    ("post", "/studies", {"title": "T"}, "organisation_id"),
    ("post", "/studies", {"title": "T", "client": "C", "method": "by_carrier_pigeon"}, "method"),
    ("post", "/studies", {"title": "T", "client": "C", "owner": 1}, "owner"),
    ("post", "/studies", {"title": "T\x00", "client": "C"}, "title"),
    ("patch", "/studies/{study}", {}, None),
    ("patch", "/studies/{study}", {"status": None}, "status"),
    ("post", "/studies/{study}/tasks", {"title": "T", "time_limit_s": 0}, "time_limit_s"),
    ("post", "/studies/{study}/tasks", {"title": "T", "time_limit_s": "60"}, "time_limit_s"),
    ("put", "/studies/{study}/tasks/order", {"task_ids": [1, 1]}, "task_ids"),
    ("put", "/studies/{study}/tasks/order", {"task_ids": "1,2"}, "task_ids"),
    ("post", "/studies/{study}/participants", {"name": "A", "email": "not-an-email"}, "email"),
    ("post", "/studies/{study}/participants", {"name": "A", "segments": {"": "x"}}, "segments"),
    ("post", "/studies/{study}/participants", {"name": "A", "consent_date": SIGNED}, "consent_version"),
    ("post", "/studies/{study}/participants", {"name": "A", "consent_version": "v1"}, "consent_date"),
    ("post", "/studies/{study}/participants", {"name": "A", "consent_date": "2999-01-01",
                                                "consent_version": "v1"}, "consent_date"),
    ("post", "/studies/{study}/participants", {"name": "A", "email": "person1@example.net"}, "email"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": "2030-02-30",
                                           "time": "10:00", "location": "x"}, "day"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "25:00",
                                           "location": "x"}, "time"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00",
                                           "timezone": "Europe", "location": "x"}, "timezone"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00",
                                           "timezone": "Mars/Olympus", "location": "x"}, "timezone"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00",
                                           "duration_min": 4, "location": "x"}, "duration_min"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00",
                                           "observers": [999999], "location": "x"}, "observers"),
    ("post", "/studies/{study}/sessions", {"participant": 999999, "day": DAY, "time": "10:00",
                                           "location": "x"}, "participant"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00",
                                           "video_link": "ftp://files.example.com"}, "video_link"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00"},
     "location"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": "2001-01-01",
                                           "time": "10:00", "location": "x"}, "day"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00",
                                           "moderator": "{client}", "location": "x"}, "moderator"),
    ("post", "/studies/{study}/sessions", {"participant": "{participant}", "day": DAY, "time": "10:00",
                                           "observers": ["{outsider}"], "location": "x"}, "observers"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_INPUT)
def test_bad_input_is_a_422_naming_each_field_never_a_500(db, api, make_user, make_session, method, path,
                                                          body, field):
    study_session = make_session(location="Lab 1")
    client_user = make_user(Role.CLIENT)
    ids = {"study": study_session.study_id, "participant": study_session.participant_id,
           "client": client_user.id, "outsider": make_user(Role.OBSERVER).id}

    def fill(value):
        if isinstance(value, list):
            return [fill(item) for item in value]
        return int(value.format(**ids)) if isinstance(value, str) and value.startswith("{") else value

    body = {key: fill(value) for key, value in body.items()}
    response = getattr(api(study_session.moderator), method)(path.format(**ids), json=body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["status"] == 422 and error["message"]
    if field is not None:
        assert field in _fields(response), error
        assert all(error["fields"].values())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StudySession)) == 1


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "", "null"])
def test_malformed_json_is_a_400(db, api, make_study, raw):
    study = make_study()
    response = api(study.owner).post(f"/studies/{study.id}/tasks", data=raw, content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]["message"]
    form = api(study.owner).post(f"/studies/{study.id}/tasks", data={"title": "x"})
    assert form.status_code == 400


def test_a_task_with_attempts_is_archived_and_can_be_restored(db, api, make_session):
    study_session = make_session()
    first = study_session.study.tasks[0]
    as_rita = api(study_session.moderator)
    base = f"/sessions/{study_session.id}"
    as_rita.post(f"{base}/start")
    as_rita.post(f"{base}/tasks/{first.id}/start")
    as_rita.post(f"{base}/tasks/{first.id}/end", json={"outcome": "success"})
    assert as_rita.post(f"/tasks/{first.id}/restore").status_code == 409
    removed = as_rita.delete(f"/tasks/{first.id}").get_json()
    assert removed["result"] == "archived" and removed["task"] == {**removed["task"], "archived": True,
                                                                   "position": None}
    listing = as_rita.get(f"/studies/{study_session.study_id}/tasks").get_json()["items"]
    assert [(t["title"], t["position"], t["archived"]) for t in listing] == [
        ("Task 2", 1, False), ("Task 1", None, True)]
    reorder = as_rita.put(f"/studies/{study_session.study_id}/tasks/order", json={"task_ids": [first.id]})
    assert reorder.status_code == 422 and _fields(reorder) == {"task_ids"}
    restored = as_rita.post(f"/tasks/{first.id}/restore").get_json()
    assert (restored["archived"], restored["position"]) == (False, 2)


def test_a_session_that_is_not_scheduled_cannot_be_moved_or_cancelled(db, api, make_session):
    study_session = make_session(location="Lab 1")
    as_rita = api(study_session.moderator)
    as_rita.post(f"/sessions/{study_session.id}/cancel")
    for response in (as_rita.post(f"/sessions/{study_session.id}/cancel"),
                     as_rita.patch(f"/sessions/{study_session.id}",
                                   json={"version": 1, "location": "Lab 2"})):
        assert response.status_code == 409
        assert response.get_json()["error"]["message"].startswith("A cancelled session cannot be")
    db.session.refresh(study_session)
    assert (study_session.status.value, study_session.location) == ("cancelled", "Lab 1")


def test_an_erased_participant_keeps_no_new_details(db, api, make_study, make_participant):
    study = make_study()
    participant = make_participant(study, erased=True)
    response = api(study.owner).patch(f"/participants/{participant.id}",
                                      json={"version": 1, "name": "Back again"})
    assert response.status_code == 409 and "erased" in response.get_json()["error"]["message"]


def test_closed_study_status_comes_back_through_reopening(db, api, make_study):
    study = make_study()
    as_owner = api(study.owner)
    closed = as_owner.patch(f"/studies/{study.id}", json={"version": study.version, "status": "closed"})
    assert closed.get_json()["status"] == "closed"
    db.session.refresh(study)
    assert study.status == StudyStatus.CLOSED
    reopened = as_owner.patch(f"/studies/{study.id}", json={"version": closed.get_json()["version"],
                                                             "status": "active"})
    assert reopened.get_json()["status"] == "active"


def test_a_client_name_with_non_ascii_capitals_is_found_again(db, api, make_user):
    as_rita = api(make_user())
    study = as_rita.post("/studies", json={"title": "T", "client": "Ärzte Ïnc"}).get_json()
    renamed = as_rita.patch(f"/studies/{study['id']}", json={"version": study["version"], "title": "Renamed"})
    assert renamed.status_code == 200 and renamed.get_json()["client"] == "Ärzte Ïnc"
    again = as_rita.post("/studies", json={"title": "Second", "client": " Ärzte Ïnc "}).get_json()
    assert again["client"] == "Ärzte Ïnc"


@pytest.mark.parametrize(("raw", "status"), [
    ('{"title": "a\\ud800b"}', 400), ('{"title": "a\\u0000b"}', 422), ('{"title": 1e999}', 422)])
def test_text_no_database_could_store_is_refused(db, api, make_study, raw, status):
    study = make_study()
    response = api(study.owner).post(f"/studies/{study.id}/tasks", data=raw, content_type="application/json")
    assert response.status_code == status
    assert response.get_json()["error"]["status"] == status


@pytest.mark.config(MAX_CONTENT_LENGTH=2000)
def test_a_body_over_the_size_limit_is_a_413(db, api, make_study):
    study = make_study()
    body = {"title": "T", "scenario": "x" * 3000}
    response = api(study.owner).post(f"/studies/{study.id}/tasks", json=body)
    assert response.status_code == 413 and response.get_json()["error"]["status"] == 413
