"""Accessibility audit of the live console and the participant screen, with focus and live regions."""

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest.planning.models import ScreenLanguage

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]


def _console(page, base_url, study_session):
    page.goto(f"{base_url}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")


def test_console_has_no_serious_violation_in_any_state(db, page, live_server, browser_login, make_session,
                                                       streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    browser_login(page, live_server, study_session.moderator)
    _console(page, live_server, study_session)
    assert_accessible(page)  # scheduled
    page.keyboard.press("Alt+S")
    expect(page.locator("#start-next")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#end-task-form")).to_be_visible()
    # The focus reaches the note box a moment after the form shows: keys typed before then are lost.
    expect(page.locator("#note-input")).to_be_focused()
    page.keyboard.type("Looks for the basket")
    page.keyboard.press("Enter")
    expect(page.locator("#log li", has_text="Looks for the basket")).to_contain_text("Saved")
    assert_accessible(page)  # a task running, the end-task choice shown, a note in the log
    page.keyboard.press("Alt+D")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#end-task-form")).to_be_hidden()
    page.get_by_role("button", name="Ask the SEQ of task 1 on the participant screen").click()
    expect(page.locator("#question-status")).to_contain_text("Waiting for the answer")
    assert_accessible(page)  # between tasks, a question on the participant screen
    page.locator("#note-input").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    expect(page.locator("#help-close")).to_be_focused()
    assert_accessible(page)  # the shortcut overlay
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()


@pytest.mark.browser_context(viewport={"width": 390, "height": 844})
def test_console_on_a_phone_has_no_serious_violation(db, page, live_server, browser_login, make_session,
                                                     streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    browser_login(page, live_server, study_session.moderator)
    _console(page, live_server, study_session)
    assert_accessible(page)


def test_live_regions_speak_without_taking_the_focus(db, browser, page, live_server, browser_login,
                                                     make_user, make_session, streams_closed):
    observer = make_user("observer", name="Olga Observer")
    study_session = make_session(observers=[observer])
    streams_closed(page.context)
    browser_login(page, live_server, study_session.moderator)
    _console(page, live_server, study_session)
    # Each status line is a live region (polite, or an alert for refusals) that is in the page from
    # the start, so assistive technology hears what later appears in it.
    roles = page.evaluate("""Object.fromEntries(['connection', 'queue-status', 'question-status', 'sus-score',
        'task-alert', 'moderator-message', 'note-message'].map((id) => {
          const node = document.getElementById(id);
          if (!node) { return [id, null]; }
          return [id, (node.getAttribute('role') || '') + '/' + (node.getAttribute('aria-live') || '')];
        }))""")
    assert roles == {"connection": "status/", "queue-status": "status/", "question-status": "status/",
                     "sus-score": "status/", "task-alert": "status/polite", "moderator-message": "alert/",
                     "note-message": "alert/"}
    assert page.locator("#log").locator("xpath=..").get_attribute("role") == "log"

    other_context = browser.new_context()
    streams_closed(other_context)
    other = other_context.new_page()
    browser_login(other, live_server, observer)
    _console(other, live_server, study_session)
    note = page.get_by_label("Note", exact=True)
    note.focus()
    page.keyboard.type("Half a thought")
    other.get_by_label("Note", exact=True).fill("The participant sighs")
    other.get_by_label("Note", exact=True).press("Enter")
    expect(page.locator("#log li", has_text="The participant sighs")).to_be_visible()
    page.get_by_role("button", name="Start session").focus()
    page.keyboard.press("Enter")  # a session event arrives in both logs
    expect(other.locator("#log")).to_contain_text("started the session")
    expect(other.get_by_label("Note", exact=True)).to_have_value("")
    # The arrivals neither moved the observer's focus nor touched what they were typing.
    other.get_by_label("Note", exact=True).focus()
    other.keyboard.type("Next thought")
    page.get_by_role("button", name="Start next task (1.").click()
    expect(other.locator("#log")).to_contain_text("started task 1")
    expect(other.locator("#note-input")).to_be_focused()
    expect(other.get_by_label("Note", exact=True)).to_have_value("Next thought")
    expect(note).to_have_value("Half a thought")
    other_context.close()


@pytest.mark.parametrize("language", [ScreenLanguage.EN, ScreenLanguage.DE])
def test_participant_screen_questions_have_no_serious_violation(
        db, client, login, page, live_server, make_session, language):
    study_session = make_session()
    study_session.study.language = language
    db.session.commit()
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    headers = {"X-CSRFToken": token}
    client.post(f"{base}/start", headers=headers)
    screen_url = client.post(f"{base}/screen", headers=headers).get_json()["url"]
    page.goto(f"{live_server}/screen/{screen_url.rsplit('/', 1)[1]}")
    assert_accessible(page)  # the welcome
    task = study_session.study.tasks[0]
    client.post(f"{base}/tasks/{task.id}/start", headers=headers)
    client.post(f"{base}/tasks/{task.id}/end", json={"outcome": "success"}, headers=headers)
    client.post(f"{base}/screen/question", json={"kind": "seq"}, headers=headers)
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", language.value)
    assert_accessible(page)  # the SEQ
    client.post(f"{base}/screen/question", json={"kind": "sus"}, headers=headers)
    page.reload()
    page.locator("button[type=submit]").click()  # nothing chosen: every statement marked
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)  # the SUS with its errors
