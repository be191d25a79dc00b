"""The console's connection badge tells the truth: back to Live soon after the stream resumes, with the
number of notes still waiting to be sent."""

import time

import pytest
from playwright.sync_api import expect

from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest.accounts.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]


def _type_note(page, text):
    page.get_by_label("Note", exact=True).fill(text)
    page.get_by_label("Note", exact=True).press("Enter")


def test_badge_counts_waiting_notes_and_is_live_again_within_five_seconds(
        db, page, live_server, browser_login, make_user, make_session, streams_closed):
    streams_closed(page.context)
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    browser_login(page, live_server, observer)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    badge = page.locator("#connection")
    expect(badge).to_have_text("Live")
    page.context.set_offline(True)
    _type_note(page, "First while offline")
    _type_note(page, "Second while offline")
    expect(badge).to_contain_text("2 notes waiting to be sent")
    expect(badge).not_to_contain_text("Live")
    page.context.set_offline(False)
    back = time.monotonic()
    expect(badge).to_have_text("Live", timeout=5000)
    assert time.monotonic() - back < 5.0
    expect(page.locator("#log li", has_text="Saved")).to_have_count(2, timeout=5000)


def test_a_message_arriving_proves_the_stream_is_live(
        db, page, live_server, browser_login, make_user, make_session, streams_closed):
    streams_closed(page.context)
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    browser_login(page, live_server, observer)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    badge = page.locator("#connection")
    expect(badge).to_have_text("Live")
    # A network blip the stream itself survived: the browser said offline, then nothing more.
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    expect(badge).not_to_have_text("Live")
    _type_note(page, "Arrives through the open stream")
    expect(badge).to_have_text("Live", timeout=5000)
