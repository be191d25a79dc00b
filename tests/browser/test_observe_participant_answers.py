"""The participant answers the SEQ and the SUS on their own screen; the moderator's console shows them."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest.observe import sus
from usabtest.observe.models import SusResponse, TaskAttempt

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]

SUS = [4, 2, 4, 1, 5, 2, 4, 2, 4, 1]


def _console_after_first_task(page, base_url, study_session):
    page.goto(f"{base_url}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    page.get_by_role("button", name="Start session").click()
    page.get_by_role("button", name="Start task 1", exact=True).click()
    page.get_by_role("radio", name="Success").check()
    page.get_by_role("button", name="End task").click()
    expect(page.locator("#end-task-form")).to_be_hidden()


def test_participant_answers_the_seq_and_the_sus_on_their_screen_and_the_console_shows_them(
        db, browser, page, live_server, browser_login, make_session, streams_closed):
    streams_closed(page.context)
    study_session = make_session()
    browser_login(page, live_server, study_session.moderator)
    _console_after_first_task(page, live_server, study_session)
    db.session.rollback()  # see what the server committed
    participant_context = browser.new_context()
    streams_closed(participant_context)
    screen = participant_context.new_page()
    screen.goto(f"{live_server}/screen/{study_session.screen_token}")
    expect(screen.get_by_role("heading", level=1)).to_have_text("Thank you")

    # The SEQ: asked from the console, answered from the keyboard on the participant's screen.
    page.get_by_role("button", name="Ask the SEQ of task 1 on the participant screen").click()
    expect(page.locator("#question-status")).to_contain_text("Waiting for the answer")
    seq_group = screen.get_by_role("group", name="Overall, how difficult or easy was this task to complete?")
    expect(seq_group).to_be_visible(timeout=5000)  # the polling screen reloads with the question
    seq_group.get_by_role("radio", name="6", exact=True).check()
    screen.get_by_role("button", name="Send my answer").press("Enter")
    expect(screen.get_by_text("Thank you, your answer was received.")).to_be_visible()
    first_task = page.locator("#task-list [data-task-id] >> nth=0")
    expect(first_task.locator('[data-role="state"]')).to_have_text("Success · 0 errors · SEQ 6")
    expect(page.locator("#question-status")).to_have_text("The participant answered the SEQ of task 1: 6.")

    # The SUS, with a statement left out first: the screen says which, and nothing is stored.
    page.get_by_role("button", name="Ask the SUS on the participant screen").click()
    expect(screen.get_by_role("heading", name="A short questionnaire")).to_be_visible(timeout=5000)
    scale = dict(sus.SCALE_LABELS)
    for number, (statement, answer) in enumerate(zip(sus.STATEMENTS, SUS, strict=True), start=1):
        if number == 10:
            continue
        group = screen.get_by_role("group", name=f"{number}. {statement}")
        group.get_by_role("radio", name=scale[answer], exact=True).check()
    screen.get_by_role("button", name="Send my answers").click()
    expect(screen.get_by_role("alert")).to_contain_text("Please answer every statement.")
    last = screen.get_by_role("group", name=f"10. {sus.STATEMENTS[9]}")
    expect(last).to_have_attribute("aria-invalid", "true")
    last.get_by_role("radio", name=scale[SUS[9]], exact=True).check()
    screen.get_by_role("button", name="Send my answers").click()
    expect(screen.get_by_text("Thank you, your answer was received.")).to_be_visible()

    expect(page.locator("#sus-score")).to_have_text("SUS score: 82.5")
    expect(page.locator("#log")).to_contain_text("The participant answered the SUS on their screen")
    db.session.rollback()
    assert db.session.scalars(sa.select(SusResponse)).one().answers == SUS
    assert db.session.scalars(sa.select(TaskAttempt)).one().seq == 6
    participant_context.close()
