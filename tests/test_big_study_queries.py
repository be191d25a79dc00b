"""Big studies cost what small ones do: fixed query counts per page, paging in SQL, streamed CSV files."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.test_analysis_queries import counting
from usabtest import builders
from usabtest.analysis import services
from usabtest.analysis.models import Finding
from usabtest.db import utcnow
from usabtest.observe.models import Outcome
from usabtest.planning.models import SessionStatus

PAGES = ("", "/results", "/notes", "/notes?tag=search", "/notes?page=2", "/matrix",
         "/exports/notes.csv", "/exports/attempts.csv", "/exports/findings.csv", "/exports/sus.csv")


def _study_of(db, make_user, sessions: int):
    """A study with `sessions` completed sessions (attempts, SUS, notes, findings) and as many upcoming."""
    owner = make_user(email=f"owner{sessions}@example.com")
    observer = make_user(email=f"observer{sessions}@example.com")
    study = builders.make_study(owner, title=f"Study of {sessions}")
    for _ in range(2):
        builders.make_task(study, flush=False)
    findings = [Finding(study=study, title=f"Finding {i}", severity=i % 5) for i in range(3)]
    db.session.add_all(findings)
    start = utcnow() - timedelta(days=2)
    for index in range(sessions):
        participant = builders.make_participant(study, consented=index % 2 == 0, flush=False)
        done = builders.make_session(study, participant, owner, [observer],
                                     starts_at=start + timedelta(hours=index),
                                     status=SessionStatus.COMPLETED, flush=False)
        for task in study.tasks:
            builders.make_task_attempt(done, task, started_at=start, seconds=30 + index,
                                       outcome=Outcome.SUCCESS if index % 3 else Outcome.FAILURE,
                                       error_count=index % 4, seq=1 + index % 7, flush=False)
        builders.make_sus_response(done, [1 + (index + i) % 5 for i in range(10)], flush=False)
        for k in range(110):  # more than half a board page per session: the board has several pages
            note = builders.make_note(done, owner, f"note {index}-{k}", task=study.tasks[k % 2],
                                      tags=["search"] if k % 3 == 0 else ["navigation"], severity=k % 5,
                                      elapsed_ms=1000 * k, flush=False)
            if k < 3:
                findings[k].notes.append(note)
        upcoming = builders.make_participant(study, consented=index % 2 == 1, flush=False)
        builders.make_session(study, upcoming, owner, [observer],
                              starts_at=utcnow() + timedelta(days=1, hours=index), flush=False)
    db.session.commit()
    return study


def _query_counts(db, client, study) -> dict[str, int]:
    counts = {}
    for page in ("/agenda",) + tuple(f"/studies/{study.id}{page}" for page in PAGES):
        client.get(page)  # warm caches (e.g. the first use of a template)
        with counting(db.engine) as statements:
            response = client.get(page)
            assert response.status_code == 200, page
            response.get_data()  # a streamed export runs its queries while it is read
        counts[page.replace(f"/studies/{study.id}", "/studies/<id>")] = len(statements)
    return counts


@pytest.mark.slow
def test_pages_and_exports_run_the_same_queries_at_two_sizes(app, db, make_user, login):
    small = _study_of(db, make_user, 3)
    large = _study_of(db, make_user, 30)
    small_counts = _query_counts(db, login(small.owner, on=app.test_client()), small)
    large_counts = _query_counts(db, login(large.owner, on=app.test_client()), large)
    assert small_counts == large_counts, (small_counts, large_counts)
    assert all(count <= 40 for count in small_counts.values()), small_counts


def test_board_filters_counts_and_pages_in_the_database(db, make_study, make_session, make_note):
    study = make_study(tasks=1)
    study_session = make_session(study=study)
    for k in range(7):
        make_note(study_session, study.owner, body=f"note {k}", tags=["search"] if k % 2 == 0 else ["other"],
                  elapsed_ms=k)
    tagged = services.notes_board(study.id, services.NoteFilters(tag="search"), [], page=2, per_page=3)
    assert (tagged.total, tagged.page, tagged.pages) == (4, 2, 2)
    assert [row.body for row in tagged.rows] == ["note 6"]
    beyond = services.notes_board(study.id, services.NoteFilters(tag="search"), [], page=9, per_page=3)
    assert beyond.page == 2 and [row.body for row in beyond.rows] == ["note 6"]
    nothing = services.notes_board(study.id, services.NoteFilters(tag="earch"), [], per_page=3)
    assert (nothing.total, nothing.pages, nothing.rows) == (0, 1, [])
    assert tagged.options.tags == ["other", "search"]


def test_notes_export_is_streamed_with_the_expected_rows(db, client, login, make_study, make_session,
                                                         make_note):
    study = make_study(tasks=1)
    study_session = make_session(study=study)
    plain = make_note(study_session, study.owner, body="Found the basket", task=study.tasks[0],
                      tags=["search", "trust"], severity=2, elapsed_ms=61_000)
    formula = make_note(study_session, study.owner, body='=HYPERLINK("http://evil")', elapsed_ms=62_000)
    finding = Finding(study=study, title="-Basket hard to find", severity=3, notes=[plain])
    db.session.add(finding)
    db.session.commit()
    login(study.owner)
    response = client.get(f"/studies/{study.id}/exports/notes.csv", buffered=False)
    assert response.is_streamed
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    code = study_session.participant.code
    assert rows[0][:3] == ["note_id", "participant", "session_id"]
    assert [row[:7] + row[9:14] for row in rows[1:]] == [
        [str(plain.id), code, str(study_session.id), "1", study.tasks[0].title, "1:01", "61000",
         "observation", "2", "search; trust", "Found the basket", "'-Basket hard to find"],
        [str(formula.id), code, str(study_session.id), "", "", "1:02", "62000",
         "observation", "", "", "'=HYPERLINK(\"http://evil\")", ""],
    ]
