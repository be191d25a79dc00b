"""Client organisations: the pages, the duplicate-name rule, client users, who sees which, and the API."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from usabtest.accounts import services as account_services
from usabtest.accounts.models import Organisation, Role
from usabtest.planning.models import StudyStatus
from usabtest.reports import services as report_services


def _organisations(db) -> list[str]:
    return db.session.scalars(sa.select(Organisation.name).order_by(Organisation.id)).all()


# --- creating, and the duplicate-name warning ------------------------------------------------------

def test_researcher_creates_an_organisation_and_starts_a_study_for_it(client, login, db, make_user):
    rita = make_user()
    login(rita)
    response = client.post("/organisations/new", data={"name": "  Northwind   Savings Bank ",
                                                       "next": "/studies/new"})
    org = db.session.scalars(sa.select(Organisation)).one()
    assert (org.name, org.name_key, org.created_by) == (
        "Northwind Savings Bank", "northwind savings bank", rita)
    assert response.headers["Location"] == f"/studies/new?organisation={org.id}"
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'<option selected value="{org.id}">Northwind Savings Bank</option>' in form


@pytest.mark.parametrize("typed", ["northwind savings bank", " NORTHWIND  Savings Bank  ",
                                   "Northwind Savings Bank"])
def test_another_spelling_of_an_existing_name_is_refused_with_a_link_to_it(client, login, db, make_user,
                                                                            make_org, typed):
    rita = make_user()
    existing = make_org("Northwind Savings Bank", created_by=rita)
    login(rita)
    response = client.post("/organisations/new", data={"name": typed})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "An organisation called “Northwind Savings Bank” already exists." in html
    assert f'<a href="/organisations/{existing.id}">Northwind Savings Bank</a>' in html
    assert _organisations(db) == ["Northwind Savings Bank"]


def test_accented_capitals_count_as_the_same_name(client, login, db, make_user, make_org):
    make_org("Ärzte Kasse")
    login(make_user(Role.ADMIN))
    assert client.post("/organisations/new", data={"name": "ärzte KASSE"}).status_code == 400
    assert _organisations(db) == ["Ärzte Kasse"]


def test_a_name_taken_by_an_organisation_hidden_from_the_researcher_is_refused_without_a_link(
        client, login, db, make_user, make_org):
    hidden = make_org("Contoso")
    login(make_user())
    html = client.post("/organisations/new", data={"name": "contoso"}).get_data(as_text=True)
    assert "already exists" in html and "ask an administrator" in html
    assert f"/organisations/{hidden.id}" not in html


def test_empty_and_overlong_names_are_field_errors(client, login, db, make_user):
    login(make_user())
    blank = client.post("/organisations/new", data={"name": "  "})
    assert blank.status_code == 400 and "Give the organisation&#39;s name." in blank.get_data(as_text=True)
    too_long = client.post("/organisations/new", data={"name": "x" * 201})
    assert too_long.status_code == 400 and "200 characters" in too_long.get_data(as_text=True)
    assert _organisations(db) == []


def test_two_simultaneous_creations_of_one_name_give_one_organisation(live_server, db, make_user):
    """Two people create one client at the same moment: one organisation, the other told of it (409)."""
    tokens = [account_services.issue_token(make_user(), "race") for _ in range(2)]
    db.session.commit()
    barrier, answers = threading.Barrier(2), []

    def create(token: str, name: str) -> None:
        request = urllib.request.Request(
            f"{live_server}/api/v1/organisations", method="POST", data=json.dumps({"name": name}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append(response.status)
        except urllib.error.HTTPError as exc:
            answers.append(exc.code)

    threads = [threading.Thread(target=create, args=pair) for pair in zip(tokens, ("Fabrikam", "fabrikam "),
                                                                          strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [201, 409]
    assert [name.lower() for name in _organisations(db)] == ["fabrikam"]


def test_cli_and_demo_find_an_organisation_whatever_its_spelling(runner, db, make_org):
    make_org("Northwind Savings Bank")
    result = runner.invoke(args=["users", "create", "--email", "ada@northwind.example", "--name", "Ada",
                                 "--role", "client", "--organisation", " northwind SAVINGS bank",
                                 "--password", "long-enough-pw"])
    assert result.exit_code == 0, result.output
    assert _organisations(db) == ["Northwind Savings Bank"]
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert _organisations(db) == ["Northwind Savings Bank"]


# --- the pages: list and detail, who sees what ------------------------------------------------------

def test_list_shows_client_users_and_studies(client, login, make_user, make_study, make_org):
    org = make_org("Northwind")
    study = make_study(organisation=org, title="Payments")
    make_user(Role.CLIENT, organisation=org, name="Ada Client")
    login(study.owner)
    html = client.get("/organisations").get_data(as_text=True)
    assert f'<a href="/organisations/{org.id}">Northwind</a>' in html
    assert "Ada Client" in html and f'<a href="/studies/{study.id}">Payments</a>' in html
    detail = client.get(f"/organisations/{org.id}").get_data(as_text=True)
    assert "Ada Client" in detail and "Payments" in detail and "Create a client user" not in detail


def test_researchers_see_the_organisations_of_their_studies_and_those_they_created(
        client, login, make_user, make_study, make_org):
    rita = make_user()
    own_study, other_study = make_study(owner=rita), make_study()
    created = make_org("Made by Rita", created_by=rita)
    login(rita)
    html = client.get("/organisations").get_data(as_text=True)
    assert own_study.organisation.name in html and "Made by Rita" in html
    assert other_study.organisation.name not in html
    assert client.get(f"/organisations/{other_study.organisation_id}").status_code == 404
    assert client.get(f"/organisations/{created.id}").status_code == 200


def test_the_organisation_page_hides_studies_the_researcher_is_not_on(client, login, make_user, make_study,
                                                                      make_org):
    org = make_org("Shared client")
    mine = make_study(organisation=org, title="Mine")
    make_study(organisation=org, title="Someone else's")
    login(mine.owner)
    html = client.get(f"/organisations/{org.id}").get_data(as_text=True)
    assert "Mine" in html and "Someone else" not in html


@pytest.mark.parametrize("role", [Role.OBSERVER, Role.CLIENT])
def test_observers_and_clients_get_no_organisation_pages(client, login, make_user, make_org, role):
    org = make_org()
    login(make_user(role, organisation=org) if role == Role.CLIENT else make_user(role))
    for url in ("/organisations", "/organisations/new", f"/organisations/{org.id}"):
        assert client.get(url).status_code == 403, url


def test_admin_sees_every_organisation(client, login, make_user, make_org):
    orgs = [make_org("Alpha"), make_org("Beta")]
    login(make_user(Role.ADMIN))
    html = client.get("/organisations").get_data(as_text=True)
    assert all(f'/organisations/{org.id}">{org.name}</a>' in html for org in orgs)


# --- client users, managed by admins ----------------------------------------------------------------

def _published_study(db, make_study, org):
    study = make_study(tasks=1, organisation=org, title="Payments", status=StudyStatus.ACTIVE)
    report = report_services.publish(study, study.owner, "A4", "First issue")
    db.session.commit()
    return study, report


def test_admin_creates_a_client_user_who_then_downloads_the_report(client, login, db, make_user, make_study,
                                                                   make_org):
    org = make_org("Northwind")
    _, report = _published_study(db, make_study, org)
    login(make_user(Role.ADMIN))
    response = client.post(f"/organisations/{org.id}/clients/new", data={
        "create-email": "ada@northwind.example", "create-name": "Ada", "create-password": "long-enough-pw"})
    assert response.status_code == 302
    ada = account_services.find_user_by_email("ada@northwind.example")
    assert (ada.role, ada.organisation) == (Role.CLIENT, org)
    client.post("/logout")
    login(ada, password="long-enough-pw")
    assert client.get(f"/reports/{report.id}/download").status_code == 200


def test_creating_a_client_user_shows_errors_next_to_the_fields(client, login, db, make_user, make_org):
    org = make_org()
    taken = make_user(Role.CLIENT, organisation=org)
    login(make_user(Role.ADMIN))
    response = client.post(f"/organisations/{org.id}/clients/new", data={
        "create-email": taken.email.upper(), "create-name": "", "create-password": "short"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This field is required." in html and "at least 12 characters" in html
    response = client.post(f"/organisations/{org.id}/clients/new", data={
        "create-email": taken.email.upper(), "create-name": "Twin", "create-password": "long-enough-pw"})
    assert response.status_code == 409 or response.status_code == 400
    assert f"A user with email {taken.email} already exists." in response.get_data(as_text=True)


def test_admin_adds_an_existing_client_user_and_removes_them_again(client, login, db, make_user, make_study,
                                                                   make_org):
    northwind, contoso = make_org("Northwind"), make_org("Contoso")
    _, report = _published_study(db, make_study, northwind)
    bo = make_user(Role.CLIENT, organisation=contoso, name="Bo")
    admin = make_user(Role.ADMIN)
    reader = client.application.test_client()
    login(bo, on=reader)
    assert reader.get(f"/reports/{report.id}/download").status_code == 404

    login(admin)
    page = client.get(f"/organisations/{northwind.id}").get_data(as_text=True)
    assert re.search(rf'<option value="{bo.id}">Bo &lt;{re.escape(bo.email)}&gt; \(in Contoso\)</option>',
                     page)
    added = client.post(f"/organisations/{northwind.id}/clients", data={"add-user": bo.id},
                        follow_redirects=True)
    assert "no longer see the reports of Contoso" in added.get_data(as_text=True)
    assert bo.organisation == northwind
    assert reader.get(f"/reports/{report.id}/download").status_code == 200
    assert "Payments" in reader.get("/portal").get_data(as_text=True)

    client.post(f"/organisations/{northwind.id}/clients/{bo.id}/remove")
    assert bo.organisation is None and bo.active
    assert reader.get(f"/reports/{report.id}/download").status_code == 404
    assert "Payments" not in reader.get("/portal").get_data(as_text=True)


def test_adding_refuses_non_clients_and_unknown_users(client, login, db, make_user, make_org):
    org = make_org()
    rita = make_user()
    login(make_user(Role.ADMIN))
    for value in (rita.id, 999999, "abc", ""):
        response = client.post(f"/organisations/{org.id}/clients", data={"add-user": value})
        assert response.status_code in (400, 422), value
        assert "Choose a client user from the list." in response.get_data(as_text=True) or (
            "is not a client user" in response.get_data(as_text=True))
    assert rita.organisation is None


def test_only_admins_manage_client_users(client, login, db, make_user, make_study, make_org):
    study = make_study()
    org = study.organisation
    bo = make_user(Role.CLIENT, organisation=org)
    login(study.owner)
    assert client.post(f"/organisations/{org.id}/clients/{bo.id}/remove").status_code == 403
    assert client.post(f"/organisations/{org.id}/clients/new", data={
        "create-email": "x@y.example", "create-name": "X", "create-password": "long-enough-pw",
    }).status_code == 403
    assert bo.organisation == org


def test_creator_renames_and_the_duplicate_rule_applies(client, login, db, make_user, make_org):
    rita = make_user()
    typo = make_org("Nortwind", created_by=rita)
    make_org("Contoso", created_by=rita)
    login(rita)
    refused = client.post(f"/organisations/{typo.id}/rename", data={"rename-name": "CONTOSO"})
    assert refused.status_code == 400 and "already exists" in refused.get_data(as_text=True)
    renamed = client.post(f"/organisations/{typo.id}/rename", data={"rename-name": "Northwind"})
    assert renamed.status_code == 302
    assert typo.name == "Northwind"


# --- the study form picks from the list --------------------------------------------------------------

def test_a_study_cannot_be_moved_to_an_organisation_the_researcher_cannot_see(client, login, db, make_study,
                                                                              make_org):
    study = make_study()
    hidden = make_org("Hidden client")
    login(study.owner)
    form = client.get(f"/studies/{study.id}/edit").get_data(as_text=True)
    assert "Hidden client" not in form
    response = client.post(f"/studies/{study.id}/edit", data={
        "title": "Moved?", "organisation": hidden.id, "method": "in_person", "status": "draft"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="organisation-error"' in html and "You cannot put a study in that organisation" in html
    db.session.refresh(study)
    assert (study.title, study.organisation_id) != ("Moved?", hidden.id)


def test_a_study_moves_to_another_organisation_the_researcher_picks(client, login, db, make_user, make_study,
                                                                    make_org):
    study = make_study()
    other = make_org("Contoso", created_by=study.owner)
    login(study.owner)
    response = client.post(f"/studies/{study.id}/edit", data={
        "title": study.title, "organisation": other.id, "method": "in_person", "status": "draft",
        "version": study.version})
    assert response.status_code == 302 and study.organisation == other


def test_an_edit_without_the_organisation_field_keeps_the_organisation(client, login, db, make_study):
    study = make_study()
    org = study.organisation
    login(study.owner)
    response = client.post(f"/studies/{study.id}/edit", data={
        "title": "Renamed", "method": "in_person", "status": "draft", "version": study.version})
    assert response.status_code == 302 and (study.title, study.organisation) == ("Renamed", org)


# --- the API ----------------------------------------------------------------------------------------

@pytest.fixture
def api(client, db):
    """Call the API as `user` with a bearer token: `api(user).post(path, json=...)`."""

    def _for(user):
        token = account_services.issue_token(user, "test")
        db.session.commit()
        headers = {"Authorization": f"Bearer {token}"}

        class _Caller:
            def __getattr__(self, method):
                return lambda path, **kw: client.open("/api/v1" + path, method=method.upper(),
                                                      headers=headers, **kw)

        return _Caller()

    return _for


def test_api_lists_the_organisations_the_caller_may_see(api, make_user, make_study, make_org):
    rita = make_user()
    mine = make_study(owner=rita, organisation=make_org("Northwind"))
    make_org("Hidden")
    created = make_org("Ärzte Kasse", created_by=rita)
    body = api(rita).get("/organisations").get_json()
    assert [o["name"] for o in body["items"]] == ["Northwind", "Ärzte Kasse"]
    assert body["total"] == 2
    assert [o["id"] for o in api(rita).get("/organisations?q=ÄRZTE").get_json()["items"]] == [created.id]
    assert api(rita).get(f"/organisations/{mine.organisation_id}").status_code == 200
    client_user = make_user(Role.CLIENT, organisation=mine.organisation)
    assert [o["name"] for o in api(client_user).get("/organisations").get_json()["items"]] == ["Northwind"]
    assert api(make_user(Role.OBSERVER)).get("/organisations").get_json()["items"] == []


def test_api_creates_an_organisation_and_refuses_another_spelling_with_409(api, db, make_user, make_org):
    rita = make_user()
    created = api(rita).post("/organisations", json={"name": " Northwind  Bank "})
    assert created.status_code == 201 and created.get_json()["name"] == "Northwind Bank"
    org_id = created.get_json()["id"]
    again = api(rita).post("/organisations", json={"name": "NORTHWIND bank"})
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert f"“Northwind Bank” already exists (id {org_id})" in error["message"]
    assert "name" in error["fields"]
    make_org("Contoso")
    hidden = api(rita).post("/organisations", json={"name": "contoso"}).get_json()["error"]
    assert "ask an administrator" in hidden["message"] and "id " not in hidden["message"]
    assert api(rita).post("/organisations", json={"name": "  "}).status_code == 422
    assert api(make_user(Role.OBSERVER)).post("/organisations", json={"name": "X"}).status_code == 403
    assert _organisations(db) == ["Northwind Bank", "Contoso"]


def test_api_study_takes_organisation_id_and_keeps_it_on_other_changes(api, db, make_user, make_org):
    rita = make_user()
    org = make_org("Northwind", created_by=rita)
    created = api(rita).post("/studies", json={"title": "Payments", "organisation_id": org.id})
    assert created.status_code == 201
    study = created.get_json()
    assert study["organisation"] == {"id": org.id, "name": "Northwind"} and study["client"] == "Northwind"
    patched = api(rita).patch(f"/studies/{study['id']}", json={"title": "Payments v2",
                                                                 "version": study["version"]}).get_json()
    assert patched["organisation"]["id"] == org.id


def test_api_refuses_an_organisation_the_caller_cannot_see(api, db, make_user, make_study, make_org):
    study = make_study()
    hidden = make_org("Hidden")
    as_owner = api(study.owner)
    for body in ({"organisation_id": hidden.id}, {"organisation_id": 999999}):
        response = as_owner.patch(f"/studies/{study.id}", json={**body, "version": study.version})
        assert response.status_code == 422
        assert response.get_json()["error"]["fields"] == {
            "organisation_id": f"There is no organisation {body['organisation_id']} you can put a study in "
                               "(GET /organisations lists them)."}
    by_name = as_owner.post("/studies", json={"title": "T", "client": "hidden"})
    assert by_name.status_code == 422 and "client" in by_name.get_json()["error"]["fields"]
    both = as_owner.post("/studies", json={"title": "T", "client": "X",
                                           "organisation_id": study.organisation_id})
    assert both.status_code == 422
    db.session.refresh(study)
    assert study.organisation_id != hidden.id
    assert _organisations(db) == [study.organisation.name, "Hidden"]


def test_openapi_marks_the_client_name_deprecated(client):
    document = client.get("/api/v1/openapi.json").get_json()
    create = document["components"]["schemas"]["StudyCreate"]["properties"]
    assert create["client"]["deprecated"] is True and "organisation_id" in create


def test_creating_an_organisation_from_the_edit_form_comes_back_with_it_chosen(client, login, db, make_study):
    study = make_study()
    login(study.owner)
    response = client.post("/organisations/new", data={"name": "Contoso",
                                                       "next": f"/studies/{study.id}/edit"})
    contoso = db.session.scalars(sa.select(Organisation).where(Organisation.name == "Contoso")).one()
    assert response.headers["Location"] == f"/studies/{study.id}/edit?organisation={contoso.id}"
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'<option selected value="{contoso.id}">Contoso</option>' in form
    assert study.organisation != contoso  # nothing moves until the form is saved


def test_api_search_ignores_characters_no_database_stores(api, make_user):
    response = api(make_user()).get("/organisations?q=%00")
    assert response.status_code == 422 and "q" in response.get_json()["error"]["fields"]
