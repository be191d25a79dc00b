"""Upgrading to numbered task attempts: existing attempts become first attempts, restarts then fit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.test_migrations import scratch_pg_url  # noqa: F401  (fixture: a throw-away PostgreSQL database)
from usabtest import create_app
from usabtest.extensions import db

BEFORE = "c3a1d2e4f5b6"  # record versions: one attempt per task and session
AFTER = "d4e8a2c61b07"  # numbered attempts with a version, and their corrections' history
NOW = "2026-11-30 10:00:00"


def _rows_before(conn) -> None:
    stamp = {"now": NOW}
    conn.execute(sa.text("INSERT INTO organisation (id, name, name_key, created_at, updated_at) "
                         "VALUES (1, 'Acme', 'acme', :now, :now)"), stamp)
    conn.execute(sa.text(
        'INSERT INTO "user" (id, email, name, password_hash, role, active, session_version, timezone, '
        "created_at, updated_at) VALUES (1, 'r@example.com', 'Rita', 'x', 'researcher', true, 0, 'UTC', "
        ":now, :now)"), stamp)
    conn.execute(sa.text(
        "INSERT INTO study (id, organisation_id, title, product, goals, method, status, owner_id, "
        "last_participant_number, welcome_text, show_task_word, executive_summary, environment, created_at, "
        "updated_at) VALUES (1, 1, 'Study', '', '', 'in_person', 'active', 1, 1, '', true, '', '', :now, "
        ":now)"), stamp)
    conn.execute(sa.text(
        "INSERT INTO task (id, study_id, position, title, scenario, success_criteria, archived, created_at, "
        "updated_at) VALUES (1, 1, 0, 'Find', '', '', false, :now, :now)"), stamp)
    conn.execute(sa.text(
        "INSERT INTO participant (id, study_id, number, code, segments, erased, created_at, updated_at) "
        "VALUES (1, 1, 1, 'P01', '{}', false, :now, :now)"), stamp)
    conn.execute(sa.text(
        "INSERT INTO study_session (id, study_id, participant_id, starts_at, timezone, duration_min, "
        "location, video_link, moderator_id, status, ics_uid, ics_sequence, created_at, updated_at) VALUES "
        "(1, 1, 1, :now, 'UTC', 60, '', '', 1, 'completed', 'uid-1', 0, :now, :now)"), stamp)
    conn.execute(sa.text(
        "INSERT INTO task_attempt (id, session_id, task_id, started_at, ended_at, outcome, error_count, seq, "
        "created_at, updated_at) VALUES (1, 1, 1, :now, :now, 'failure', 1, 3, :now, :now)"), stamp)


def _second_attempt(conn, number: int) -> None:
    conn.execute(sa.text(
        "INSERT INTO task_attempt (id, session_id, task_id, number, started_at, ended_at, outcome, "
        "created_at, updated_at) VALUES (:id, 1, 1, :number, :now, :now, 'success', :now, :now)"),
        {"id": 1 + number, "number": number, "now": NOW})


def _check(url: str) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    with app.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as conn:
            _rows_before(conn)
        upgrade(revision=AFTER)
        with db.engine.begin() as conn:
            first = conn.execute(sa.text("SELECT number, version, outcome, seq FROM task_attempt")).one()
            _second_attempt(conn, 2)
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            _second_attempt(conn, 1)  # attempt 1 of that task in that session exists
        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            left = conn.execute(sa.text("SELECT id FROM task_attempt")).scalars().all()
        downgrade(revision="base")
        db.engine.dispose()
    assert tuple(first) == (1, 1, "failure", 3)
    assert left == [1]  # only first attempts fit the old one-per-task key


def test_attempts_upgrade_and_downgrade_on_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'attempts.sqlite'}")


@pytest.mark.database  # no app fixture, but it belongs to the PostgreSQL pass
def test_attempts_upgrade_and_downgrade_on_postgresql(scratch_pg_url):  # noqa: F811
    _check(scratch_pg_url)
