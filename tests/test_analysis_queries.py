"""The results page, notes board and matrix run the same number of SQL queries at 5 and at 50 sessions."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from usabtest.analysis.models import Finding
from usabtest.db import utcnow
from usabtest.observe.models import Outcome, SusResponse, TaskAttempt
from usabtest.planning.models import SessionStatus

PAGES = ("results", "notes", "matrix")


@contextmanager
def counting(engine):
    """Count SQL statements sent to `engine` inside the block."""
    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", _count)


def _build(db, study, sessions, make_participant, make_session, make_note):
    findings = [Finding(study=study, title=f"Finding {i}", severity=i % 5) for i in range(3)]
    db.session.add_all(findings)
    for index in range(sessions):
        participant = make_participant(study, segments={"group": "a" if index % 2 else "b"})
        study_session = make_session(study=study, participant=participant, status=SessionStatus.COMPLETED)
        start = utcnow() - timedelta(hours=2)
        for position, task in enumerate(study.tasks):
            db.session.add(TaskAttempt(study_session=study_session, task=task, started_at=start,
                                       ended_at=start + timedelta(seconds=40 + index + position),
                                       outcome=Outcome.SUCCESS if index % 3 else Outcome.FAILURE,
                                       error_count=index % 4, seq=1 + index % 7))
        answers = [1 + (index + i) % 5 for i in range(10)]
        db.session.add(SusResponse(study_session=study_session, answers=answers))
        for k in range(3):
            note = make_note(study_session, study.owner, body=f"note {index}-{k}", task=study.tasks[k % 2],
                             tags=["tag"], severity=k, elapsed_ms=1000 * k)
            findings[k].notes.append(note)
    db.session.commit()


def _query_counts(db, client, study) -> dict[str, int]:
    counts = {}
    for page in PAGES:
        client.get(f"/studies/{study.id}/{page}")  # warm caches (e.g. the login lookup's first use)
        with counting(db.engine) as statements:
            response = client.get(f"/studies/{study.id}/{page}")
        assert response.status_code == 200
        counts[page] = len(statements)
    return counts


@pytest.mark.slow
def test_query_count_does_not_grow_with_sessions_and_notes(db, client, login, make_study, make_participant,
                                                           make_session, make_note):
    small = make_study(tasks=2)
    large = make_study(tasks=2, owner=small.owner)
    _build(db, small, 5, make_participant, make_session, make_note)
    _build(db, large, 50, make_participant, make_session, make_note)
    login(small.owner)
    small_counts = _query_counts(db, client, small)
    large_counts = _query_counts(db, client, large)
    assert small_counts == large_counts, (small_counts, large_counts)
    # The board counts its matches and reads one page: a few fixed queries more than one full read.
    assert all(count <= 20 for count in small_counts.values()), small_counts
    page = client.get(f"/studies/{large.id}/matrix").get_data(as_text=True)
    assert page.count('class="num cell filled') == 150  # the data really is there
