"""The results page on paper: no navigation or forms, tables whole instead of scrolling."""

import pytest
import sqlalchemy as sa

from usabtest.accounts.models import Role, User
from usabtest.demo import demo_sign_in, load_demo
from usabtest.planning.models import Study

pytestmark = [pytest.mark.browser, pytest.mark.ui_audit]


@pytest.mark.browser_context(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
def test_results_page_prints_without_chrome_and_with_whole_tables(page, live_server, db, browser_login):
    load_demo()
    db.session.commit()
    researcher = db.session.scalar(sa.select(User).where(User.role == Role.RESEARCHER))
    browser_login(page, live_server, researcher, password=demo_sign_in(Role.RESEARCHER)[1])
    page.goto(f"{live_server}/studies/{db.session.scalar(sa.select(Study.id))}/results")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert page.locator("form").evaluate_all("forms => forms.every(f => !f.offsetParent)")
    region = page.get_by_role("region", name="Results per task")
    assert region.evaluate("el => getComputedStyle(el).overflowX") == "visible"
    table = page.locator("#task-results")
    assert table.evaluate("t => t.getBoundingClientRect().right") <= 794
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 794
