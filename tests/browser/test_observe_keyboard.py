"""The console run from the keyboard alone: focus after each step, notes timed from their first key."""

import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest.observe.models import Note, TaskAttempt

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]


def _focused(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def _tab_to(page, element_id: str, limit: int = 20) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page) == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_keyboard_only_from_sign_in_to_a_task_ended_with_its_outcome(
        db, page, live_server, make_session, streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    moderator = study_session.moderator
    page.goto(f"{live_server}/login")
    _tab_to(page, "email")
    page.keyboard.type(moderator.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")  # typed into the address bar
    expect(page.locator("#connection")).to_have_text("Live")

    page.keyboard.press("Alt+S")  # starts the session...
    expect(page.locator("#session-status")).to_have_text("In progress")
    expect(page.locator("#start-next")).to_be_focused()  # ...and the focus waits on the next step
    page.keyboard.press("Enter")
    expect(page.locator("#end-task-form")).to_be_visible()
    expect(page.locator("#note-input")).to_be_focused()
    page.keyboard.type("Finds the basket at once")
    page.keyboard.press("Enter")
    expect(page.locator("#log li", has_text="Finds the basket at once")).to_contain_text("Saved")
    expect(page.locator("#note-input")).to_be_focused()

    # From the note box, three keys end the task: the end-task choice, the outcome, Enter.
    page.keyboard.press("Alt+D")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#end-task-form")).to_be_hidden()
    expect(page.locator("#note-input")).to_be_focused()
    first_task = page.locator("#task-list [data-task-id] >> nth=0")
    expect(first_task.locator('[data-role="state"]')).to_have_text("Success · 0 errors")
    db.session.rollback()
    attempt = db.session.scalars(sa.select(TaskAttempt)).one()
    assert attempt.outcome.value == "success" and attempt.ended_at is not None

    # Ending the session leaves the focus on its next step, the SUS.
    page.once("dialog", lambda dialog: dialog.accept())
    _tab_to(page, "end-session", limit=40)
    page.keyboard.press("Enter")
    expect(page.locator("#session-status")).to_have_text("Completed")
    expect(page.locator("#sus-link")).to_be_focused()


def test_a_notes_time_is_its_first_keystroke_not_enter(db, page, live_server, browser_login, make_session,
                                                       streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    browser_login(page, live_server, study_session.moderator)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#session-status")).to_have_text("In progress")
    db.session.rollback()
    started = study_session.started_at.timestamp()
    note = page.get_by_label("Note", exact=True)
    note.focus()
    page.keyboard.type("C")
    first_key = time.time()
    time.sleep(2.2)
    page.keyboard.type("licks the logo twice")
    enter = time.time()
    page.keyboard.press("Enter")
    expect(page.locator("#log li", has_text="Clicks the logo twice")).to_contain_text("Saved")
    db.session.rollback()
    stored = db.session.scalars(sa.select(Note)).one()
    assert stored.body == "Clicks the logo twice"
    at_first_key = (first_key - started) * 1000
    at_enter = (enter - started) * 1000
    assert abs(stored.elapsed_ms - at_first_key) < 700, (stored.elapsed_ms, at_first_key, at_enter)
    assert at_enter - stored.elapsed_ms > 1500


def test_focus_returns_to_the_note_box_after_saving_an_edited_note(
        db, page, live_server, browser_login, make_session, streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    browser_login(page, live_server, study_session.moderator)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    page.get_by_label("Note", exact=True).fill("Pauses at the basket")
    page.get_by_label("Note", exact=True).press("Enter")
    entry = page.locator("#log li", has_text="Pauses at the basket")
    expect(entry).to_contain_text("Saved")
    entry.get_by_role("button", name="Edit note").click()
    edit = page.get_by_role("textbox", name="Edit note")
    expect(edit).to_be_focused()
    edit.fill("Pauses at the basket for ten seconds")
    edit.press("Enter")
    expect(page.locator("#log li", has_text="for ten seconds")).to_contain_text("Saved")
    expect(page.locator("#note-input")).to_be_focused()
    # Escape gives the edit up and goes back to the note's Edit button.
    entry.get_by_role("button", name="Edit note").click()
    page.get_by_role("textbox", name="Edit note").press("Escape")
    expect(entry.get_by_role("button", name="Edit note")).to_be_focused()


def test_shortcut_overlay_lists_every_shortcut_with_the_studys_tag_keys(
        db, page, live_server, browser_login, make_session, make_tag, streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    make_tag(study_session.study, "slow page", shortcut="W")
    browser_login(page, live_server, study_session.moderator)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    text = dialog.inner_text()
    for keys in ("Alt+N", "Alt+K", "Alt+W", "Alt+S", "Alt+D", "Alt+-", "Esc", "Shift+Enter"):
        assert keys in text, keys
    assert "slow page" in text and "Outcome “Success”" in text and "Outcome “Skipped”" in text
    # Every Alt shortcut the page declares on a control is in the overlay.
    declared = page.evaluate("""Array.from(document.querySelectorAll('[aria-keyshortcuts]'))
        .flatMap((node) => node.getAttribute('aria-keyshortcuts').split(' '))""")
    for keys in declared:
        assert keys in text, keys
