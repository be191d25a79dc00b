"""The audit itself: it finds a known violation, and the sign-in page has none."""

from tests.browser.axe import assert_accessible, audit, blocking


def test_audit_reports_an_image_without_text_alternative(page):
    page.set_content("<!doctype html><html lang='en'><title>t</title><main><img src='x.png'></main></html>")
    found = blocking(audit(page))
    assert [v["id"] for v in found] == ["image-alt"]


def test_sign_in_page_has_no_serious_violation(page, live_server):
    page.goto(f"{live_server}/login")
    assert_accessible(page)
