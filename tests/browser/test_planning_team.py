"""A study's owner adds a colleague to the team in a real browser; the colleague signs in, opens it
and retags an observer's note.

The helpers are meant for more team journeys: `add_to_team` drives the Team page from the study's
overview, `colleague_page` is a second browser (its own cookies) for the colleague, and
`team_study` is a study with a finished session and an observer's note to work on.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from usabtest.accounts.models import Role
from usabtest.db import utcnow
from usabtest.observe.models import Note
from usabtest.planning.models import SessionStatus, Study, TeamRole

pytestmark = pytest.mark.browser


def open_study(page: Page, base_url: str, title: str) -> None:
    """Open a study from the Studies list, as a person would."""
    page.goto(f"{base_url}/studies")
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def add_to_team(page: Page, email: str, role: TeamRole | str = TeamRole.RESEARCHER) -> None:
    """From the study's overview: open its Team page and add the person with this e-mail address."""
    page.get_by_role("link", name="Manage team").click()
    form = page.get_by_role("region", name="Add a colleague")
    form.get_by_label("E-mail address").fill(email)
    form.get_by_label("Role on this study").select_option(TeamRole(role).value)
    form.get_by_role("button", name="Add to team").click()
    expect(page.locator(".flash-success")).to_contain_text("joined the team")


@pytest.fixture
def colleague_page(browser):
    """A second browser of its own (separate cookies), for the colleague the owner brings in."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def team_study(db, make_user, make_study, make_session, make_note) -> Study:
    """"Checkout study": two tasks, and a finished session where an observer wrote a tagged note."""
    olive = make_user(Role.OBSERVER, name="Olive Observer")
    study = make_study(owner=make_user(name="Rita Owner"), tasks=2, title="Checkout study", observers=[olive])
    past = make_session(study=study, observers=[olive], starts_at=utcnow() - timedelta(days=1),
                        status=SessionStatus.COMPLETED)
    make_note(past, olive, body="Could not find the coupon field", tags=["problem"], task=study.tasks[0])
    return study


def test_the_owner_adds_a_colleague_who_then_retags_a_note(page, colleague_page, live_server, browser_login,
                                                           make_user, team_study, db):
    colleague = make_user(name="Cleo Colleague", email="cleo@example.com")
    browser_login(colleague_page, live_server, colleague)
    missing = colleague_page.goto(f"{live_server}/studies/{team_study.id}")
    assert missing.status == 404  # not on the team yet

    browser_login(page, live_server, team_study.owner)
    open_study(page, live_server, "Checkout study")
    add_to_team(page, "cleo@example.com", TeamRole.RESEARCHER)
    member_row = page.get_by_role("row", name="Cleo Colleague")
    expect(member_row).to_contain_text("Researcher")

    open_study(colleague_page, live_server, "Checkout study")
    team = colleague_page.locator("#team")
    expect(team).to_contain_text("Rita Owner Owner")
    expect(team).to_contain_text("Cleo Colleague Researcher")
    expect(colleague_page.get_by_role("link", name="Add task")).to_be_visible()
    colleague_page.get_by_role("link", name="Notes board").click()
    expect(colleague_page.locator(".note-body")).to_contain_text("Could not find the coupon field")

    # The colleague retags the observer's note, and its history names them.
    note = db.session.scalars(sa.select(Note).where(Note.body == "Could not find the coupon field")).one()
    colleague_page.get_by_role("link", name=re.compile(rf"^Edit note {note.id} by ")).click()
    form = colleague_page.get_by_role("form", name="Change the note")
    form.get_by_role("checkbox", name="problem").uncheck()
    form.get_by_role("checkbox", name="bug").check()
    form.get_by_role("button", name="Save changes").click()
    expect(colleague_page.get_by_role("status").first).to_contain_text("Note saved")
    history_tags = colleague_page.locator("#history").get_by_role("row", name="Tags")
    expect(colleague_page.locator("#history")).to_contain_text("Cleo Colleague edited the note")
    expect(history_tags).to_contain_text("problem")
    expect(history_tags).to_contain_text("bug")
    db.session.rollback()
    assert db.session.get(Note, note.id).tags == ["bug"]
