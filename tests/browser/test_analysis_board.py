"""A researcher filters the notes board, turns three notes of two participants into a finding and sees
its frequency and its cells in the rainbow matrix."""

import pytest
from playwright.sync_api import expect

from usabtest.analysis.models import Finding
from usabtest.planning.models import SessionStatus

pytestmark = pytest.mark.browser


def test_notes_become_a_finding_with_frequency_and_matrix_cells(page, live_server, db, make_study,
                                                                 make_participant, make_session, make_note,
                                                                 browser_login):
    study = make_study(tasks=2)
    sessions = [make_session(study=study, participant=make_participant(study), status=SessionStatus.COMPLETED)
                for _ in range(3)]
    make_note(sessions[0], study.owner, body="Could not find the coupon field", tags=["coupon"],
              task=study.tasks[0], elapsed_ms=65_000)
    make_note(sessions[0], study.owner, body="Typed the coupon into the address", tags=["coupon"],
              task=study.tasks[0], elapsed_ms=95_000)
    make_note(sessions[1], study.owner, body="Coupon box is below the fold", tags=["coupon"],
              task=study.tasks[0], elapsed_ms=30_000)
    make_note(sessions[2], study.owner, body="Liked the colours", tags=["delight"], elapsed_ms=10_000)
    browser_login(page, live_server, study.owner)

    page.goto(f"{live_server}/studies/{study.id}/notes")
    assert "4 notes" in page.locator("#board-count").inner_text()
    page.get_by_label("Tag").select_option("coupon")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**tag=coupon**")
    assert "3 notes match" in page.locator("#board-count").inner_text()
    assert page.get_by_text("Liked the colours").count() == 0

    page.get_by_label("Select all notes on this page").check()
    expect(page.locator("#selection-count")).to_have_text("3 notes selected:")
    page.get_by_label("Title of the new finding").fill("Coupon field is hard to find")
    page.get_by_label("Severity of the new finding").select_option("3")
    page.get_by_role("button", name="Create finding").click()
    page.wait_for_url("**/findings/*")
    assert page.locator("#finding-frequency").inner_text().startswith("2 of 3 participants")
    assert page.get_by_text("Finding created from 3 notes.").is_visible()

    page.get_by_role("link", name="Matrix").click()
    filled = page.locator("#rainbow-matrix td.filled a")
    expect(filled).to_have_text(["2", "1"])  # waits for the matrix page
    filled.first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**participant=*")
    panel = page.locator("#cell-notes")
    assert "Could not find the coupon field" in panel.inner_text()
    assert "Coupon box is below the fold" not in panel.inner_text()

    db.session.rollback()
    finding = db.session.query(Finding).one()
    assert finding.severity == 3 and len(finding.notes) == 3
