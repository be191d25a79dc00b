"""Upgrading a database from before tag sets: each study keeps the tags it could use, notes get a kind."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.test_migrations import scratch_pg_url  # noqa: F401  (fixture: a throw-away PostgreSQL database)
from usabtest import create_app
from usabtest.extensions import db

BEFORE_TAG_SETS = "f545ece14419"
NOW = "2026-11-30 10:00:00"


def _rows_before_tag_sets(conn) -> None:
    """Two studies as the old schema kept them: fixed tags plus a JSON list of the study's own."""
    stamp = {"created_at": NOW, "updated_at": NOW}
    conn.execute(sa.text("INSERT INTO organisation (id, name, created_at, updated_at) "
                         "VALUES (1, 'Acme', :created_at, :updated_at)"), stamp)
    conn.execute(sa.text(
        'INSERT INTO "user" (id, email, name, password_hash, role, active, session_version, timezone, '
        "created_at, updated_at) VALUES (1, 'r@example.com', 'Rita', 'x', 'researcher', true, 0, 'UTC', "
        ":created_at, :updated_at)"), stamp)
    for study_id, custom in ((1, '["navigation", "Problem", "trust"]'), (2, "[]")):
        conn.execute(sa.text(
            "INSERT INTO study (id, organisation_id, title, product, goals, method, status, owner_id, "
            "last_participant_number, custom_tags, welcome_text, show_task_word, executive_summary, "
            "environment, created_at, updated_at) VALUES (:id, 1, 'Study', '', '', 'in_person', 'active', 1, "
            "1, :custom, '', true, '', '', :created_at, :updated_at)"),
            {"id": study_id, "custom": custom, **stamp})
    conn.execute(sa.text(
        "INSERT INTO participant (id, study_id, number, code, segments, erased, created_at, updated_at) "
        "VALUES (1, 2, 1, 'P01', '{}', false, :created_at, :updated_at)"), stamp)
    conn.execute(sa.text(
        "INSERT INTO study_session (id, study_id, participant_id, starts_at, timezone, duration_min, "
        "location, video_link, moderator_id, status, ics_uid, ics_sequence, created_at, updated_at) VALUES "
        "(1, 2, 1, :created_at, 'UTC', 60, '', '', 1, 'completed', 'uid-1', 0, :created_at, :updated_at)"),
        stamp)
    # A note carrying a tag that had since left the study's list: it must stay editable.
    conn.execute(sa.text(
        "INSERT INTO note (id, session_id, author_id, client_uuid, body, tags, elapsed_ms, created_at) "
        "VALUES (1, 1, 1, :uuid, 'Lost', '[\"bug\", \"legacy\"]', 0, :created_at)"),
        {"uuid": str(uuid.uuid4()) if conn.dialect.name == "postgresql" else uuid.uuid4().hex, **stamp})


def _check_upgrade(url: str) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    with app.app_context():
        upgrade(revision=BEFORE_TAG_SETS)
        with db.engine.begin() as conn:
            _rows_before_tag_sets(conn)
        upgrade()
        with db.engine.connect() as conn:
            tags = conn.execute(sa.text(
                "SELECT study_id, name, shortcut FROM study_tag ORDER BY study_id, position")).all()
            kinds = conn.execute(sa.text("SELECT kind FROM note")).scalars().all()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("study")}
        downgrade(revision="base")
        db.engine.dispose()
    by_study: dict[int, list] = {}
    for study_id, name, shortcut in tags:
        by_study.setdefault(study_id, []).append((name, shortcut))
    defaults = [("problem", "P"), ("quote", "Q"), ("positive", "O"), ("idea", "I"), ("bug", "B")]
    # "Problem" is the default "problem" ignoring case; the study's own tags keep their Alt+Shift keys.
    assert by_study[1] == [*defaults, ("navigation", "Shift+1"), ("trust", "Shift+3")]
    assert by_study[2] == [*defaults, ("legacy", None)]
    assert kinds == ["observation"]
    assert "custom_tags" not in columns


def test_existing_studies_get_the_default_set_plus_their_own_tags_on_sqlite(tmp_path):
    _check_upgrade(f"sqlite:///{tmp_path / 'tags.sqlite'}")


@pytest.mark.database  # no app fixture, but it belongs to the PostgreSQL pass
def test_existing_studies_get_the_default_set_plus_their_own_tags_on_postgresql(scratch_pg_url):  # noqa: F811
    _check_upgrade(scratch_pg_url)
