"""The task attempts page and the correction form: a plain form, its refusals and its history."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from usabtest.accounts.models import Role
from usabtest.analysis import metrics
from usabtest.builders import make_task_attempt
from usabtest.db import utcnow
from usabtest.observe.models import Outcome, TaskAttempt, TaskAttemptRevision
from usabtest.planning.models import SessionStatus

FMT = "%Y-%m-%dT%H:%M:%S"


@pytest.fixture
def attempted(db, make_session):
    """A completed session whose first task has two attempts (a failure, then a success); times in UTC."""
    now = utcnow().replace(microsecond=0)
    study_session = make_session(status=SessionStatus.COMPLETED, started_at=now - timedelta(hours=1),
                                 ended_at=now - timedelta(minutes=10))
    task = study_session.study.tasks[0]
    first = make_task_attempt(study_session, task, started_at=now - timedelta(minutes=50), seconds=60,
                              outcome=Outcome.FAILURE, number=1, error_count=2, seq=2)
    second = make_task_attempt(study_session, task, started_at=now - timedelta(minutes=45), seconds=90,
                               number=2, error_count=0, seq=6)
    db.session.commit()
    return study_session, first, second


def _form(attempt: TaskAttempt, **changes) -> dict:
    data = {"outcome": attempt.outcome.value, "error_count": str(attempt.error_count),
            "seq": str(attempt.seq),
            "started_at": attempt.started_at.strftime(FMT), "ended_at": attempt.ended_at.strftime(FMT),
            "version": str(attempt.version)}
    return {**data, **changes}


def _url(attempt: TaskAttempt) -> str:
    return f"/sessions/{attempt.session_id}/attempts/{attempt.id}"


def test_attempts_page_lists_every_attempt_and_which_one_counts(db, client, login, attempted):
    study_session, first, second = attempted
    login(study_session.moderator)
    page = client.get(f"/sessions/{study_session.id}/attempts").get_data(as_text=True)
    assert metrics.ATTEMPT_RULE.replace("'", "&#39;") in page
    assert f'id="attempt-{first.id}"' in page and f'id="attempt-{second.id}"' in page
    row = page.split(f'id="attempt-{second.id}"')[1].split("</tr>")[0]
    assert "Yes" in row and _url(second) in row
    assert "No" in page.split(f'id="attempt-{first.id}"')[1].split("</tr>")[0]


def test_correction_form_saves_and_shows_the_history(db, client, login, attempted):
    study_session, first, _second = attempted
    login(study_session.moderator)
    assert client.get(_url(first)).status_code == 200
    later_end = first.ended_at + timedelta(seconds=30)
    response = client.post(_url(first), data=_form(first, outcome="abandoned", seq="3",
                                                   ended_at=later_end.strftime(FMT)))
    assert response.status_code == 302
    db.session.refresh(first)
    assert (first.outcome, first.seq, first.duration_s) == (Outcome.ABANDONED, 3, 90)
    page = client.get(_url(first)).get_data(as_text=True)
    assert "corrected the attempt" in page and "Failure" in page and "Abandoned" in page
    assert study_session.moderator.name in page


def test_saving_an_unchanged_form_records_nothing(db, client, login, attempted):
    study_session, first, _second = attempted
    login(study_session.moderator)
    assert client.post(_url(first), data=_form(first)).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskAttemptRevision)) == 0


@pytest.mark.parametrize(("changes", "message"), [
    ({"seq": "8"}, "from 1 (very difficult) to 7"),
    ({"error_count": "-2"}, "Errors are counted from 0"),
    ({"outcome": ""}, "Choose the outcome"),
    ({"started_at": "yesterday"}, "Give a date and time"),
])
def test_bad_corrections_are_refused_beside_the_field(db, client, login, attempted, changes, message):
    study_session, first, _second = attempted
    login(study_session.moderator)
    response = client.post(_url(first), data=_form(first, **changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.refresh(first)
    assert (first.outcome, first.seq, first.error_count) == (Outcome.FAILURE, 2, 2)


def test_end_before_start_is_refused_and_nothing_changes(db, client, login, attempted):
    study_session, first, _second = attempted
    login(study_session.moderator)
    before = (first.started_at, first.ended_at)
    early = first.started_at - timedelta(seconds=5)
    response = client.post(_url(first), data=_form(first, ended_at=early.strftime(FMT), seq="8"))
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "The end must come after the start." in text and "7 (very easy)" in text
    db.session.refresh(first)
    assert (first.started_at, first.ended_at, first.seq) == (*before, 2)


def test_stale_form_shows_the_saved_values(db, client, login, attempted):
    study_session, first, _second = attempted
    login(study_session.moderator)
    old = _form(first)
    assert client.post(_url(first), data={**old, "seq": "4"}).status_code == 302
    response = client.post(_url(first), data={**old, "seq": "5"})
    assert response.status_code == 409
    assert "Saved now:" in response.get_data(as_text=True)
    db.session.refresh(first)
    assert first.seq == 4


def test_observer_may_list_attempts_but_not_correct_them(db, client, login, make_user, make_session):
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer], status=SessionStatus.COMPLETED,
                                 started_at=utcnow() - timedelta(hours=1), ended_at=utcnow())
    attempt = make_task_attempt(study_session, study_session.study.tasks[0],
                                started_at=utcnow() - timedelta(minutes=30))
    db.session.commit()
    login(observer)
    page = client.get(f"/sessions/{study_session.id}/attempts").get_data(as_text=True)
    assert _url(attempt) not in page
    assert client.get(_url(attempt)).status_code == 403
    assert client.post(_url(attempt), data=_form(attempt, seq="1")).status_code == 403


def test_attempts_export_numbers_attempts_and_marks_the_counted_one(db, client, login, attempted):
    study_session, _first, _second = attempted
    login(study_session.study.owner)
    response = client.get(f"/studies/{study_session.study_id}/exports/attempts.csv")
    header, *rows = csv.reader(io.StringIO(response.data.decode("utf-8-sig")))
    table = [dict(zip(header, row, strict=True)) for row in rows]
    assert [(r["attempt"], r["outcome"], r["counted"]) for r in table] == [
        ("1", "failure", "no"), ("2", "success", "yes")]


def test_session_page_and_console_link_to_the_attempts(db, client, login, attempted):
    study_session, _first, _second = attempted
    login(study_session.moderator)
    link = f'href="/sessions/{study_session.id}/attempts"'
    assert link in client.get(f"/sessions/{study_session.id}").get_data(as_text=True)
    assert link in client.get(f"/sessions/{study_session.id}/observe").get_data(as_text=True)
