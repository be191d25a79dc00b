"""In a real browser: editing a study through its form keeps its client, who still gets the report."""

import pytest
from playwright.sync_api import expect

from usabtest.accounts.models import Organisation, Role
from usabtest.planning.models import StudyStatus
from usabtest.reports import services as report_services

pytestmark = pytest.mark.browser


def test_study_edited_in_the_browser_keeps_its_client_who_still_downloads_the_report(
        page, browser, live_server, make_user, make_study, browser_login, db):
    study = make_study(tasks=1, title="Mobile payments", status=StudyStatus.ACTIVE,
                       organisation=Organisation(name="Northwind Savings Bank"))
    reader = make_user(Role.CLIENT, organisation=study.organisation, name="Ada Client")
    report_services.publish(study, study.owner, "A4", "First issue")
    db.session.commit()

    browser_login(page, live_server, study.owner)
    page.goto(f"{live_server}/studies/{study.id}/edit")
    choice = page.get_by_label("Client organisation")
    expect(choice.locator("option:checked")).to_have_text("Northwind Savings Bank")
    page.get_by_label("Goals").fill("Why people give up on paying bills.")
    page.get_by_role("button", name="Save study").click()
    page.get_by_text("Study saved.").wait_for()
    expect(page.get_by_role("link", name="Northwind Savings Bank")).to_be_visible()
    db.session.commit()  # a fresh transaction sees what the server committed meanwhile
    assert db.session.scalars(db.select(Organisation.name)).all() == ["Northwind Savings Bank"]

    context = browser.new_context(accept_downloads=True)
    client_page = context.new_page()
    try:
        browser_login(client_page, live_server, reader)
        client_page.get_by_role("link", name="Reports").click()
        expect(client_page.get_by_role("heading", name="Mobile payments")).to_be_visible()
        with client_page.expect_download() as download:
            client_page.get_by_role("link", name="Download PDF").click()
        with open(download.value.path(), "rb") as pdf:
            assert pdf.read(5) == b"%PDF-"
    finally:
        context.close()
