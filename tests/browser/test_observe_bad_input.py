"""The console and text the server can never store: the note is refused for good, the queue goes on.

On PostgreSQL (USABTEST_TEST_DATABASE_URL) a NUL character once reached the database, failed with a
500 that the console retried forever, and blocked every later note of that observer.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.test_observe_queue import _notes, assert_refused_once, observer_console  # noqa: F401
from tests.observe_fixtures import streams_closed  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]


def test_a_note_with_a_nul_character_is_refused_shown_and_the_next_notes_are_saved(db, observer_console):
    console, study_session, _observer = observer_console
    console.open()
    field = console.page.get_by_label("Note", exact=True)
    field.evaluate("(area) => { area.value = 'Taps \\u0000 the banner'; }")  # no keyboard types NUL
    field.press("Enter")
    console.type_note("Finds the coupon field")

    refused = console.entry("the banner")
    expect(refused).to_contain_text("Failed", timeout=15_000)
    expect(refused.locator(".entry-error")).to_contain_text("NUL")
    expect(console.entry("Finds the coupon field")).to_contain_text("Saved")
    expect(console.page.locator("#queue-status")).to_have_text("1 not accepted by the server (see below)")
    console.page.wait_for_timeout(2000)  # long enough for more tries if the refusal were retried
    assert_refused_once(console.posts_answered("the banner"))

    console.page.once("dialog", lambda dialog: dialog.accept())
    refused.get_by_role("button", name="Discard note").click()
    expect(console.entry("the banner")).to_have_count(0)
    assert [note.body for note in _notes(db, study_session)] == ["Finds the coupon field"]
    assert console.errors == []
