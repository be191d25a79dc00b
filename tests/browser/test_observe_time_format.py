"""The console writes time into a session exactly as the server does (board, exports, report)."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.observe_fixtures import streams_closed  # noqa: F401
from tests.test_timefmt import ELAPSED_CASES
from usabtest.db import utcnow
from usabtest.observe.models import Note
from usabtest.planning.models import SessionStatus
from usabtest.timefmt import format_elapsed

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]

EXTRA_INPUTS = [1, 59_000, 600_000, 3_540_000, 3_661_001, 86_399_999, 123_456_789, 0.4, 2_500.5]


def test_console_script_formats_elapsed_time_like_the_server(page, live_server):
    page.goto(f"{live_server}/login")
    inputs = [ms for ms, _ in ELAPSED_CASES] + EXTRA_INPUTS
    got = page.evaluate(
        "async (inputs) => { const m = await import('/static/js/observe/format.js');"
        " return inputs.map((ms) => m.formatElapsed(ms)); }", inputs)
    assert got == [format_elapsed(ms) for ms in inputs]


def test_console_and_notes_board_show_the_same_time_for_a_note(
        db, page, live_server, browser_login, make_study, make_session, streams_closed):
    streams_closed(page.context)
    study = make_study(tasks=1)
    study_session = make_session(study=study, status=SessionStatus.IN_PROGRESS,
                                 started_at=utcnow() - timedelta(hours=1, minutes=5, seconds=5))
    browser_login(page, live_server, study.owner)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("#session-clock")).to_have_text(re.compile(r"^1:05:\d\d$"))
    page.get_by_label("Note", exact=True).fill("Long pause before paying")
    page.get_by_label("Note", exact=True).press("Enter")
    entry = page.locator("#log li", has_text="Long pause before paying")
    expect(entry).to_contain_text("Saved")
    shown = entry.locator(".entry-time").inner_text()
    assert re.fullmatch(r"1:05:\d\d", shown)

    page.goto(f"{live_server}/studies/{study.id}/notes")
    expect(page.locator("tr", has_text="Long pause before paying").locator("td.num")).to_have_text(shown)
    db.session.rollback()
    stored = db.session.scalars(sa.select(Note.elapsed_ms).where(Note.session_id == study_session.id)).one()
    assert format_elapsed(stored) == shown
