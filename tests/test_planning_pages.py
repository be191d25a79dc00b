"""Planning pages: studies, task script, participants and sessions, with each role's access."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from usabtest.accounts.models import Organisation, Role
from usabtest.db import utcnow
from usabtest.observe.models import TaskAttempt
from usabtest.planning.models import SessionStatus, Study, StudyStatus


def _titles(study) -> list[str]:
    return [t.title for t in study.tasks if not t.archived]


def test_researcher_creates_edits_closes_and_reopens_a_study(client, login, db, make_user, make_org):
    rita = make_user()
    northwind = make_org("Northwind", created_by=rita)
    login(rita)
    response = client.post("/studies/new", data={"title": "Checkout", "organisation": northwind.id,
                                                 "product": "Shop", "goals": "Find friction", "method":
                                                 "remote_moderated"})
    study = db.session.scalars(db.select(Study)).one()
    assert response.headers["Location"] == f"/studies/{study.id}"
    assert (study.owner, study.organisation.name, study.status) == (rita, "Northwind", StudyStatus.DRAFT)
    client.post(f"/studies/{study.id}/edit", data={"title": "Checkout v2", "organisation": northwind.id,
                                                   "method": "in_person", "status": "active", "version": 1})
    assert (study.title, study.status) == ("Checkout v2", StudyStatus.ACTIVE)
    client.post(f"/studies/{study.id}/close", data={"confirmed": "yes"})
    assert study.status == StudyStatus.CLOSED
    page = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert "Reopen study" in page and "Schedule session</a>" not in page
    client.post(f"/studies/{study.id}/reopen")
    assert study.status == StudyStatus.ACTIVE
    listing = client.get("/studies").get_data(as_text=True)
    assert f'href="/studies/{study.id}">Checkout v2</a>' in listing


def test_study_form_errors_are_shown_on_the_page(client, login, make_user):
    login(make_user())
    response = client.post("/studies/new", data={"title": "", "organisation": "", "method": "by-telepathy"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This field is required." in html and "Not a valid choice." in html
    assert "Choose the client organisation." in html


def test_overview_shows_progress(client, login, make_session, make_participant):
    done = make_session(status=SessionStatus.COMPLETED)
    study = done.study
    make_participant(study, consented=False)
    for status in (SessionStatus.SCHEDULED, SessionStatus.NO_SHOW):
        make_session(study=study, status=status)
    login(study.owner)
    html = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert '<span class="stat">1</span> sessions planned' in html
    assert '<span class="stat">1</span> done' in html and '<span class="stat">1</span> no-show' in html
    assert "4</span> participants (3 with consent)" in html
    assert "Sessions done: 1 of 3" in html
    assert "No consent" in html


def test_big_study_overview_lists_the_first_participants_and_latest_sessions_with_all_one_click_away(
        client, login, make_session, monkeypatch):
    from usabtest.planning import queries

    monkeypatch.setattr(queries, "OVERVIEW_ROWS", 2)
    first = make_session(starts_at=utcnow() + timedelta(days=1))
    study = first.study
    later = [make_session(study=study, starts_at=utcnow() + timedelta(days=day)) for day in (2, 3)]
    login(study.owner)
    html = client.get(f"/studies/{study.id}").get_data(as_text=True)
    codes = [s.participant.code for s in (first, *later)]
    assert "The first 2 of 3 participants" in html and "The latest 2 of 3 sessions" in html
    assert f"/sessions/{first.id}\"" not in html  # the earliest session is folded away
    assert all(f"/sessions/{s.id}\"" in html for s in later)
    assert "3</span> participants" in html  # the counts are the whole study's
    everything = client.get(f"/studies/{study.id}?all=1").get_data(as_text=True)
    assert "The first" not in everything and "The latest" not in everything
    assert all(f"/sessions/{s.id}\"" in everything for s in (first, *later))
    assert all(code in everything for code in codes)


def test_task_script_add_edit_reorder_and_remove(client, login, db, make_study):
    study = make_study()
    login(study.owner)
    for title in ("Search", "Add to basket", "Pay"):
        client.post(f"/studies/{study.id}/tasks/new", data={"title": title, "scenario": f"Please {title}",
                                                             "time_limit_min": "5"})
    assert _titles(study) == ["Search", "Add to basket", "Pay"]
    assert study.tasks[0].time_limit_s == 300
    pay = study.tasks[2]
    client.post(f"/tasks/{pay.id}/move", data={"direction": "up"})
    as_json = {"Accept": "application/json"}
    moved = client.post(f"/tasks/{pay.id}/move", data={"direction": "up"}, headers=as_json)
    assert moved.get_json() == {"moved": True, "order": [t.id for t in study.tasks if not t.archived]}
    assert _titles(study) == ["Pay", "Search", "Add to basket"]
    at_top = client.post(f"/tasks/{pay.id}/move", data={"direction": "up"}, headers=as_json)
    assert at_top.get_json()["moved"] is False
    assert client.post(f"/tasks/{pay.id}/move", data={"direction": "sideways"}).status_code == 400
    client.post(f"/tasks/{pay.id}/edit", data={"title": "Pay by card", "success_criteria": "Order placed",
                                               "version": pay.version})
    assert (pay.title, pay.time_limit_s, pay.success_criteria) == ("Pay by card", None, "Order placed")
    client.post(f"/tasks/{study.tasks[1].id}/remove", data={"confirmed": "yes"})
    assert _titles(study) == ["Pay by card", "Add to basket"]
    assert [t.position for t in study.tasks] == [0, 1]


def test_task_with_recorded_attempts_is_archived_not_deleted(client, login, db, make_session):
    study_session = make_session()
    task = study_session.study.tasks[0]
    db.session.add(TaskAttempt(study_session=study_session, task=task))
    db.session.commit()
    login(study_session.study.owner)
    response = client.post(f"/tasks/{task.id}/remove", data={"confirmed": "yes"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "has recorded attempts, so it was archived instead of deleted" in html
    assert task.archived and db.session.get(type(task), task.id) is not None
    assert _titles(study_session.study) == ["Task 2"]
    client.post(f"/tasks/{task.id}/restore")
    assert _titles(study_session.study) == ["Task 2", "Task 1"]


def test_pseudonyms_are_assigned_in_order_and_never_reused(client, login, db, make_study):
    study = make_study()
    login(study.owner)
    for name in ("Ann", "Bob"):
        client.post(f"/studies/{study.id}/participants/new", data={"name": name})
    assert [p.code for p in study.participants] == ["P01", "P02"]
    db.session.delete(study.participants[1])
    db.session.commit()
    client.post(f"/studies/{study.id}/participants/new", data={"name": "Cleo"})
    assert [p.code for p in study.participants] == ["P01", "P03"]


def test_participant_details_segments_and_consent(client, login, db, make_study, make_participant):
    study = make_study()
    make_participant(study, email="taken@example.net")
    login(study.owner)
    duplicate = client.post(f"/studies/{study.id}/participants/new",
                            data={"name": "Ann", "email": "TAKEN@example.net"})
    assert duplicate.status_code == 400
    assert "TAKEN@example.net is already a participant in this study." in duplicate.get_data(as_text=True)
    bad_segments = client.post(f"/studies/{study.id}/participants/new",
                               data={"name": "Ann", "segments": "age band 25-34"})
    assert 'Line 1 should look like' in bad_segments.get_data(as_text=True)
    half_consent = client.post(f"/studies/{study.id}/participants/new",
                               data={"name": "Ann", "consent_version": "v2"})
    assert "Give the date the consent form was signed." in half_consent.get_data(as_text=True)
    client.post(f"/studies/{study.id}/participants/new", data={
        "name": "Ann Lee", "email": "ann@example.net", "phone": "+44 1234",
        "segments": "age band: 25-34\nexperience: daily", "consent_date": "2025-03-01",
        "consent_version": "v2"})
    ann = study.participants[1]
    assert ann.segments == {"age band": "25-34", "experience": "daily"}
    assert (ann.personal.phone, ann.consents[0].form_version) == ("+44 1234", "v2")
    client.post(f"/participants/{ann.id}/edit", data={"name": "Ann Lee-Smith", "email": "ann@example.net",
                                                      "segments": "experience: weekly",
                                                      "consent_date": "2025-04-01", "consent_version": "v3",
                                                      "version": ann.version})
    assert ann.personal.name == "Ann Lee-Smith" and ann.segments == {"experience": "weekly"}
    assert [c.form_version for c in ann.consents] == ["v2", "v3"]


def _session_form(participant, moderator, **changes):
    data = {"participant": participant.id, "day": "2030-01-15", "at": "10:00", "timezone": "Europe/London",
            "duration_min": 60, "moderator": moderator.id, "location": "Lab 1"}
    data.update(changes)
    return data


def test_scheduling_warns_about_missing_consent(client, login, make_study, make_participant):
    study = make_study()
    participant = make_participant(study, consented=False)
    login(study.owner)
    response = client.post(f"/studies/{study.id}/sessions/new", data=_session_form(participant, study.owner),
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Session scheduled." in html
    assert "P01 has no consent on record: the session cannot be started" in html
    assert "No consent on record for P01." in client.get(f"/sessions/{study.sessions[0].id}").get_data(
        as_text=True)


def test_conflict_is_refused_on_the_page_naming_the_session(client, login, make_user, make_study,
                                                            make_participant, make_session):
    mo = make_user(name="Mo")
    study = make_study(researchers=[mo])
    olive = make_user(Role.OBSERVER, name="Olive")
    existing = make_session(study=study, observers=[olive],
                            starts_at=datetime(2030, 1, 15, 10, 30, tzinfo=UTC))
    newcomer = make_participant(study)
    login(study.owner)
    response = client.post(f"/studies/{study.id}/sessions/new", data=_session_form(
        newcomer, mo, observers=[olive.id]))
    assert response.status_code == 409
    assert (f"Olive is already observing session #{existing.id} (Checkout study · P01) on "
            "Tue 15 Jan 2030, 10:30–11:30 UTC.") in response.get_data(as_text=True)
    assert len(study.sessions) == 1


def test_reschedule_cancel_and_no_show(client, login, db, make_session):
    upcoming = make_session(starts_at=datetime(2030, 1, 15, 10, tzinfo=UTC))
    owner = upcoming.study.owner
    login(owner)
    form = _session_form(upcoming.participant, owner, at="14:00", timezone="America/New_York")
    form["version"] = upcoming.version
    assert client.post(f"/sessions/{upcoming.id}/reschedule", data=form).status_code == 302
    assert upcoming.starts_at == datetime(2030, 1, 15, 19, tzinfo=UTC) and upcoming.ics_sequence == 1
    refused = client.post(f"/sessions/{upcoming.id}/no-show", follow_redirects=True)
    assert "once its start time has passed" in refused.get_data(as_text=True)
    client.post(f"/sessions/{upcoming.id}/cancel", data={"confirmed": "yes"})
    assert upcoming.status == SessionStatus.CANCELLED
    again = client.post(f"/sessions/{upcoming.id}/cancel", follow_redirects=True)
    assert "A cancelled session cannot be cancelled." in again.get_data(as_text=True)
    past = make_session(study=upcoming.study, starts_at=utcnow() - timedelta(minutes=20))
    client.post(f"/sessions/{past.id}/no-show", data={"confirmed": "yes"})
    assert past.status == SessionStatus.NO_SHOW


def test_session_page_prefills_reschedule_in_the_sessions_zone(client, login, make_session):
    study_session = make_session(starts_at=datetime(2030, 7, 1, 8, tzinfo=UTC), timezone="Europe/Berlin")
    login(study_session.study.owner)
    html = client.get(f"/sessions/{study_session.id}/reschedule").get_data(as_text=True)
    assert 'value="10:00"' in html and '<option selected value="Europe/Berlin">' in html


def test_overview_gathers_console_links_and_the_later_domains_panels(client, login, make_user, make_session):
    study_session = make_session()
    study, console = study_session.study, f'href="/sessions/{study_session.id}/observe"'
    login(study_session.study.owner)
    overview = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert console in overview
    assert f'href="/studies/{study.id}/results"' in overview and "Check and publish" in overview
    assert console in client.get(f"/sessions/{study_session.id}").get_data(as_text=True)
    assert console in client.get("/agenda").get_data(as_text=True)
    # An observer of another session of the study sees its overview: no console link here, no panels.
    olive = make_user(Role.OBSERVER)
    make_session(study=study, observers=[olive])
    client.post("/logout")
    login(olive)
    overview = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert console not in overview and "/results" not in overview and "Publish new version" not in overview


def test_observer_reads_without_personal_details_or_actions(client, login, make_user, make_session):
    olive = make_user(Role.OBSERVER)
    study_session = make_session(observers=[olive])
    study, personal = study_session.study, study_session.participant.personal
    login(olive)
    for url in (f"/studies/{study.id}", f"/sessions/{study_session.id}", "/studies", "/agenda"):
        html = client.get(url).get_data(as_text=True)
        assert personal.name not in html and personal.email not in html, url
    assert "Edit study" not in client.get(f"/studies/{study.id}").get_data(as_text=True)
    for url in (f"/studies/{study.id}/edit", f"/studies/{study.id}/tasks/new",
                f"/sessions/{study_session.id}/reschedule"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/sessions/{study_session.id}/cancel").status_code == 403


@pytest.mark.parametrize(("role", "status"), [(Role.RESEARCHER, 404), (Role.OBSERVER, 404)])
def test_strangers_get_404_for_other_studies(client, login, make_user, make_session, role, status):
    study_session = make_session()
    login(make_user(role))
    for url in (f"/studies/{study_session.study_id}", f"/sessions/{study_session.id}",
                f"/sessions/{study_session.id}/calendar.ics"):
        assert client.get(url).status_code == status, url


def test_clients_never_see_planning_pages(client, login, make_user, make_session):
    study_session = make_session()
    login(make_user(Role.CLIENT))
    for url in ("/studies", "/studies/new", f"/studies/{study_session.study_id}",
                f"/sessions/{study_session.id}", "/agenda"):
        assert client.get(url).status_code == 403, url
    assert "Studies" not in client.get("/profile").get_data(as_text=True).split("<main")[0]


def _form_values(html: str) -> dict[str, str]:
    """The values a browser would submit unchanged from the page's inputs, selects and textareas."""
    values = dict(re.findall(r'<input[^>]*?name="(\w+)"[^>]*?value="([^"]*)"', html))
    for name, body in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', html, re.S):
        values[name] = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected',
                                 body).group(1)
    for name, text in re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', html, re.S):
        values[name] = unescape(text.lstrip("\n"))
    return {name: unescape(value) for name, value in values.items()}


def test_saving_the_edit_form_unchanged_keeps_the_study_with_its_client(client, login, db, make_study):
    study = make_study(status=StudyStatus.ACTIVE)
    organisation = study.organisation
    login(study.owner)
    form = _form_values(client.get(f"/studies/{study.id}/edit").get_data(as_text=True))
    assert form["organisation"] == str(organisation.id)
    response = client.post(f"/studies/{study.id}/edit", data={**form, "title": "Renamed"})
    assert response.status_code == 302
    assert (study.title, study.organisation_id) == ("Renamed", organisation.id)
    assert db.session.scalar(db.select(db.func.count()).select_from(Organisation)) == 1


def test_moderator_cannot_also_observe_the_same_session(client, login, make_study, make_participant,
                                                        make_session):
    study = make_study()
    participant = make_participant(study)
    login(study.owner)
    data = _session_form(participant, study.owner, observers=[study.owner.id])
    response = client.post(f"/studies/{study.id}/sessions/new", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The moderator cannot also be an observer of the same session." in html
    assert study.sessions == []
    scheduled = make_session(study=study, participant=participant,
                             starts_at=datetime(2030, 1, 15, 10, tzinfo=UTC))
    response = client.post(f"/sessions/{scheduled.id}/reschedule",
                           data={**data, "version": scheduled.version})
    assert response.status_code == 400
    assert "The moderator cannot also be an observer of the same session." in response.get_data(as_text=True)
    assert scheduled.observers == []


def test_after_editing_a_study_in_its_form_the_client_still_gets_its_published_report(
        client, login, db, make_study, make_user):
    from usabtest.reports import services as report_services

    study = make_study(tasks=1, organisation=Organisation(name="Northwind Savings Bank"),
                       status=StudyStatus.ACTIVE)
    reader = make_user(Role.CLIENT, organisation=study.organisation)
    report = report_services.publish(study, study.owner, "A4", "First issue")
    db.session.commit()
    login(study.owner)
    form = _form_values(client.get(f"/studies/{study.id}/edit").get_data(as_text=True))
    assert client.post(f"/studies/{study.id}/edit", data={**form, "goals": "New goals"}).status_code == 302
    client.post("/logout")
    login(reader)
    assert study.title in client.get("/portal").get_data(as_text=True)
    download = client.get(f"/reports/{report.id}/download")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
