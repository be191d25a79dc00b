"""A real browser signs in and reaches the home page."""

import pytest

from tests.conftest import PASSWORD
from usabtest.accounts.models import Role

pytestmark = pytest.mark.browser


def test_researcher_signs_in_and_sees_home(page, live_server, make_user):
    user = make_user(Role.RESEARCHER, name="Rita Browser")
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Your studies"
    assert page.get_by_role("link", name="Rita Browser").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/login")
    assert page.get_by_text("You are signed out.").is_visible()


def test_wrong_password_shows_error_in_browser(page, live_server, make_user):
    user = make_user()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.keyboard.press("Enter")
    assert page.get_by_role("alert").inner_text().strip() == "Wrong email or password."
