"""Kinds and the study's own tags in a real browser: the console's keyboard shortcuts, and a researcher
retagging an observer's note from the notes board."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest.accounts.models import Role
from usabtest.observe.models import Note, NoteKind, NoteRevision
from usabtest.planning.models import SessionStatus

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]


def test_console_sets_the_kind_and_a_study_tag_from_the_keyboard(
        db, page, live_server, browser_login, make_user, make_session, make_tag, streams_closed):
    streams_closed(page.context)
    observer = make_user(Role.OBSERVER, name="Olga Observer")
    study_session = make_session(observers=[observer])
    make_tag(study_session.study, "navigation", description="Finding the way", colour="#1f618d", shortcut="G")
    browser_login(page, live_server, observer)
    page.goto(f"{live_server}/sessions/{study_session.id}/observe")
    expect(page.locator("#connection")).to_have_text("Live")

    note = page.get_by_label("Note", exact=True)
    note.fill("I would never look for it there")
    note.press("Alt+k")
    expect(page.get_by_role("radio", name="Participant quote")).to_be_checked()
    note.press("Alt+g")
    expect(page.get_by_role("button", name="navigation")).to_have_attribute("aria-pressed", "true")
    note.press("Enter")

    entry = page.locator("#log li", has_text="I would never look for it there")
    expect(entry).to_contain_text("Saved")
    expect(entry).to_contain_text("Participant quote")
    expect(entry.locator("blockquote.entry-body")).to_have_text("I would never look for it there")
    expect(entry.locator(".entry-tag")).to_have_text("navigation")
    # The next note starts as an observation again, without tags.
    expect(page.get_by_role("radio", name="Observation")).to_be_checked()
    expect(page.get_by_role("button", name="navigation")).to_have_attribute("aria-pressed", "false")

    note.press("Escape")
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_contain_text(
        "Next kind of note (Observation, Participant quote, Positive, Question)")
    expect(help_dialog.locator("tr", has_text="Tag “navigation” on or off")).to_contain_text("Alt+G")

    db.session.rollback()
    (stored,) = db.session.scalars(sa.select(Note).where(Note.session_id == study_session.id)).all()
    assert (stored.kind, stored.tags) == (NoteKind.QUOTE, ["navigation"])


def test_a_researcher_retags_an_observers_note_from_the_board(
        db, page, live_server, browser_login, make_user, make_study, make_session, make_note, make_tag):
    owner, colleague = make_user(Role.RESEARCHER), make_user(Role.RESEARCHER, name="Carl Colleague")
    observer = make_user(Role.OBSERVER, name="Olga Observer")
    study = make_study(owner, tasks=1, researchers=[colleague])
    make_tag(study, "navigation", colour="#1f618d")
    study_session = make_session(study=study, observers=[observer], status=SessionStatus.COMPLETED)
    note = make_note(study_session, observer, "Opens the menu to find the basket", tags=["problem"],
                     elapsed_ms=75_000)
    browser_login(page, live_server, colleague)

    page.goto(f"{live_server}/studies/{study.id}/notes")
    page.get_by_role("link", name=f"Edit note {note.id} by P01 at 1:15").click()
    form = page.get_by_role("form", name="Change the note")
    form.get_by_role("checkbox", name="problem").uncheck()
    form.get_by_role("checkbox", name="navigation").check()
    form.get_by_label("Kind").select_option(label="Positive")
    form.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("status").first).to_contain_text("Note saved")
    history = page.locator("#history")
    expect(history).to_contain_text("Carl Colleague edited the note")
    expect(history.get_by_role("row", name="Tags")).to_contain_text("problem")
    expect(history.get_by_role("row", name="Tags")).to_contain_text("navigation")
    page.get_by_role("link", name="Back to the notes board").click()
    row = page.locator(f"#note-row-{note.id}")
    expect(row).to_contain_text("Positive")
    expect(row).to_contain_text("navigation")
    expect(row.get_by_role("link", name="edited")).to_be_visible()

    db.session.rollback()
    stored = db.session.get(Note, note.id)
    assert (stored.tags, stored.kind, stored.author_id) == (["navigation"], NoteKind.POSITIVE, observer.id)
    assert db.session.scalars(sa.select(NoteRevision.actor_id)).all() == [colleague.id]
