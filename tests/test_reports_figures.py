"""Findings as a consultant presents them and numbers a methodologist would sign: the evidence
rules, n and interval rules, test dates in the sessions' time zone, one rounding rule on the
results page, in the PDF and in the CSV, priority and effort, what worked well and next steps."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest

from usabtest import builders
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role
from usabtest.analysis import figures, metrics
from usabtest.analysis import results as analysis
from usabtest.observe.models import NoteKind, Outcome
from usabtest.planning.models import SessionStatus
from usabtest.reports import services
from usabtest.reports.data import build_report_data

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pdftotext(data: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it, whitespace runs squashed to one space."""
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout
    return " ".join(out.decode("utf-8").split())


@pytest.fixture
def tested(db, make_user, make_study, make_participant, make_session):
    """Builder: a study whose task 1 has one attempt per given outcome, one session each."""

    def _build(outcomes, *, seconds=(47,), errors=(None,), seqs=(None,), tasks=1):
        researcher = make_user(Role.RESEARCHER, name="Riley Researcher")
        study = make_study(owner=researcher, tasks=tasks, title="Figures study")
        sessions = []
        for n, outcome in enumerate(outcomes):
            person = make_participant(study)
            when = START + timedelta(hours=n)
            study_session = make_session(study=study, participant=person, starts_at=when, started_at=when,
                                         status=SessionStatus.COMPLETED)
            builders.make_task_attempt(study_session, study.tasks[0], started_at=when + timedelta(minutes=1),
                                       seconds=seconds[n % len(seconds)], outcome=outcome,
                                       error_count=errors[n % len(errors)], seq=seqs[n % len(seqs)])
            sessions.append(study_session)
        db.session.commit()
        return study, sessions

    return _build


# --- rounding, plurals and the completion estimate (pure) ----------------------------------------

def test_one_rounding_rule_rounds_halves_up():
    assert figures.percent(0.625) == "63%" and figures.percent(0.575) == "58%"
    assert figures.decimal(5.25) == "5.3" and figures.decimal(84.05) == "84.1"
    assert figures.duration(46.5) == "0:47" and figures.duration(3599.5) == "1:00:00"
    assert metrics.sus_grade(84.05) == "A+"  # the grade reads the mean as it is printed: 84.1


def test_plurals_and_interval_labels():
    assert figures.plural(1, "participant") == "1 participant"
    assert figures.plural(0, "participant") == "0 participants"
    assert figures.confidence_label(0.95) == "95% CI" and figures.confidence_label(0.9) == "90% CI"
    assert figures.with_interval("0:47", 1, 0.95, "0:40", "0:55") == "0:47 (n = 1)"
    assert figures.with_interval("1:25", 5, 0.95, "1:02", "1:58") == "1:25 (95% CI 1:02–1:58, n = 5)"


@pytest.mark.parametrize(("successes", "trials", "method", "value"), [
    (1, 4, metrics.WILSON, (1 + 1.92) / (4 + 3.84)),
    (7, 10, metrics.OBSERVED, 0.7),
    (5, 5, metrics.LAPLACE, 6 / 7),
    (0, 1, metrics.WILSON, 1.92 / 4.84),
])
def test_completion_estimate_follows_lewis_and_sauro(successes, trials, method, value):
    estimate, used = metrics.completion_estimate(successes, trials)
    assert used == method and estimate == pytest.approx(value, abs=0.002)


# --- n and interval rules --------------------------------------------------------------------

def test_one_attempt_has_no_interval_anywhere(tested):
    study, _ = tested([Outcome.SUCCESS], seconds=(47,), seqs=(6,))
    task = analysis.compute_study_results(study.id).tasks[0]
    assert task.time_text == "0:47 (n = 1)" and task.time_s.low is None
    assert task.seq_text == "6.0 (n = 1)"
    assert task.completion_text == "67%, 1 of 1 observed" and task.completion_method == metrics.LAPLACE
    assert task.errors_text == figures.MISSING
    text = pdftotext(services.render_draft(study))
    assert "0:47 (n = 1)" in text and "0:47 (0:47–0:47)" not in text and "0:47–0:47" not in text
    assert "67%, 1 of 1 observed" in text and "Not recorded" in text


def test_two_attempts_have_labelled_intervals_with_n(tested):
    study, _ = tested([Outcome.SUCCESS, Outcome.FAILURE], seconds=(40, 60), errors=(1, 2), seqs=(5, 6))
    task = analysis.compute_study_results(study.id).tasks[0]
    assert task.completion_text.startswith("50% (95% CI ") and task.completion_text.endswith(
        ", 1 of 2 observed")
    assert task.seq_text.startswith("5.5 (95% CI ") and task.seq_text.endswith(", n = 2)")
    assert task.time_text == "0:40 (n = 1)"  # time on task is over the one successful attempt
    assert task.errors_text == "1.5 (n = 2)"
    text = pdftotext(services.render_draft(study))
    for shown in (task.completion_text, task.seq_text, task.errors_text):
        assert shown in text, shown


def test_all_successes_print_the_laplace_estimate_beside_the_observed_count(tested):
    study, _ = tested([Outcome.SUCCESS] * 5, seconds=(40, 50, 60))
    task = analysis.compute_study_results(study.id).tasks[0]
    assert task.completion_method == metrics.LAPLACE
    assert task.completion_text.startswith("86% (95% CI ") and task.completion_text.endswith(
        "–100%), 5 of 5 observed")
    assert "100%, " not in task.completion_text  # 5 of 5 is no 100% completion rate
    report = build_report_data(study.id)
    assert "Laplace" in report.measures_text and "adjusted Wald" in report.measures_text


def test_seq_of_skipped_tasks_is_left_out(tested):
    study, _ = tested([Outcome.SUCCESS, Outcome.SKIPPED, Outcome.SUCCESS], seqs=(6, 1, 7))
    task = analysis.compute_study_results(study.id).tasks[0]
    assert task.seq_n == 2 and task.seq.value == pytest.approx(6.5) and task.attempts == 2


def test_measures_text_describes_what_the_code_computes(tested):
    study, _ = tested([Outcome.SUCCESS, Outcome.FAILURE], seqs=(5, 6))
    report = build_report_data(study.id)
    text = report.measures_text
    assert "over successful attempts only" in text and "skipped tasks are excluded" in text
    assert metrics.ATTEMPT_RULE in text and metrics.COMPLETION_RULE in text
    assert "95% confidence" in text and "rounded half up" in text
    assert "SUS" not in text  # nobody filled the questionnaire: the text does not claim it
    printed = pdftotext(services.render_draft(study))
    assert "think-aloud" not in printed.lower() and "think aloud" not in printed.lower()
    assert "stuck" not in printed.lower()
    assert "measured for every attempt" not in printed


# --- test dates in the sessions' time zone ---------------------------------------------------------

def test_an_evening_new_york_session_is_dated_that_evening(db, make_study, make_participant, make_session):
    study = make_study(tasks=1)
    evening = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)  # 22:00 on 3 March in New York
    make_session(study=study, participant=make_participant(study), starts_at=evening, started_at=evening,
                 timezone="America/New_York", status=SessionStatus.COMPLETED)
    london = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    make_session(study=study, participant=make_participant(study), starts_at=london, started_at=london,
                 timezone="Europe/London", status=SessionStatus.COMPLETED)
    db.session.commit()
    report = build_report_data(study.id)
    assert (report.first_test_date, report.last_test_date) == (date(2026, 3, 3), date(2026, 3, 5))
    assert "3–5 March 2026" in pdftotext(services.render_draft(study))


# --- evidence ------------------------------------------------------------------------------------

@pytest.fixture
def evidenced(db, make_user, make_study, make_participant, make_session, make_note):
    researcher = make_user(Role.RESEARCHER)
    study = make_study(owner=researcher, tasks=2)
    people = []
    for n in range(3):
        when = START + timedelta(days=n)
        people.append(make_session(study=study, participant=make_participant(study), starts_at=when,
                                   started_at=when, status=SessionStatus.COMPLETED))
    task = study.tasks[1]
    notes = [
        make_note(people[2], researcher, "I would never find this.", kind=NoteKind.QUOTE, task_id=task.id,
                  elapsed_ms=761_000),
        make_note(people[2], researcher, "Scrolled past the Freeze button twice.", kind=NoteKind.OBSERVATION,
                  task_id=task.id, elapsed_ms=765_400),
        *(make_note(person, researcher, "Opened  Settings first.", kind=NoteKind.OBSERVATION,
                    task_id=task.id, elapsed_ms=60_000 + i * 1000) for i, person in enumerate(people)),
    ]
    builders.make_finding(study, "Freeze is hidden", severity=3, notes=notes, recommendation="Show it.",
                          priority="high", effort="small")
    db.session.commit()
    return study


def test_evidence_is_honest_about_who_said_what_and_printed_once(evidenced):
    finding = build_report_data(evidenced.id).findings[0]
    by_text = {quote.text: quote for quote in finding.quotes}
    said = by_text["I would never find this."]
    assert said.display_text == "“I would never find this.”" and said.attribution_text == "P03, task 2, 12:41"
    seen = by_text["Scrolled past the Freeze button twice."]
    assert seen.display_text == "Scrolled past the Freeze button twice."
    assert seen.attribution_text == "Observed in P03, task 2, 12:45"
    repeated = by_text["Opened  Settings first."]
    assert repeated.count == 3 and len(finding.quotes) == 3
    assert repeated.attribution_text == ("Observed 3 times: in P01, task 2, 1:00; P02, task 2, 1:01; "
                                         "P03, task 2, 1:02")
    text = pdftotext(services.render_draft(evidenced))
    assert "“I would never find this.” — P03, task 2, 12:41" in text
    assert "“Scrolled past" not in text and "Observed in P03, task 2, 12:45" in text
    assert text.count("Opened Settings first.") == 1 and "Observed 3 times: in P01, task 2, 1:00" in text


def test_findings_report_priority_effort_legend_worked_well_and_next_steps(evidenced):
    builders.make_finding(evidenced, "Balance visible at a glance", severity=0, positive=True,
                          description="Everyone read the balance at once.")
    builders.make_report_texts(evidenced, next_steps="Retest the freeze task in May.")
    report = build_report_data(evidenced.id)
    assert [f.title for f in report.findings] == ["Freeze is hidden"]
    assert [f.title for f in report.worked_well] == ["Balance visible at a glance"]
    assert report.findings[0].priority_text == "Priority: High · Effort: Small"
    assert [level.level for level in report.severity_legend] == [4, 3, 2, 1, 0]
    text = pdftotext(services.render_draft(evidenced))
    assert "Recommendation · Priority: High · Effort: Small" in text
    assert "Usability catastrophe: must be fixed before the product is released." in text
    worked = text.split("What worked well")[-1]
    assert "Balance visible at a glance" in worked and "Retest the freeze task in May." in worked
    assert "Severity 0" not in text


def test_screenshots_carry_a_caption(evidenced, db):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (90, 90, 90)).save(buffer, "PNG")
    finding = builders.make_finding(evidenced, "Error page", severity=4, screenshots=[
        builders.make_screenshot(buffer.getvalue(), width=300, height=200, caption="The error page")])
    db.session.commit()
    report = build_report_data(evidenced.id)
    item = next(f for f in report.findings if f.title == finding.title)
    assert item.screenshots[0].caption_text == f"Screenshot 1 of finding {item.rank}: The error page"
    assert item.screenshots[0].caption_text in pdftotext(services.render_draft(evidenced))


def test_priority_effort_and_positive_are_written_through_page_and_api(evidenced, client, login, db):
    finding = evidenced_finding(evidenced)
    login(evidenced.owner)
    page = client.post(f"/studies/{evidenced.id}/findings/{finding.id}/edit", data={
        "title": finding.title, "severity": "3", "description": "", "recommendation": "Show it.",
        "priority": "low", "effort": "large", "positive": "", "version": finding.version,
    })
    assert page.status_code == 302, page.get_data(as_text=True)
    db.session.refresh(finding)
    assert (finding.priority, finding.effort) == ("low", "large")
    html = client.get(f"/studies/{evidenced.id}/findings/{finding.id}").get_data(as_text=True)
    assert "Low" in html and "Large" in html
    token = account_services.issue_token(evidenced.owner, "figures")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.patch(f"/api/v1/findings/{finding.id}", headers=headers,
                          json={"version": finding.version, "priority": "medium", "positive": True})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["priority"] == "medium" and answer.get_json()["effort"] == "large"
    assert answer.get_json()["positive"] is True
    refused = client.patch(f"/api/v1/findings/{finding.id}", headers=headers,
                           json={"version": answer.get_json()["version"], "effort": "huge"})
    assert refused.status_code == 422


def evidenced_finding(study):
    from usabtest.analysis.models import Finding
    from usabtest.extensions import db

    return db.session.scalars(db.select(Finding).where(Finding.study_id == study.id)).one()


# --- one rounding rule: page, PDF and CSV agree ------------------------------------------------------

def test_page_pdf_and_csv_round_the_same_way(tested, client, login):
    # 5 of 8 is 62.5% (Python's round() says 62), SEQ 5, 5, 5, 6 average 5.25 (format() says 5.2).
    outcomes = [Outcome.SUCCESS] * 5 + [Outcome.FAILURE] * 3
    study, _ = tested(outcomes, seconds=(40, 45, 50, 55, 61), seqs=(5, 5, 5, 6), errors=(0, 1))
    task = analysis.compute_study_results(study.id).tasks[0]
    assert task.completion_text.startswith("63% (95% CI ") and task.seq_text.startswith("5.3 (95% CI ")
    login(study.owner)
    page = " ".join(client.get(f"/studies/{study.id}/results").get_data(as_text=True).split())
    text = pdftotext(services.render_draft(study))
    for shown in (task.completion_text, task.time_text, task.errors_text, task.seq_text):
        assert shown in page, shown
        assert shown in text, shown
    exported = client.get(f"/studies/{study.id}/exports/results.csv").get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert row["completion"] == "63%" and row["completion_observed"] == "5 of 8"
    assert row["seq_mean"] == "5.3" and row["seq_n"] == "8"
    assert f"{row['completion']} (95% CI {row['completion_ci_low']}–{row['completion_ci_high']})" in text
    assert f"{row['seq_mean']} (95% CI {row['seq_ci_low']}–{row['seq_ci_high']}, n = 8)" in page
    assert row["time_on_task"] in task.time_text and row["errors_mean"] == "0.5"


def test_report_wording_has_correct_plurals():
    from usabtest.reports.document import FindingItem, ReportData

    one = FindingItem(1, "Freeze hidden", 4, "Catastrophe", frequency=1, participants=1, tasks=("5. Freeze",))
    assert one.frequency_text == "1 of 1 participant" and one.tasks_text == "Task: 5. Freeze"
    two = FindingItem(2, "Pay", 3, "Major", frequency=1, participants=2, tasks=("2. Pay", "3. Bill"))
    assert two.frequency_text == "1 of 2 participants" and two.tasks_text == "Tasks: 2. Pay, 3. Bill"
    report = ReportData("S", "C", "P", "A", "Draft", datetime(2026, 3, 2, tzinfo=UTC), session_count=1)
    assert report.participants_text == "0 participants took part in 1 session."
