"""In a real browser: the client reads a published version as a page that passes the accessibility audit."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from usabtest.accounts.models import Role, User
from usabtest.demo import DEMO_USERS, load_demo
from usabtest.planning.models import Study
from usabtest.reports import services

pytestmark = pytest.mark.browser


def test_client_reads_the_demo_report_as_an_accessible_page(page, live_server, browser_login, db):
    load_demo()
    study = db.session.scalar(sa.select(Study))
    services.publish(study, study.owner, "A4")
    db.session.commit()
    reader = db.session.scalar(sa.select(User).where(User.role == Role.CLIENT))
    password = next(p for email, _name, _role, p in DEMO_USERS if email == reader.email)

    browser_login(page, live_server, reader, password)
    page.goto(f"{live_server}/portal")
    page.get_by_role("link", name="Read online").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(study.title)
    expect(page.get_by_role("heading", name="6 Findings")).to_be_visible()
    chart = page.get_by_role("img", name="Bar chart of the completion rate per task", exact=False)
    expect(chart).to_have_count(1)
    assert "Task 1," in chart.get_attribute("alt")
    assert page.locator("table th[scope=col]").count() > 5
    assert_accessible(page)
