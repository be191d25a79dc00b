"""The planning JSON API: token or cookie auth, the same visibility rules as the pages, JSON errors."""

import pytest

from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role


@pytest.fixture
def bearer(db):
    """Authorization headers carrying a fresh personal token of `user`."""

    def _headers(user) -> dict[str, str]:
        token = account_services.issue_token(user, "tests")
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return _headers


def test_studies_list_is_paginated_and_limited_to_visible_studies(client, bearer, make_user, make_study):
    rita = make_user()
    mine = [make_study(owner=rita, title=f"Study {n}") for n in range(3)]
    make_study(title="Someone else's")
    response = client.get("/api/v1/studies?per_page=2", headers=bearer(rita))
    body = response.get_json()
    assert response.status_code == 200
    assert (body["total"], body["pages"], body["page"], len(body["items"])) == (3, 2, 1, 2)
    second = client.get("/api/v1/studies?per_page=2&page=2", headers=bearer(rita)).get_json()
    titles = {s["title"] for s in body["items"] + second["items"]}
    assert titles == {s.title for s in mine}


def test_study_detail_has_tasks_and_counts(client, bearer, make_session):
    study_session = make_session()
    body = client.get(f"/api/v1/studies/{study_session.study_id}",
                      headers=bearer(study_session.study.owner)).get_json()
    assert [t["title"] for t in body["tasks"]] == ["Task 1", "Task 2"]
    assert body["counts"]["sessions_planned"] == 1 and body["counts"]["participants"] == 1
    assert body["client"] == study_session.study.organisation.name


def test_sessions_are_shown_with_pseudonyms_only(client, bearer, make_user, make_session):
    olive = make_user(Role.OBSERVER)
    study_session = make_session(observers=[olive])
    headers = bearer(olive)
    listing = client.get(f"/api/v1/studies/{study_session.study_id}/sessions", headers=headers).get_json()
    assert [s["id"] for s in listing["items"]] == [study_session.id]
    one = client.get(f"/api/v1/sessions/{study_session.id}", headers=headers).get_json()
    assert one["participant"]["code"] == "P01" and one["observers"][0]["id"] == olive.id
    assert one["starts_at"].endswith("+00:00") and one["ics_uid"] == study_session.ics_uid
    personal = study_session.participant.personal
    text = str(listing) + str(one)
    assert personal.name not in text and personal.email not in text


def test_cookie_session_works_like_a_token(client, login, make_session):
    study_session = make_session()
    login(study_session.study.owner)
    assert client.get(f"/api/v1/sessions/{study_session.id}").status_code == 200


@pytest.mark.parametrize("role", [Role.CLIENT, Role.OBSERVER, Role.RESEARCHER])
def test_hidden_objects_answer_json_404(client, bearer, make_user, make_session, role):
    study_session = make_session()
    headers = bearer(make_user(role))
    study_url = f"/api/v1/studies/{study_session.study_id}"
    for url in (study_url, f"{study_url}/sessions", f"/api/v1/sessions/{study_session.id}"):
        response = client.get(url, headers=headers)
        assert response.status_code == 404
        assert response.get_json()["error"]["status"] == 404
    assert client.get("/api/v1/studies", headers=headers).get_json()["total"] == 0


def test_errors_are_json_in_one_shape(client, bearer, make_user):
    unauthenticated = client.get("/api/v1/studies")
    assert unauthenticated.status_code == 401
    assert unauthenticated.get_json()["error"]["message"].startswith("authentication required")
    headers = bearer(make_user())
    bad_page = client.get("/api/v1/studies?page=zero&per_page=500", headers=headers)
    assert bad_page.status_code == 422
    error = bad_page.get_json()["error"]
    assert error["status"] == 422 and set(error["fields"]) == {"page", "per_page"}
    missing = client.get("/api/v1/sessions/999", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"] == {
        "status": 404, "message": "session 999 not found", "fields": {}}
    assert client.get("/api/v1/sessions/0", headers=headers).status_code == 404
    assert client.get("/api/v1/sessions/99999999999", headers=headers).status_code == 404
    wrong_method = client.delete("/api/v1/studies", headers=headers)
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]["status"] == 405
    unknown = client.get("/api/v1/no-such-thing", headers=headers)
    assert unknown.status_code == 404 and unknown.get_json()["error"]["fields"] == {}
