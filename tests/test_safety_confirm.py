"""Destructive actions ask first, naming what will happen, and act only once confirmed (no JavaScript).

Each test asks through the page's own button (a POST without `confirmed`), checks that nothing
changed and that the consequences are named with their counts, then sends the confirmation form
the server rendered, as a browser without JavaScript would.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.confirm_helpers import ask, confirm, text
from usabtest import builders
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role, User
from usabtest.analysis.models import Finding
from usabtest.db import utcnow
from usabtest.planning.models import SessionStatus, StudyStatus, Task
from usabtest.reports.models import PublishedReport

CONFIRM_DIALOG = {"X-Confirm-Dialog": "1"}


# --- sessions -----------------------------------------------------------------------------------


@pytest.mark.config(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT=1)
def test_cancel_session_names_who_will_be_emailed_and_waits_for_confirmation(client, login, db, make_user,
                                                                             make_session):
    olive, otto = make_user(Role.OBSERVER), make_user(Role.OBSERVER)
    study_session = make_session(observers=[olive, otto])
    login(study_session.study.owner)
    url = f"/sessions/{study_session.id}/cancel"

    page = client.get(f"/sessions/{study_session.id}").get_data(as_text=True)
    assert f'action="{url}" class="inline" data-confirm' in page  # the page's button asks first
    assert client.get(url).status_code == 200  # a GET only asks too
    html, form = ask(client, url)
    said = text(html)
    assert "Cancel the session with P01" in said
    assert "4 people will be e-mailed a cancellation: P01 and 3 team members." in said
    assert "This cannot be undone" in said
    assert form.cancel == f"/sessions/{study_session.id}"
    db.session.refresh(study_session)
    assert study_session.status == SessionStatus.SCHEDULED and study_session.ics_sequence == 0


def test_cancel_session_without_mail_says_nobody_is_told_and_confirming_cancels(client, login, db,
                                                                                make_session):
    study_session = make_session()
    login(study_session.study.owner)
    html, form = ask(client, f"/sessions/{study_session.id}/cancel")
    assert "nobody is told automatically" in text(html)
    response = confirm(client, form)
    assert response.status_code == 302
    db.session.refresh(study_session)
    assert study_session.status == SessionStatus.CANCELLED
    again = client.post(f"/sessions/{study_session.id}/cancel", follow_redirects=True)
    assert "A cancelled session cannot be cancelled." in again.get_data(as_text=True)  # no question


def test_no_show_asks_then_records(client, login, db, make_session):
    past = make_session(starts_at=utcnow() - timedelta(minutes=30))
    login(past.study.owner)
    html, form = ask(client, f"/sessions/{past.id}/no-show")
    assert "Mark the session with P01" in html and "Nobody is e-mailed." in html
    db.session.refresh(past)
    assert past.status == SessionStatus.SCHEDULED
    confirm(client, form)
    db.session.refresh(past)
    assert past.status == SessionStatus.NO_SHOW


def test_no_show_refused_before_the_start_without_asking(client, login, make_session):
    upcoming = make_session()
    login(upcoming.study.owner)
    response = client.post(f"/sessions/{upcoming.id}/no-show", follow_redirects=True)
    assert "once its start time has passed" in response.get_data(as_text=True)


# --- studies and tasks --------------------------------------------------------------------------


def test_close_study_counts_scheduled_sessions(client, login, db, make_session):
    first = make_session()
    builders.make_session(first.study, builders.make_participant(first.study))
    db.session.commit()
    study = first.study
    login(study.owner)
    html, form = ask(client, f"/studies/{study.id}/close")
    assert "Its 2 scheduled sessions stay scheduled" in text(html)
    db.session.refresh(study)
    assert study.status != StudyStatus.CLOSED
    confirm(client, form)
    db.session.refresh(study)
    assert study.status == StudyStatus.CLOSED


def test_remove_task_without_attempts_asks_to_delete_and_counts_its_notes(client, login, db, make_session,
                                                                          make_note):
    study_session = make_session()
    task = study_session.study.tasks[0]
    owner = study_session.study.owner
    make_note(study_session, owner, "one", task=task)
    make_note(study_session, owner, "two", task=task)
    make_note(study_session, owner, "gone", task=task, deleted_at=utcnow())
    task_id = task.id
    login(owner)
    html, form = ask(client, f"/tasks/{task_id}/remove")
    said = text(html)
    assert "Delete the task “Task 1”?" in said
    assert "The 2 notes filed under it stay on the notes board, without a task." in said
    assert db.session.get(Task, task_id) is not None
    confirm(client, form)
    db.session.expire_all()
    assert db.session.get(Task, task_id) is None


def test_remove_task_with_attempts_asks_to_archive(client, login, db, make_session):
    study_session = make_session()
    task = study_session.study.tasks[0]
    builders.make_task_attempt(study_session, task)
    db.session.commit()
    login(study_session.study.owner)
    html, form = ask(client, f"/tasks/{task.id}/remove")
    assert "Archive the task" in html and "It has 1 recorded attempt" in html
    assert not task.archived
    confirm(client, form)
    db.session.refresh(task)
    assert task.archived
    again = client.post(f"/tasks/{task.id}/remove", follow_redirects=True)
    assert "already archived" in again.get_data(as_text=True)


# --- users --------------------------------------------------------------------------------------


def test_deactivating_a_user_asks_counts_tokens_and_a_repeat_is_harmless(client, login, db, make_user):
    admin, victim = make_user(Role.ADMIN), make_user(Role.RESEARCHER, name="Vic Tim")
    account_services.issue_token(victim, "laptop")
    account_services.issue_token(victim, "ci")
    db.session.commit()
    login(admin)
    html, form = ask(client, f"/admin/users/{victim.id}/active", {"active": "no"})
    said = text(html)
    assert "Deactivate Vic Tim" in said and "2 API tokens stop working." in said
    db.session.refresh(victim)
    assert victim.active
    confirm(client, form)
    db.session.refresh(victim)
    assert not victim.active
    # The same confirmation sent twice (a double click, a reload) does not reactivate the account.
    repeat = confirm(client, form)
    assert repeat.status_code == 302
    db.session.refresh(victim)
    assert not victim.active
    # Reactivating asks nothing.
    client.post(f"/admin/users/{victim.id}/active", data={"active": "yes"})
    db.session.refresh(victim)
    assert victim.active


# --- reports ------------------------------------------------------------------------------------


@pytest.mark.config(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT=1)
def test_publishing_asks_naming_the_version_and_the_client_users_mailed(client, login, db, make_study,
                                                                        make_org, make_user):
    org = make_org("Northwind")
    study = make_study(tasks=1, organisation=org)
    for _ in range(3):
        make_user(Role.CLIENT, organisation=org)
    login(study.owner)
    html, form = ask(client, f"/studies/{study.id}/report/publish",
                     {"page_size": "Letter", "change_note": "For the board", "gap_reason": "Interim issue"})
    said = text(html)
    assert "Publish version 1 of the report" in said
    assert "3 client users of Northwind will be e-mailed a link to their portal." in said
    assert ("change_note", "For the board") in form.fields and ("page_size", "Letter") in form.fields
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedReport)) == 0


def test_confirmed_publish_keeps_the_typed_change_note(client, login, db, make_study):
    study = make_study(tasks=1)
    login(study.owner)
    _html, form = ask(client, f"/studies/{study.id}/report/publish",
                      {"page_size": "A4", "change_note": "Ü 1", "gap_reason": "Interim issue"})
    assert confirm(client, form).status_code == 302
    report = db.session.scalar(sa.select(PublishedReport))
    assert (report.version, report.change_note, report.page_size) == (1, "Ü 1", "A4")


def test_revoking_a_share_link_asks_first(app, client, login, db, make_study):
    from usabtest.reports import services as report_services

    study = make_study(tasks=1)
    report = report_services.publish(study, study.owner)
    link = report_services.create_share_link(report, study.owner, 7)
    db.session.commit()
    login(study.owner)
    html, form = ask(client, f"/share-links/{link.id}/revoke")
    assert "can no longer download version 1" in html
    assert report_services.link_is_live(link)
    confirm(client, form)
    db.session.refresh(link)
    assert link.revoked_at is not None


# --- analysis -----------------------------------------------------------------------------------


def test_merge_asks_with_counts_and_keeps_both_until_confirmed(client, login, db, make_session, make_note):
    study_session = make_session()
    study, owner = study_session.study, study_session.study.owner
    notes = [make_note(study_session, owner, f"n{i}") for i in range(3)]
    target = builders.make_finding(study, "Target", notes=notes[:1])
    source = builders.make_finding(study, "Source", severity=4, notes=notes,
                                   screenshots=[builders.make_screenshot(b"x", width=1, height=1)])
    db.session.commit()
    source_id = source.id
    login(owner)
    html, form = ask(client, f"/studies/{study.id}/findings/{target.id}/merge", {"source": str(source_id)})
    said = text(html)
    assert "2 evidence notes, 1 screenshot and 0 affected tasks of “Source” move to “Target”" in said
    assert "The severity becomes 4 – Catastrophe" in said
    assert db.session.get(Finding, source_id) is not None
    confirm(client, form)
    db.session.expire_all()
    assert db.session.get(Finding, source_id) is None


def test_reset_order_asks_only_when_an_order_was_made_by_hand(client, login, db, make_study):
    study = make_study()
    first = builders.make_finding(study, "First", position=0)
    builders.make_finding(study, "Second", position=1)
    db.session.commit()
    login(study.owner)
    html, form = ask(client, f"/studies/{study.id}/findings/reset-order")
    assert "The order you gave 2 findings by hand is forgotten" in text(html)
    confirm(client, form)
    db.session.refresh(first)
    assert first.position is None


# --- the shared pattern -------------------------------------------------------------------------


def test_the_dialog_gets_only_the_question(client, login, make_session):
    study_session = make_session()
    login(study_session.study.owner)
    response = client.post(f"/sessions/{study_session.id}/cancel", headers=CONFIRM_DIALOG)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div class="confirm-box">') and '<h2 id="confirm-title">' in html


def test_every_data_confirm_form_of_the_pages_asks(client, login, db, make_session, make_user):
    """Each button marked `data-confirm` on the main pages answers a question, never acts at once."""
    study_session = make_session(starts_at=utcnow() - timedelta(minutes=5))
    study = study_session.study
    builders.make_finding(study, "Shown", position=0)
    db.session.commit()
    admin = make_user(Role.ADMIN)
    make_user(Role.OBSERVER)
    pages = [f"/studies/{study.id}", f"/sessions/{study_session.id}", f"/studies/{study.id}/findings"]
    login(study.owner)
    actions = _confirm_actions(client, pages)
    login(admin)
    actions |= _confirm_actions(client, ["/admin/users"])
    assert len(actions) >= 6
    for action, fields in sorted(actions):
        response = client.post(action, data=dict(fields))
        assert response.status_code == 200, action
        assert 'name="confirmed" value="yes"' in response.get_data(as_text=True), action
    db.session.expire_all()
    assert db.session.get(type(study_session), study_session.id).status == SessionStatus.SCHEDULED
    assert all(u.active for u in db.session.scalars(sa.select(User)))


FORM = r'<form method="post" action="([^"]+)"[^>]*data-confirm>(.*?)</form>'


def _confirm_actions(client, pages: list[str]) -> set[tuple[str, tuple]]:
    found = set()
    for page in pages:
        html = client.get(page).get_data(as_text=True)
        for match in re.finditer(FORM, html, re.S):
            hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2))
            fields = tuple((n, v) for n, v in hidden if n != "csrf_token")
            found.add((match.group(1), fields))
    return found


@pytest.mark.csrf
def test_confirmation_form_carries_a_valid_csrf_token(client, db, make_session):
    study_session = make_session()
    owner = study_session.study.owner
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert client.post("/login", data={"email": owner.email, "password": builders.DEFAULT_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    page = client.get(f"/sessions/{study_session.id}").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    html, form = ask(client, f"/sessions/{study_session.id}/cancel", {"csrf_token": token})
    assert confirm(client, form).status_code == 302
    db.session.refresh(study_session)
    assert study_session.status == SessionStatus.CANCELLED
