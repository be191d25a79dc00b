"""The results data layer: task metrics, SUS, segments, ranked findings and the rainbow matrix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from usabtest.analysis.models import Finding, Screenshot
from usabtest.analysis.results import (
    compute_study_results,
    format_elapsed,
    format_seconds,
    rainbow_matrix,
    ranked_findings,
)
from usabtest.db import utcnow
from usabtest.observe.models import Outcome, SusResponse, TaskAttempt
from usabtest.planning.models import SessionStatus


@pytest.fixture
def observed(db, make_study, make_participant, make_session):
    """Builder: a completed session of `study` for a new participant with `segments`."""

    def _make(study, status=SessionStatus.COMPLETED, **segments):
        participant = make_participant(study, segments=segments)
        return make_session(study=study, participant=participant, status=status)

    return _make


def _attempt(db, study_session, task, outcome, seconds=None, errors=None, seq=None):
    start = utcnow() - timedelta(hours=1)
    attempt = TaskAttempt(study_session=study_session, task=task, outcome=outcome, started_at=start,
                          ended_at=start + timedelta(seconds=seconds) if seconds else None,
                          error_count=errors, seq=seq)
    db.session.add(attempt)
    db.session.commit()
    return attempt


def test_task_metrics_count_assisted_as_failure_and_time_only_successes(db, make_study, observed):
    study = make_study(tasks=2)
    task = study.tasks[0]
    outcomes = [(Outcome.SUCCESS, 60, 0, 6), (Outcome.SUCCESS, 240, 1, 5), (Outcome.ASSISTED, 500, 3, 2),
                (Outcome.FAILURE, 30, 2, 1), (Outcome.SKIPPED, None, None, None)]
    for outcome, seconds, errors, seq in outcomes:
        _attempt(db, observed(study), task, outcome, seconds, errors, seq)
    # A cancelled session's attempt is not counted.
    _attempt(db, observed(study, status=SessionStatus.CANCELLED), task, Outcome.SUCCESS, 10)

    results = compute_study_results(study.id)
    first, second = results.tasks
    assert (first.number, first.attempts, first.successes, first.assisted, first.failures) == (1, 4, 2, 1, 1)
    assert first.skipped == 1
    assert first.completion.value == 0.5
    assert first.completion.low < 0.5 < first.completion.high
    assert first.time_s.value == pytest.approx(120.0)  # sqrt(60 * 240); the assisted 500 s is left out
    assert first.timed == 2
    assert first.errors_mean == pytest.approx(1.5)  # (0 + 1 + 3 + 2) / 4
    assert first.seq.value == pytest.approx(3.5)
    # 3.5 +/- 3.18 * 2.38 / 2 runs past both ends of the 1-7 scale, so it is held to the scale.
    assert (first.seq.low, first.seq.high) == (1, 7)
    assert first.completion_text.startswith("50% (")
    assert second.attempts == 0 and second.completion is None and second.completion_text == "–"
    assert results.participants_observed == 5
    assert results.sessions_observed == 5


def test_sus_scores_mean_grade_and_segment_filter(db, make_study, observed):
    study = make_study(tasks=1)
    novice = observed(study, experience="novice")
    expert = observed(study, experience="expert")
    other_expert = observed(study, experience="expert")
    db.session.add_all([
        SusResponse(study_session=novice, answers=[3] * 10),            # 50
        SusResponse(study_session=expert, answers=[5, 1] * 5),          # 100
        SusResponse(study_session=other_expert, answers=[4, 2] * 5),    # 75
    ])
    db.session.commit()

    everyone = compute_study_results(study.id)
    assert [s.score for s in everyone.sus.scores] == [50.0, 100.0, 75.0]
    assert [s.participant_code for s in everyone.sus.scores] == ["P01", "P02", "P03"]
    assert everyone.sus.mean.value == pytest.approx(75.0)
    assert everyone.sus.grade == "B"
    assert everyone.segment_options == {"experience": ["expert", "novice"]}

    experts = compute_study_results(study.id, {"experience": "expert"})
    assert experts.sus.n == 2 and experts.sus.mean.value == pytest.approx(87.5)
    assert experts.sus.grade == "A+"
    assert experts.participants_observed == 2
    assert experts.segment == {"experience": "expert"}


def test_incomplete_sus_answers_are_left_out_of_the_mean(db, make_study, observed):
    study = make_study(tasks=1)
    db.session.add(SusResponse(study_session=observed(study), answers=[3] * 9))
    db.session.commit()
    assert compute_study_results(study.id).sus.n == 0


def test_findings_rank_by_severity_then_frequency_unless_ordered_by_hand(
        db, make_study, observed, make_note):
    study = make_study(tasks=2)
    sessions = [observed(study) for _ in range(4)]
    author = study.owner
    notes = [make_note(s, author, body=f"note {i}", task=study.tasks[1], elapsed_ms=61_000 * (i + 1))
             for i, s in enumerate(sessions)]
    minor_common = Finding(study=study, title="Minor, seen by three", severity=2, notes=notes[:3])
    major_rare = Finding(study=study, title="Major, seen once", severity=3, notes=notes[3:])
    minor_rare = Finding(study=study, title="Minor, seen once", severity=2, notes=notes[:1],
                         tasks=[study.tasks[1]])
    db.session.add_all([minor_rare, minor_common, major_rare])
    db.session.commit()

    findings = ranked_findings(study.id)
    assert [f.title for f in findings] == ["Major, seen once", "Minor, seen by three", "Minor, seen once"]
    assert [f.rank for f in findings] == [1, 2, 3]
    assert findings[1].frequency_text == "3 of 4 participants"
    assert findings[2].tasks[0].number == 2
    evidence = findings[0].evidence[0]
    assert evidence.attribution == "P04, task 2, 4:04"

    minor_rare.position = 0
    major_rare.position = 1
    db.session.commit()
    assert [f.title for f in ranked_findings(study.id)][:2] == ["Minor, seen once", "Major, seen once"]


def test_deleted_notes_do_not_count_towards_frequency(db, make_study, observed, make_note):
    study = make_study(tasks=1)
    first, second = observed(study), observed(study)
    kept = make_note(first, study.owner)
    gone = make_note(second, study.owner, deleted_at=utcnow())
    db.session.add(Finding(study=study, title="Confusing label", notes=[kept, gone]))
    db.session.commit()
    (finding,) = ranked_findings(study.id)
    assert finding.frequency_text == "1 of 2 participants"
    assert [e.note_id for e in finding.evidence] == [kept.id]


def test_screenshot_bytes_only_when_asked(db, make_study):
    study = make_study()
    finding = Finding(study=study, title="Hidden button")
    finding.screenshots.append(Screenshot(filename="a.png", content_type="image/png", width=1, height=1,
                                          data=b"png-bytes"))
    db.session.add(finding)
    db.session.commit()
    assert ranked_findings(study.id)[0].screenshots[0].data is None
    assert ranked_findings(study.id, with_screenshot_data=True)[0].screenshots[0].data == b"png-bytes"


def test_rainbow_matrix_cells_and_totals(db, make_study, observed, make_note):
    study = make_study(tasks=1)
    first, _second, third = observed(study), observed(study), observed(study)
    a = make_note(first, study.owner, body="a")
    b = make_note(first, study.owner, body="b")
    c = make_note(third, study.owner, body="c")
    db.session.add(Finding(study=study, title="Problem", severity=3, notes=[a, b, c]))
    db.session.commit()

    matrix = rainbow_matrix(study.id)
    assert [p.code for p in matrix.participants] == ["P01", "P02", "P03"]
    (row,) = matrix.rows
    assert [len(cell.notes) for cell in row.cells] == [2, 0, 1]
    assert row.total == 2
    assert row.finding.frequency_text == "2 of 3 participants"


def test_formatting_helpers():
    assert format_seconds(65.4) == "1:05"
    assert format_seconds(3725) == "1:02:05"
    assert format_elapsed(754_999) == "12:34"
