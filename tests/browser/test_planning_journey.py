"""A researcher plans a study in a real browser and finds the session in their agenda at their local time."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from usabtest.accounts.models import Organisation, Role
from usabtest.planning.models import Study

pytestmark = pytest.mark.browser


def _only_organisation_id(db) -> int:
    db.session.commit()  # a fresh transaction sees what the server committed meanwhile
    return db.session.scalars(db.select(Organisation.id)).one()


def test_researcher_plans_a_study_and_sees_the_session_in_the_agenda(page, live_server, make_user,
                                                                    browser_login, db):
    rita = make_user(Role.RESEARCHER, name="Rita Planner", timezone="America/New_York")
    browser_login(page, live_server, rita)

    page.get_by_role("link", name="New study").click()
    page.get_by_role("link", name="Create a new organisation").click()
    page.get_by_label("Name").fill("Northwind")
    page.get_by_role("button", name="Create organisation").click()
    page.get_by_text("Organisation “Northwind” created.").wait_for()
    expect(page.get_by_label("Client organisation")).to_have_value(str(_only_organisation_id(db)))
    page.get_by_label("Title").fill("Checkout redesign")
    page.get_by_label("Product").fill("Web shop")
    page.get_by_role("button", name="Save study").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout redesign")

    for title in ("Find a gift", "Pay with a voucher"):
        page.get_by_role("link", name="Add task").click()
        page.get_by_label("Title").fill(title)
        page.get_by_label("Scenario (read to the participant)").fill(f"Please {title.lower()}.")
        page.get_by_role("button", name="Save task", exact=True).click()
        # Back on the study page with the task listed: a click sent while it loads can be lost.
        expect(page.locator(".task-list .task-title", has_text=title)).to_be_visible()
    tasks = page.locator(".task-list .task-title")
    expect(tasks).to_have_text(["Find a gift", "Pay with a voucher"])  # waits for the page to load

    # Keyboard reordering: focus the second task and press Alt+ArrowUp (once the page's script listens).
    page.locator(".task-list[data-keyboard-ready]").wait_for(state="attached")
    page.locator(".task-item").nth(1).focus()
    page.keyboard.press("Alt+ArrowUp")
    page.get_by_text("Moved to position 1 of 2.").wait_for(state="attached")
    expect(tasks).to_have_text(["Pay with a voucher", "Find a gift"])

    page.get_by_role("link", name="Add participant").click()
    page.get_by_label("Name").fill("Ann Lee")
    page.get_by_label("Email (optional)").fill("ann@example.net")
    page.get_by_label("Consent signed on").fill(datetime.now().date().isoformat())
    page.get_by_label("Consent form version").fill("v2")
    page.get_by_role("button", name="Save participant").click()
    page.get_by_text("Participant P01 added.").wait_for()

    day = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=5)).date()
    page.get_by_role("link", name="Schedule session").click()
    page.get_by_label("Participant").select_option(label="P01 · Ann Lee")
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Start time").fill("15:00")
    page.get_by_label("Time zone of this date and time").select_option("Europe/Berlin")
    page.get_by_label("Duration in minutes").fill("45")
    page.get_by_label("Location", exact=True).fill("Lab 3")
    page.get_by_role("button", name="Schedule session").click()
    page.get_by_text("Session scheduled.").wait_for()

    page.get_by_role("link", name="Agenda").click()
    starts = datetime.combine(day, time(15), tzinfo=ZoneInfo("Europe/Berlin")).astimezone(
        ZoneInfo("America/New_York"))
    day_section = page.locator("section.agenda-day", has_text=starts.strftime("%A %d %B %Y"))
    item = day_section.locator(".agenda-item", has_text="Checkout redesign · P01")
    expected = f"{starts:%H:%M}–{starts + timedelta(minutes=45):%H:%M}"
    assert item.locator(".agenda-time").inner_text().strip() == expected

    db.session.rollback()
    study = db.session.scalars(db.select(Study)).one()
    assert [t.title for t in study.tasks] == ["Pay with a voucher", "Find a gift"]
    assert study.sessions[0].timezone == "Europe/Berlin"
