"""A note's time in the console opens the session's recording at that moment on the review page."""

import io
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.media_files import wav_bytes
from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest import builders
from usabtest.db import utcnow
from usabtest.observe import recordings
from usabtest.planning.models import SessionStatus

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]

PLAYER_AT = "([want, within]) => { const p = document.getElementById('player');" \
            " return p && p.readyState >= 1 && Math.abs(p.currentTime - want) <= within; }"


def test_a_note_time_link_opens_the_review_page_at_that_moment(
        app, db, page, live_server, browser_login, make_study, streams_closed):
    streams_closed(page.context)
    study = make_study(tasks=1)
    started = utcnow() - timedelta(minutes=10)
    study_session = builders.make_session(study, moderator=study.owner, status=SessionStatus.COMPLETED,
                                          started_at=started, ended_at=started + timedelta(seconds=8))
    builders.make_task_attempt(study_session, study.tasks[0], started_at=started + timedelta(seconds=1),
                               seconds=5)
    recordings.store_file(study_session, study.owner, io.BytesIO(wav_bytes(8.0)), offset_ms=1_000)
    db.session.commit()
    browser_login(page, live_server, study.owner)
    # Through the API, as the console sends it: the console's log reads the session's events.
    sent = page.request.post(f"{live_server}/api/v1/sessions/{study_session.id}/notes", data={
        "id": str(uuid.uuid4()), "body": "Misses the search field", "task_id": None, "elapsed_ms": 3_400})
    assert sent.status == 201, sent.text()

    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    link = page.locator("#log li", has_text="Misses the search field").get_by_role("link", name="0:03")
    expect(link).to_have_attribute("href", f"/sessions/{study_session.id}/review?t=3")
    link.click()

    expect(page).to_have_url(f"{live_server}/sessions/{study_session.id}/review?t=3")
    # 3 s into the session is 4 s into the recording, which began a second before the session.
    page.wait_for_function(PLAYER_AT, arg=[4, 0.3])
    expect(page.locator(".moment.is-current")).to_contain_text("Misses the search field")
    assert_accessible(page)

    # The timeline's task marker seeks the same player, and the address follows.
    page.locator(".moment-task-start .moment-time").click()
    page.wait_for_function(PLAYER_AT, arg=[2, 0.3])
    expect(page).to_have_url(f"{live_server}/sessions/{study_session.id}/review?t=1")


def test_recording_form_refuses_a_bad_link_accessibly(app, db, page, live_server, browser_login, make_study):
    study = make_study(tasks=1)
    study_session = builders.make_session(study, moderator=study.owner)
    db.session.commit()
    browser_login(page, live_server, study.owner)
    page.goto(f"{live_server}/sessions/{study_session.id}/recording")
    page.get_by_label("Address of the recording").fill("javascript:alert(1)")
    page.get_by_role("button", name="Save link").click()
    expect(page.locator("#link-url-error")).to_contain_text("only http and https")
    assert_accessible(page)


@pytest.mark.browser_context(viewport={"width": 390, "height": 844})
def test_recording_pages_fit_a_phone_and_pass_the_audit(db, page, live_server, browser_login, make_study):
    study = make_study(tasks=1)
    started = utcnow() - timedelta(minutes=10)
    study_session = builders.make_session(study, moderator=study.owner, status=SessionStatus.COMPLETED,
                                          started_at=started, ended_at=started + timedelta(minutes=5))
    builders.make_note(study_session, study.owner, "Scrolls past the offer " * 8, elapsed_ms=65_000)
    long_link = "https://meet.example.com/recordings/" + "a-very-long-recording-identifier" * 4
    recordings.set_link(study_session, study.owner, long_link, 30_000)
    db.session.commit()
    browser_login(page, live_server, study.owner)
    for path in ("review", "recording", ""):
        page.goto(f"{live_server}/sessions/{study_session.id}/{path}".rstrip("/"))
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0, path
        assert_accessible(page)
