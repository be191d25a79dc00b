"""Reports built from the database: same numbers as the results page, ranked findings, privacy,
hostile text end to end, and a constant number of SQL queries."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from tests.test_reports_pdf import HOSTILE, body_text, logical_text, pdf_text, qpdf_check, squash
from usabtest import builders
from usabtest.accounts.models import Role
from usabtest.analysis import results as analysis
from usabtest.analysis.models import Finding, Screenshot
from usabtest.db import utcnow
from usabtest.observe.models import Outcome, SusResponse, TaskAttempt
from usabtest.planning.models import SessionStatus
from usabtest.reports import data as report_data
from usabtest.reports import pdf, services

OUTCOMES = [Outcome.SUCCESS, Outcome.SUCCESS, Outcome.FAILURE, Outcome.ASSISTED, Outcome.SUCCESS,
            Outcome.ABANDONED, Outcome.SKIPPED]
SEGMENTS = [{"Age": "18-24", "Usage": "Daily"}, {"Age": "35-44", "Usage": "Weekly"},
            {"Age": "65+", "Usage": "Rarely"}]


def _png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (800, 500), (200, 60, 60)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def build_study(db, make_study, make_user, make_participant, make_session, make_note):
    """Builder: a tested study with `sessions` sessions, attempts, SUS answers, notes and findings."""

    def _build(sessions: int = 4, notes_per_session: int = 3):
        researcher = make_user(Role.RESEARCHER, name="Riley Researcher")
        study = make_study(owner=researcher, tasks=3, title="Banking study", product="Bank app",
                           goals="Can people pay?")
        builders.make_report_texts(study, environment_facility="Lab 2", executive_summary="It mostly works.")
        start = utcnow() - timedelta(days=3)
        notes = []
        for n in range(sessions):
            person = make_participant(study, name=f"Secret Name{n}", email=f"secret{n}@private.example",
                                      segments=SEGMENTS[n % 3])
            person.personal.phone = f"+44 7700 90{n:04d}"
            when = start + timedelta(hours=n)
            study_session = make_session(study=study, participant=person, starts_at=when,
                                         status=SessionStatus.COMPLETED, started_at=when)
            for index, task in enumerate(study.tasks):
                began = start + timedelta(hours=n, minutes=index * 10)
                db.session.add(TaskAttempt(
                    study_session=study_session, task=task, started_at=began,
                    ended_at=began + timedelta(seconds=30 + 17 * ((n + index) % 5)),
                    outcome=OUTCOMES[(n + 2 * index) % len(OUTCOMES)], error_count=(n + index) % 3,
                    seq=1 + (n * 3 + index) % 7))
            db.session.add(SusResponse(study_session=study_session,
                                       answers=[1 + (n + i) % 5 for i in range(10)]))
            for k in range(notes_per_session):
                elapsed = (n * 60 + k) * 1000 + 761_000
                notes.append(make_note(study_session, researcher, body=f"Observation {n}-{k}",
                                       task_id=study.tasks[k % 3].id, elapsed_ms=elapsed))
        findings = [
            Finding(study=study, title="Minor label confusion", severity=2, recommendation="Rename it.",
                    notes=notes[:2], tasks=[study.tasks[0]]),
            Finding(study=study, title="Cannot find freeze", severity=4, recommendation="Show it on the card",
                    notes=notes[::notes_per_session], tasks=[study.tasks[2]]),
            Finding(study=study, title="Payee forgotten", severity=4, recommendation="Remember payees.",
                    notes=notes[:1], tasks=[study.tasks[1]]),
        ]
        findings[1].screenshots.append(Screenshot(filename="card.png", content_type="image/png", width=800,
                                                  height=500, caption="The card screen", data=_png()))
        db.session.add_all(findings)
        db.session.commit()
        return study

    return _build


def test_report_shows_task_metrics_exactly_as_the_results_page(build_study):
    study = build_study(sessions=6)
    text = pdf_text(services.render_draft(study))
    results = analysis.compute_study_results(study.id)
    assert results.tasks
    for task in results.tasks:
        for shown in (task.completion_text, task.time_text, task.errors_text, task.seq_text):
            assert shown in text, (task.title, shown)
    assert f"mean SUS score is {results.sus.mean_text}" in text
    assert results.sus.interval_text in text and f"grade {results.sus.grade}" in text


def test_report_lists_findings_in_ranked_order_with_attributed_evidence(build_study):
    study = build_study(sessions=5)
    text = pdf_text(services.render_draft(study)).split("5 Findings")[-1]
    ranked = analysis.ranked_findings(study.id)
    positions = [text.index(f"{f.rank}. {f.title}") for f in ranked]
    assert positions == sorted(positions)
    assert [f.title for f in ranked][:2] == ["Cannot find freeze", "Payee forgotten"]
    assert "P01, task 1, 12:41" in text
    assert "Remember payees." in text and "5 of 5 participants" in text


def test_report_never_contains_participant_names_emails_or_phones(build_study, db):
    study = build_study(sessions=3)
    first = study.participants[0]
    first.erased = True  # an erased participant's notes stay, under the pseudonym
    db.session.commit()
    text = pdf_text(services.render_draft(study))
    for person in study.participants:
        assert person.personal.name not in text
        assert person.personal.email not in text
        assert person.personal.phone not in text
        assert person.code in text
    assert "Secret" not in text and "private.example" not in text and "7700" not in text
    assert "Observation 0-0" in text and "P01, task 1" in text


def test_hostile_notes_and_titles_survive_the_database_round_trip(build_study, db, tmp_path):
    study = build_study(sessions=2, notes_per_session=1)
    finding = db.session.scalar(sa.select(Finding).where(Finding.title == "Cannot find freeze"))
    finding.title = HOSTILE["bold"]
    finding.description = HOSTILE["unclosed"]
    for note, body in zip(finding.notes, [HOSTILE["emoji"], HOSTILE["rtl"]], strict=True):
        note.body = body
    finding.notes[0].body += " " + HOSTILE["long_word"] + " " + HOSTILE["entity"]
    finding.notes[1].body += "\n" + ("Ten thousand characters. " * 400)[:10_000]
    study.title = HOSTILE["unclosed"]
    study.tasks[0].title = HOSTILE["entity"]
    db.session.commit()
    data = services.render_draft(study)
    qpdf_check(data, tmp_path)
    text = squash(body_text(data))
    for name, value in HOSTILE.items():
        if name != "rtl":
            assert squash(value) in text, name
    assert HOSTILE["rtl"] in logical_text(data)
    assert squash(("Ten thousand characters. " * 400)[:10_000]) in text


def _count_queries(db, action) -> int:
    statements = []

    def _record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", _record)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", _record)
    return len(statements)


def test_building_report_data_makes_the_same_number_of_queries_for_any_study_size(build_study, db):
    small = build_study(sessions=1, notes_per_session=1).id
    large = build_study(sessions=9, notes_per_session=6).id
    counts = []
    for study_id in (small, large):
        db.session.rollback()  # each build starts with a fresh transaction and an empty identity map
        counts.append(_count_queries(db, lambda s=study_id: report_data.build_report_data(s)))
    small_count, large_count = counts
    assert small_count == large_count
    assert small_count <= 20


def test_report_data_builds_the_common_industry_format_parts(build_study):
    study = build_study(sessions=3)
    report = report_data.build_report_data(study.id, "Version 4")
    assert report.version_label == "Version 4" and report.author == "Riley Researcher"
    assert [p.code for p in report.participants] == ["P01", "P02", "P03"]
    assert report.participants[0].segments == {"Age": "18-24", "Usage": "Daily"}
    assert len(report.sus_statements) == 10
    assert report.findings[0].screenshots[0].width == 800
    assert "moderated by Riley Researcher" in report.moderation
    assert pdf.render(report).startswith(b"%PDF")


def test_untested_study_renders_a_draft_with_empty_sections(make_study):
    study = make_study(tasks=2)
    text = pdf_text(services.render_draft(study))
    assert "Not yet tested" in text and "No findings have been recorded." in text
