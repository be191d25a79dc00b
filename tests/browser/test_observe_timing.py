"""The console's task timer and time-limit alert, and the moderator's undo and restart, in a real browser."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest.observe.models import TaskAttempt

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]


def _started_console(page, base_url, study_session):
    page.goto(f"{base_url}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#session-status")).to_have_text("In progress")


def test_task_timer_shows_the_limit_and_announces_it_passing_without_taking_focus(
        db, page, live_server, browser_login, make_study, make_session, streams_closed):
    streams_closed(page.context)
    study = make_study(tasks=2)
    study.tasks[0].time_limit_s = 2
    db.session.commit()
    study_session = make_session(study=study)
    browser_login(page, live_server, study.owner)
    _started_console(page, live_server, study_session)
    expect(page.locator("#task-clock-box")).to_be_hidden()
    page.get_by_role("button", name="Start task 1").click()
    expect(page.locator("#task-clock-box")).to_be_visible()
    expect(page.locator("#task-limit")).to_have_text("limit 0:02")
    note = page.get_by_label("Note", exact=True)
    note.click()
    page.keyboard.type("Hesitates over the menu")
    alert = page.locator("#task-alert")
    assert alert.get_attribute("aria-live") == "polite"
    expect(alert).to_have_text("Task 1: Task 1 has passed its time limit of 0:02.", timeout=6000)
    expect(page.locator("#task-clock-box")).to_have_class("clock-box task-clock-box over")
    # The alert neither moved the focus nor disturbed the note being typed.
    assert page.evaluate("document.activeElement.id") == "note-input"
    expect(note).to_have_value("Hesitates over the menu")
    expect(page.locator("#task-clock")).not_to_have_text("0:00")

    page.get_by_role("radio", name="Success").check()
    page.get_by_role("button", name="End task").click()
    expect(page.locator("#task-clock-box")).to_be_hidden()
    expect(alert).to_have_text("")
    page.get_by_role("button", name="Start task 2").click()  # no limit: the timer says so
    expect(page.locator("#task-limit")).to_have_text("no time limit")


def test_moderator_undoes_a_mistaken_start_then_restarts_a_finished_task(
        db, page, live_server, browser_login, make_session, streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    browser_login(page, live_server, study_session.moderator)
    _started_console(page, live_server, study_session)
    page.get_by_role("button", name="Start task 2").click()
    undo = page.get_by_role("button", name="Undo start of task 2")
    expect(undo).to_be_visible()
    undo.click()
    expect(page.get_by_role("button", name="Start task 2")).to_be_visible()
    expect(page.locator("#log")).to_contain_text("undid the start of task 2")
    assert page.evaluate("document.activeElement.id") == "note-input"

    page.get_by_role("button", name="Start task 1").click()
    page.get_by_role("radio", name="Failure").check()
    page.get_by_role("button", name="End task").click()
    page.get_by_role("button", name="Restart task 1").click()
    first_task = page.locator('#task-list [data-task-id] >> nth=0')
    expect(first_task).to_have_attribute("data-state", "running")
    expect(first_task.locator('[data-role="state"]')).to_have_text("Running · attempt 2")
    page.get_by_role("button", name="Restart this task").click()
    expect(page.locator("#log")).to_contain_text("restarted task 1")
    page.get_by_role("radio", name="Success").check()
    page.get_by_role("button", name="End task").click()
    expect(page.locator("#end-task-form")).to_be_hidden()
    expect(first_task.locator('[data-role="state"]')).to_have_text("Success · 0 errors · attempt 3")
    page.reload()  # the page names the latest attempt too (the replayed events then redraw it alike)
    expect(first_task.locator('[data-role="state"]')).to_contain_text("Success")
    expect(first_task.locator('[data-role="state"]')).to_contain_text("attempt 3")
    db.session.rollback()
    attempts = db.session.scalars(sa.select(TaskAttempt).order_by(TaskAttempt.number)).all()
    assert [(a.number, a.outcome.value if a.outcome else None) for a in attempts] == [
        (1, "failure"), (2, None), (3, "success")]
