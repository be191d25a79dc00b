"""The console's layout: the note box and the running task's end-task controls in view together."""

import pytest
from playwright.sync_api import expect

from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest import builders

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]

SCENARIO = ("You want to send 40 euros to a friend who lent you money for concert tickets. "
            "Use the app to make the transfer, then find where you can check that it went through.")


def _ten_task_session(db, make_study, make_session):
    study = make_study()
    for n in range(1, 11):
        builders.make_task(study, f"Task {n}: a realistic title of some length", scenario=SCENARIO,
                           success_criteria="The confirmation screen shows the transfer", time_limit_s=300)
    db.session.commit()
    return make_session(study=study)


def _running_task_console(page, base_url, study_session, task_number):
    page.goto(f"{base_url}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    page.get_by_role("button", name="Start session").click()
    page.get_by_role("button", name=f"Start task {task_number}", exact=True).click()
    expect(page.locator("#end-task-form")).to_be_visible()


def _in_viewport(page, selector):
    """The element's box lies wholly inside the viewport as the page stands (nothing scrolled)."""
    box = page.locator(selector).bounding_box()
    view = page.viewport_size
    assert box is not None, f"{selector} is not rendered"
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= view["width"] + 0.5, (selector, box, view)
    assert box["y"] + box["height"] <= view["height"] + 0.5, (selector, box, view)
    return box


@pytest.mark.browser_context(viewport={"width": 1280, "height": 800})
def test_laptop_keeps_note_box_current_task_and_end_controls_in_view_with_ten_tasks(
        db, page, live_server, browser_login, make_study, make_session, streams_closed):
    streams_closed(page.context)
    study_session = _ten_task_session(db, make_study, make_session)
    browser_login(page, live_server, study_session.study.owner)
    _running_task_console(page, live_server, study_session, 7)  # a task far down the script
    assert page.evaluate("window.scrollY") == 0
    _in_viewport(page, "#note-input")
    _in_viewport(page, "#note-form button[type=submit]")
    _in_viewport(page, "#current-task")
    _in_viewport(page, "#end-outcome")
    _in_viewport(page, "#end-task-form button[type=submit]")
    expect(page.locator("#current-task")).to_have_text("Task 7: Task 7: a realistic title of some length")
    # Two columns: the running task beside the note box, and the script stays open.
    assert page.locator("#current-task").bounding_box()["x"] < page.locator("#note-input").bounding_box()["x"]
    expect(page.locator("#script-details")).to_have_attribute("open", "")


@pytest.mark.browser_context(viewport={"width": 768, "height": 1024})
def test_portrait_tablet_puts_the_note_box_first_and_folds_the_script(
        db, page, live_server, browser_login, make_study, make_session, streams_closed):
    streams_closed(page.context)
    study_session = _ten_task_session(db, make_study, make_session)
    browser_login(page, live_server, study_session.study.owner)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#script-details")).not_to_have_attribute("open", "")
    page.get_by_role("button", name="Start session").click()
    page.get_by_role("button", name="Start next task (1.").click()  # the button beside the note box
    expect(page.locator("#end-task-form")).to_be_visible()
    assert page.evaluate("window.scrollY") == 0
    note = _in_viewport(page, "#note-input")
    outcome = _in_viewport(page, "#end-outcome")
    _in_viewport(page, "#end-task-form button[type=submit]")
    assert note["y"] < outcome["y"]  # one column, the note box first
    script = page.locator("#script-details").bounding_box()
    assert note["y"] < script["y"]
    page.locator("#script-details summary").click()  # the folded script opens on demand
    expect(page.locator("#task-list")).to_be_visible()


@pytest.mark.browser_context(viewport={"width": 390, "height": 844})
def test_phone_puts_the_note_box_first(db, page, live_server, browser_login, make_study, make_session,
                                       streams_closed):
    streams_closed(page.context)
    study_session = _ten_task_session(db, make_study, make_session)
    browser_login(page, live_server, study_session.study.owner)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#task-list")).to_be_hidden()
    note = page.locator("#note-input").bounding_box()
    assert note["y"] < page.locator(".current").bounding_box()["y"]
    assert note["y"] < page.locator("#script-details").bounding_box()["y"]
    assert note["x"] + note["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off sideways
