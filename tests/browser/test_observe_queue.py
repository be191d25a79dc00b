"""The console's note queue in a real browser: kept across reloads, sent in order, refusals kept and shown."""

import json
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.observe_fixtures import streams_closed  # noqa: F401
from usabtest import builders
from usabtest.accounts.models import Role
from usabtest.observe import services as observe_services
from usabtest.observe.models import Note
from usabtest.observe.schemas import NoteUpdate
from usabtest.planning.tagset import DEFAULT_TAGS

pytestmark = [pytest.mark.browser, pytest.mark.config(OBSERVE_HEARTBEAT_SECONDS=0.3),
              pytest.mark.usefixtures("streams_closed")]

NOTES_API = "/api/v1/sessions/"


class Console:
    """One observer's console page, recording the note requests the server answered and any script error."""

    def __init__(self, page, base_url, study_session):
        self.page = page
        self.url = f"{base_url}/sessions/{study_session.id}/observe"
        self.sent = []
        self.answers = []  # (method, note text or None, status) of every note request answered
        self.errors = []
        page.on("response", self._record)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _record(self, response):
        request = response.request
        if NOTES_API in request.url and "/notes" in request.url and request.method != "GET":
            body = json.loads(request.post_data) if request.post_data else None
            self.sent.append((request.method, request.url.rsplit("/notes", 1)[1], body))
            self.answers.append((request.method, (body or {}).get("body"), response.status))

    def posts_answered(self, text):
        """The statuses the server answered to each POST of the note whose text contains `text`."""
        return [status for method, body, status in self.answers if method == "POST" and text in (body or "")]

    def open(self, offline_ready=False):
        """Load the console and wait until it is live (and, if asked, can reload without a network)."""
        self.page.goto(self.url)
        expect(self.page.locator("#connection")).to_have_text("Live")
        if offline_ready:
            expect(self.page.locator("#console")).to_have_attribute("data-offline-ready", "1")

    def type_note(self, text, tag=None):
        """Write a note (optionally with a tag) and press Enter."""
        if tag:
            self.page.locator(f'.tag-toggle[data-tag="{tag}"]').click()
        self.page.get_by_label("Note", exact=True).fill(text)
        self.page.get_by_label("Note", exact=True).press("Enter")

    def entry(self, text):
        """The log entry whose text contains `text`."""
        return self.page.locator("#log li", has_text=text)

    def edit(self, text, new_text):
        """Edit one's own note through its Edit button."""
        self.entry(text).get_by_role("button", name="Edit note").click()
        field = self.page.locator("#log textarea.entry-edit")
        field.fill(new_text)
        field.press("Enter")

    def delete(self, text):
        """Delete one's own note, accepting the confirmation."""
        self.page.once("dialog", lambda dialog: dialog.accept())
        self.entry(text).get_by_role("button", name="Delete note").click()

    def stored_queue(self):
        """The queue as this browser keeps it in localStorage."""
        return self.page.evaluate(
            "() => Object.keys(localStorage).filter((k) => k.startsWith('usabtest.queue.'))"
            ".flatMap((k) => JSON.parse(localStorage.getItem(k)))")


def assert_refused_once(statuses):
    """One refusal and nothing sent after it; before it only a busy server's answers (5xx) may come,
    which a loaded machine can give and the queue rightly retries."""
    assert statuses and 400 <= statuses[-1] < 500, statuses
    assert all(status >= 500 for status in statuses[:-1]), statuses


def _set_tags(db, study, tags):
    """Change the study's own tags as its researcher would, while consoles are open."""
    db.session.rollback()  # a fresh snapshot: the server wrote since this session last read (SQLite WAL)
    defaults = {spec.name for spec in DEFAULT_TAGS}
    for tag in [t for t in study.tags if t.name not in defaults]:
        study.tags.remove(tag)
    db.session.flush()
    for name in tags:
        builders.make_tag(study, name)
    db.session.commit()


def _notes(db, study_session):
    db.session.rollback()
    query = sa.select(Note).where(Note.session_id == study_session.id).order_by(Note.id)
    return db.session.scalars(query).all()


@pytest.fixture
def observer_console(db, page, live_server, browser_login, make_user, make_session, streams_closed):
    """An observer signed in on a session's console (not opened yet); returns (console, session, observer)."""
    streams_closed(page.context)
    observer = make_user(Role.OBSERVER, name="Olive Observer")
    study_session = make_session(observers=[observer])
    browser_login(page, live_server, observer)
    return Console(page, live_server, study_session), study_session, observer


def test_notes_written_offline_replay_after_reload_in_the_order_typed_with_their_edits(db, observer_console):
    console, study_session, observer = observer_console
    console.open(offline_ready=True)
    console.page.context.set_offline(True)
    for body in ("First thing", "Second thing", "Third thing"):
        console.type_note(body)
    console.edit("Second thing", "Second thing, corrected")
    console.delete("Third thing")
    expect(console.entry("Third thing")).to_have_count(0)
    expect(console.page.locator("#queue-status")).to_have_text("2 changes waiting to be sent")

    console.page.reload()
    expect(console.entry("First thing")).to_contain_text("Pending")
    expect(console.entry("Second thing, corrected")).to_contain_text("Pending")
    expect(console.entry("Third thing")).to_have_count(0)
    assert console.sent == []

    console.page.context.set_offline(False)
    expect(console.page.locator("#log li", has_text="Saved")).to_have_count(2, timeout=15_000)
    expect(console.page.locator("#queue-status")).to_have_text("")
    # A note deleted before it was ever sent is never sent; the others go in the order typed.
    assert [(method, body["body"]) for method, _, body in console.sent] == [
        ("POST", "First thing"), ("POST", "Second thing, corrected")]
    stored = _notes(db, study_session)
    assert [note.body for note in stored] == ["First thing", "Second thing, corrected"]
    assert stored[0].elapsed_ms <= stored[1].elapsed_ms
    assert console.stored_queue() == []
    assert console.errors == []


def test_changes_to_saved_notes_made_offline_are_sent_in_order_once_back_online(db, observer_console):
    console, study_session, observer = observer_console
    console.open()
    console.type_note("Label is unclear")
    console.type_note("Likes the colours")
    expect(console.page.locator("#log li", has_text="Saved")).to_have_count(2)
    console.page.context.set_offline(True)
    expect(console.page.locator("#connection")).to_have_text("Offline – reconnecting…")
    console.edit("Label is unclear", "Label is unclear: “Proceed”")
    console.edit("Label is unclear: “Proceed”", "Label “Proceed” is unclear")
    console.delete("Likes the colours")
    expect(console.page.locator("#queue-status")).to_have_text("3 changes waiting to be sent")

    console.page.context.set_offline(False)
    expect(console.page.locator("#connection")).to_have_text("Live", timeout=15_000)
    expect(console.page.locator("#queue-status")).to_have_text("", timeout=15_000)
    expect(console.entry("Label “Proceed” is unclear")).to_contain_text("Saved")
    expect(console.entry("Likes the colours")).to_have_count(0)
    first, second = _notes(db, study_session)
    changes = [(method, path, body) for method, path, body in console.sent if method != "POST"]
    assert changes == [
        # Each edit goes on the version the one before it produced.
        ("PATCH", f"/{first.client_uuid}", {"version": 1, "body": "Label is unclear: “Proceed”"}),
        ("PATCH", f"/{first.client_uuid}", {"version": 2, "body": "Label “Proceed” is unclear"}),
        ("DELETE", f"/{second.client_uuid}", None),
    ]
    assert first.body == "Label “Proceed” is unclear" and first.edited_at is not None
    assert second.deleted_at is not None
    assert console.errors == []


def test_note_the_server_refuses_for_good_is_kept_and_shown_not_retried(db, observer_console):
    console, study_session, observer = observer_console
    study = study_session.study
    _set_tags(db, study, ["checkout"])
    console.open(offline_ready=True)
    console.page.context.set_offline(True)
    console.type_note("Hunts for the coupon field", tag="checkout")
    console.type_note("Reads the delivery terms")
    _set_tags(db, study, [])  # the researcher drops the tag while this observer is offline

    console.page.context.set_offline(False)
    refused = console.entry("Hunts for the coupon field")
    expect(refused).to_contain_text("Failed", timeout=15_000)
    expect(refused.locator(".entry-error")).to_contain_text("Not saved: ")
    expect(refused.locator(".entry-error")).to_contain_text("checkout")
    expect(console.entry("Reads the delivery terms")).to_contain_text("Saved")  # the queue went on
    expect(console.page.locator("#queue-status")).to_have_text("1 not accepted by the server (see below)")
    console.page.wait_for_timeout(3000)  # long enough for two more tries if the refusal were retried
    assert_refused_once(console.posts_answered("Hunts for the coupon field"))

    console.page.reload()  # kept in this browser, still shown as refused
    expect(console.entry("Hunts for the coupon field")).to_contain_text("Failed")
    assert [item["state"] for item in console.stored_queue()] == ["failed"]

    _set_tags(db, study, ["checkout"])  # once the cause is fixed, Retry sends it
    console.entry("Hunts for the coupon field").get_by_role("button", name="Retry note").click()
    expect(console.entry("Hunts for the coupon field")).to_contain_text("Saved")
    expect(console.page.locator("#queue-status")).to_have_text("")
    assert sorted(note.body for note in _notes(db, study_session)) == [
        "Hunts for the coupon field", "Reads the delivery terms"]
    assert console.errors == []


def test_an_offline_edit_replayed_after_a_researchers_retag_is_refused_and_shows_the_note_now(
        db, observer_console, make_user):
    console, study_session, observer = observer_console
    console.open()
    console.type_note("Misses the coupon field", tag="problem")
    expect(console.entry("Misses the coupon field")).to_contain_text("Saved")
    console.page.context.set_offline(True)
    expect(console.page.locator("#connection")).to_have_text("Offline – reconnecting…")
    console.edit("Misses the coupon field", "Misses the coupon field twice")

    (note,) = _notes(db, study_session)  # meanwhile a researcher retags the note after the session
    rita = make_user(name="Rita Researcher")
    observe_services.update_note(note, rita, NoteUpdate(version=1, tags=["problem", "quote"]))
    db.session.commit()

    console.page.context.set_offline(False)
    refused = console.entry("Misses the coupon field twice")
    expect(refused).to_contain_text("Failed", timeout=15_000)
    expect(refused.locator(".entry-error")).to_contain_text("changed by Rita Researcher")
    expect(refused.locator(".entry-current")).to_contain_text("Misses the coupon field")
    expect(refused.locator(".entry-current")).to_contain_text("Tags: problem, quote")
    (note,) = _notes(db, study_session)
    assert (note.body, note.tags, note.version) == ("Misses the coupon field", ["problem", "quote"], 2)

    refused.get_by_role("button", name="Retry note").click()  # the observer keeps their text, knowingly
    expect(console.entry("Misses the coupon field twice")).to_contain_text("Saved")
    expect(console.page.locator("#queue-status")).to_have_text("")
    (note,) = _notes(db, study_session)
    assert (note.body, note.tags, note.version) == ("Misses the coupon field twice", ["problem", "quote"], 3)
    patches = [body for method, _, body in console.sent if method == "PATCH"]
    assert patches == [{"version": 1, "body": "Misses the coupon field twice"},
                       {"version": 2, "body": "Misses the coupon field twice"}]
    assert console.errors == []


def test_refused_note_can_be_discarded(db, observer_console):
    console, study_session, observer = observer_console
    _set_tags(db, study_session.study, ["checkout"])
    console.open()
    console.page.context.set_offline(True)
    console.type_note("Tag about to vanish", tag="checkout")
    _set_tags(db, study_session.study, [])
    console.page.context.set_offline(False)
    expect(console.entry("Tag about to vanish")).to_contain_text("Failed", timeout=15_000)
    console.page.once("dialog", lambda dialog: dialog.accept())
    console.entry("Tag about to vanish").get_by_role("button", name="Discard note").click()
    expect(console.entry("Tag about to vanish")).to_have_count(0)
    expect(console.page.locator("#queue-status")).to_have_text("")
    assert console.stored_queue() == []
    assert _notes(db, study_session) == []


# Requests a service worker has seen escape page.route(), and whether the console's worker controls
# the page by then is a race: this test is about the queue, so it runs without the worker.
@pytest.mark.browser_context(service_workers="block")
def test_edit_made_while_the_note_is_on_its_way_is_not_lost(db, observer_console):
    console, study_session, observer = observer_console
    console.open()
    held = []
    console.page.route("**/api/v1/sessions/*/notes", lambda route: held.append(route))
    console.type_note("Draft")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        console.page.wait_for_timeout(50)
    assert len(held) == 1
    console.edit("Draft", "Draft, then corrected")  # while the first copy waits for its answer
    held[0].continue_()
    expect(console.entry("Draft, then corrected")).to_contain_text("Saved", timeout=15_000)
    expect(console.page.locator("#queue-status")).to_have_text("")
    (note,) = _notes(db, study_session)
    assert note.body == "Draft, then corrected"
    assert [method for method, _, _ in console.sent] == ["POST", "PATCH"]
    assert console.errors == []


def test_stream_resumes_after_being_offline_without_missing_or_repeating_notes(
        db, browser, observer_console, live_server, browser_login, make_user, streams_closed):
    console, study_session, observer = observer_console
    db.session.rollback()
    colleague = make_user(Role.OBSERVER, name="Colin Colleague")
    builders.make_member(study_session.study, colleague)
    study_session.observers.append(colleague)
    db.session.commit()
    other_context = browser.new_context()
    streams_closed(other_context)
    try:
        other = Console(other_context.new_page(), live_server, study_session)
        browser_login(other.page, live_server, colleague)
        console.open()
        other.open()
        other.type_note("Before the outage")
        expect(console.entry("Before the outage")).to_be_visible()
        console.page.context.set_offline(True)
        other.type_note("During the outage")
        console.type_note("Mine, typed offline")
        expect(other.entry("During the outage")).to_contain_text("Saved")
        console.page.context.set_offline(False)
        expect(console.entry("During the outage")).to_be_visible(timeout=15_000)
        expect(other.entry("Mine, typed offline")).to_be_visible(timeout=15_000)
        expect(console.entry("Mine, typed offline")).to_contain_text("Saved")
        for text in ("Before the outage", "During the outage", "Mine, typed offline"):
            expect(console.entry(text)).to_have_count(1)
            expect(other.entry(text)).to_have_count(1)
        assert console.errors == [] and other.errors == []
    finally:
        other_context.close()


def test_a_correction_being_typed_survives_news_of_other_notes(db, observer_console):
    console, study_session, observer = observer_console
    console.open()
    console.type_note("Hesitates on the menu")
    expect(console.entry("Hesitates on the menu")).to_contain_text("Saved")
    console.entry("Hesitates on the menu").get_by_role("button", name="Edit note").click()
    console.page.locator("#log textarea.entry-edit").fill("Hesitates on the menu, then finds")
    other_tab = Console(console.page.context.new_page(), console.url.rsplit("/sessions", 1)[0], study_session)
    other_tab.open()
    other_tab.type_note("Written in the other tab")  # redraws the first tab's notes (queue and stream)
    expect(console.entry("Written in the other tab")).to_contain_text("Saved")
    field = console.page.locator("#log textarea.entry-edit")
    expect(field).to_have_value("Hesitates on the menu, then finds")
    field.press("Enter")
    expect(console.entry("Hesitates on the menu, then finds")).to_contain_text("Saved")
    expect(console.page.locator("#log textarea.entry-edit")).to_have_count(0)
    assert sorted(note.body for note in _notes(db, study_session)) == [
        "Hesitates on the menu, then finds", "Written in the other tab"]
