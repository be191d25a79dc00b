"""Destructive actions in a real browser: a dialog with JavaScript, a page without."""

import pytest
from playwright.sync_api import expect

from usabtest.planning.models import SessionStatus, StudySession

pytestmark = pytest.mark.browser


def _status(db, session_id: int) -> SessionStatus:
    db.session.rollback()
    return db.session.get(StudySession, session_id).status


def test_cancel_session_asks_in_a_dialog_and_cancel_keeps_it(page, live_server, make_session, browser_login,
                                                            db):
    study_session = make_session()
    session_id = study_session.id
    browser_login(page, live_server, study_session.study.owner)
    page.goto(f"{live_server}/sessions/{session_id}")

    page.get_by_role("button", name="Cancel session").click()
    dialog = page.get_by_role("dialog", name="Cancel the session with P01")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("nobody is told automatically")
    expect(dialog.get_by_role("button", name="Keep the session")).to_be_focused()
    page.screenshot(path="/tmp/shots/confirm-dialog.png")
    dialog.get_by_role("button", name="Keep the session").click()
    expect(dialog).to_have_count(0)
    assert page.url.endswith(f"/sessions/{session_id}")
    assert _status(db, session_id) == SessionStatus.SCHEDULED

    page.get_by_role("button", name="Cancel session").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel session").click()
    page.get_by_text("Session cancelled.").wait_for()
    assert _status(db, session_id) == SessionStatus.CANCELLED


@pytest.mark.browser_context(java_script_enabled=False)
def test_without_javascript_the_question_is_a_page(page, live_server, make_session, browser_login, db):
    study_session = make_session()
    session_id = study_session.id
    browser_login(page, live_server, study_session.study.owner)
    page.goto(f"{live_server}/sessions/{session_id}")

    page.get_by_role("button", name="Cancel session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancel the session with P01")
    page.screenshot(path="/tmp/shots/confirm-page.png", full_page=True)
    assert _status(db, session_id) == SessionStatus.SCHEDULED
    page.get_by_role("link", name="Keep the session").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Session with P01")

    page.get_by_role("button", name="Cancel session").click()
    page.get_by_role("button", name="Cancel session").click()
    page.get_by_text("Session cancelled.").wait_for()
    assert _status(db, session_id) == SessionStatus.CANCELLED


def test_deleting_notes_from_the_board_asks_in_a_dialog(page, live_server, make_session, make_note,
                                                       browser_login, db):
    study_session = make_session()
    study = study_session.study
    kept = make_note(study_session, study.owner, "Keeps this one")
    gone = make_note(study_session, study.owner, "Deletes this one")
    gone_id, study_id = gone.id, study.id
    browser_login(page, live_server, study.owner)
    page.goto(f"{live_server}/studies/{study_id}/notes")

    page.get_by_label(f"Select note {gone_id} by P01").check()
    page.get_by_role("button", name="Delete notes").click()
    dialog = page.get_by_role("dialog", name="Delete 1 note?")
    expect(dialog).to_contain_text("1 note goes to Recently deleted for 30 days")
    dialog.get_by_role("button", name="Delete 1 note").click()
    page.get_by_text("1 note moved to Recently deleted.").wait_for()
    expect(page.locator(".notes-table")).not_to_contain_text("Deletes this one")
    expect(page.locator(".notes-table")).to_contain_text(kept.body)

    page.get_by_role("link", name="Recently deleted").first.click()
    page.get_by_role("button", name="Restore the note by").click()
    page.get_by_text("Note restored").wait_for()
    page.goto(f"{live_server}/studies/{study_id}/notes")
    expect(page.locator(".notes-table")).to_contain_text("Deletes this one")
