"""The pre-publish check: Common Industry Format elements, warnings, a reason for gaps, DRAFT marks."""

from __future__ import annotations

import io
from dataclasses import replace

import pdfplumber
import pytest
import sqlalchemy as sa

from tests.test_reports_narrative import TEXTS
from tests.test_reports_pdf import sample_report
from usabtest import builders
from usabtest.planning.models import SessionStatus
from usabtest.reports import checks, pdf, services
from usabtest.reports.models import PublishedReport

PUBLISH = {"page_size": "A4", "confirmed": "yes"}


@pytest.fixture
def complete_study(db, make_study):
    """A study with every report text, a completed session with attempts at both tasks, SUS and an
    evidenced finding: nothing for the check to find."""
    study = make_study(tasks=2, title="Complete study")
    builders.make_report_texts(study, **TEXTS)
    study_session = builders.make_session(study, status=SessionStatus.COMPLETED)
    for task in study.tasks:
        builders.make_task_attempt(study_session, task, seq=6)
    builders.make_sus_response(study_session)
    note = builders.make_note(study_session, study.owner, "Could not find the freeze button")
    builders.make_finding(study, "Freeze is hidden", notes=[note])
    db.session.commit()
    return study


def _labels(check: checks.PublishCheck) -> set[str]:
    return {element.label for element in check.missing}


def test_a_complete_study_passes_the_check(complete_study):
    check = checks.check_study(complete_study)
    assert check.complete, check.gaps
    assert len(check.elements) == 15


def test_the_check_reads_counts_only_and_computes_no_interval(complete_study, monkeypatch):
    from usabtest.analysis import metrics

    # Shown on every study overview: a big study's means and intervals would cost a third of it.
    for name in ("mean_ci", "geometric_mean_ci", "adjusted_wald", "completion_estimate"):
        monkeypatch.setattr(metrics, name, lambda *args, **kwargs: pytest.fail("an interval was computed"))
    check = checks.check_study(complete_study)
    assert check.complete, check.gaps


def test_an_empty_study_lacks_every_element_and_warns_about_untried_tasks(make_study):
    study = make_study(tasks=2, goals="")
    check = checks.check_study(study)
    assert {"Contact details", "Executive summary", "Full product description", "Test objectives",
            "Participants: selection and recruitment", "Participants: who took part",
            "Test environment: facility, devices, software", "Test administrator tools",
            "Procedure and moderation", "General instructions to participants", "Usability metrics measured",
            "Performance results", "Satisfaction results (SUS or SEQ)",
            "Data analysis: findings"} == _labels(check)
    assert [c.message for c in check.concerns] == ["2 tasks without attempts: 1. Task 1, 2. Task 2"]


def test_the_check_warns_about_running_sessions_and_findings_without_evidence(complete_study, db):
    builders.make_session(complete_study, status=SessionStatus.IN_PROGRESS)
    builders.make_finding(complete_study, "Nobody saw this")
    db.session.commit()
    messages = [c.message for c in checks.check_study(complete_study).concerns]
    assert messages == ["1 session still in progress: its results may still change.",
                        "1 finding without evidence: “Nobody saw this”"]


def test_the_report_page_lists_each_element_with_a_link_to_fill_it_in(client, login, make_study):
    study = make_study(tasks=1)
    login(study.owner)
    html = client.get(f"/studies/{study.id}/report").get_data(as_text=True)
    assert "Pre-publish check" in html and "ISO/IEC 25062" in html
    assert f'href="/studies/{study.id}/report/texts#executive_summary"' in html
    assert f'href="/studies/{study.id}#tasks"' in html
    assert "Missing" in html and "1 task without attempts" in html
    assert 'name="gap_reason"' in html


def test_publishing_with_gaps_needs_a_reason_which_is_kept_with_the_version(client, login, make_study, db):
    study = make_study(tasks=1)
    login(study.owner)
    refused = client.post(f"/studies/{study.id}/report/publish", data=PUBLISH)
    assert refused.status_code == 400
    assert "say why this version is published with them" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedReport)) == 0
    question = client.post(f"/studies/{study.id}/report/publish",
                           data={"page_size": "A4", "gap_reason": "Interim read-out"})
    assert "gaps the pre-publish check found" in question.get_data(as_text=True)
    done = client.post(f"/studies/{study.id}/report/publish",
                       data={**PUBLISH, "gap_reason": "Interim read-out"})
    assert done.status_code == 302
    report = db.session.scalar(sa.select(PublishedReport))
    assert report.gap_reason == "Interim read-out"
    assert "Missing: Executive summary: Executive summary" in report.gaps
    page = client.get(f"/studies/{study.id}/report").get_data(as_text=True)
    assert "Interim read-out" in page


def test_a_complete_study_publishes_without_a_reason(client, login, complete_study, db):
    login(complete_study.owner)
    overview = client.get(f"/studies/{complete_study.id}").get_data(as_text=True)
    assert "Publish new version" in overview and 'name="gap_reason"' not in overview
    assert client.post(f"/studies/{complete_study.id}/report/publish", data=PUBLISH).status_code == 302
    report = db.session.scalar(sa.select(PublishedReport))
    assert report.gaps == [] and report.gap_reason == ""


def test_the_service_refuses_gaps_without_a_reason_when_asked_to_check(make_study, db):
    study = make_study(tasks=1)
    with pytest.raises(services.InvalidInput) as refused:
        services.publish(study, study.owner, gap_reason="  ")
    assert refused.value.field == "gap_reason"


def _draft_marks(data: bytes) -> list[bool]:
    """Per page: is the light DRAFT outline drawn on it (as shapes: it is not in the page's text)?"""
    mark = tuple(round(channel / 255, 3) for channel in (0xDD, 0xE2, 0xE8))
    with pdfplumber.open(io.BytesIO(data)) as document:
        return [any(tuple(round(c, 3) for c in curve.get("non_stroking_color") or ()) == mark
                    for curve in page.curves) and "DRAFT" not in (page.extract_text() or "")
                for page in document.pages]


def test_a_draft_carries_a_draft_mark_on_every_page_and_a_version_none():
    assert set(_draft_marks(pdf.render(replace(sample_report(), version_label="Draft")))) == {True}
    assert set(_draft_marks(pdf.render(sample_report()))) == {False}


def test_the_downloaded_draft_is_marked_on_every_page(client, login, complete_study):
    login(complete_study.owner)
    data = client.get(f"/studies/{complete_study.id}/report/draft?page_size=A4").data
    marks = _draft_marks(data)
    assert len(marks) > 5 and set(marks) == {True}
