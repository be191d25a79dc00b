"""`db upgrade` from an empty database gives exactly the schema the models describe."""

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from usabtest import create_app
from usabtest.extensions import db

PG_URL = os.environ.get("USABTEST_TEST_DATABASE_URL")


def _schema_diff(url: str) -> list:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        downgrade(revision="base")
        with db.engine.connect() as conn:
            leftover = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        db.engine.dispose()
    return diff, leftover


def test_upgrade_from_empty_matches_models_on_sqlite(tmp_path):
    diff, leftover = _schema_diff(f"sqlite:///{tmp_path / 'mig.sqlite'}")
    assert diff == []
    assert leftover == set()


@pytest.fixture
def scratch_pg_url():
    """A throw-away PostgreSQL database next to the test database."""
    if not PG_URL:
        pytest.skip("USABTEST_TEST_DATABASE_URL not set")
    url = sa.make_url(PG_URL)
    name = f"usabtest_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.mark.database  # no app fixture, but it belongs to the PostgreSQL pass
def test_upgrade_from_empty_matches_models_on_postgresql(scratch_pg_url):
    diff, leftover = _schema_diff(scratch_pg_url)
    assert diff == []
    assert leftover == set()


ORGANISATION_KEYS = "b7c1e0a4d2f9"  # the migration adding the name key and repairing names


def _repaired_organisations(url: str) -> tuple[dict[int, str], dict[str, int], dict[str, int]]:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    now = "2026-11-30 10:00:00"
    junk = ["Northwind Savings Bank", "<Organisation 'Northwind Savings Bank'>",
            "<Organisation \"<Organisation 'Northwind Savings Bank'>\">", "northwind  savings BANK ",
            "Ärzte Kasse", "ärzte kasse", "<Organisation 'Solo GmbH'>"]
    with app.app_context():
        upgrade(revision="f545ece14419")
        with db.engine.begin() as conn:
            for number, name in enumerate(junk, start=1):
                conn.execute(sa.text("INSERT INTO organisation (id, name, created_at, updated_at) "
                                     "VALUES (:id, :name, :now, :now)"),
                             {"id": number, "name": name, "now": now})
            for number, (email, role, org) in enumerate([("rita@x.example", "researcher", None),
                                                         ("ada@x.example", "client", 1),
                                                         ("bo@x.example", "client", 4),
                                                         ("cy@x.example", "client", 6)], start=1):
                conn.execute(sa.text(
                    'INSERT INTO "user" (id, email, name, password_hash, role, active, session_version, '
                    "timezone, organisation_id, created_at, updated_at) VALUES (:id, :email, :email, 'x', "
                    ":role, true, 1, 'UTC', :org, :now, :now)"),
                    {"id": number, "email": email, "role": role, "org": org, "now": now})
            for number, org in enumerate([3, 7, 5], start=1):
                conn.execute(sa.text(
                    "INSERT INTO study (id, organisation_id, title, product, goals, method, status, "
                    "owner_id, last_participant_number, custom_tags, welcome_text, show_task_word, "
                    "executive_summary, environment, created_at, updated_at) VALUES (:id, :org, :title, "
                    "'', '', 'in_person', 'active', 1, 0, '[]', '', true, '', '', :now, :now)"),
                    {"id": number, "org": org, "title": f"Study {number}", "now": now})
        upgrade(revision=ORGANISATION_KEYS)
        with db.engine.connect() as conn:
            orgs = dict(conn.execute(sa.text("SELECT id, name FROM organisation")).all())
            keys = dict(conn.execute(sa.text("SELECT name, name_key FROM organisation")).all())
            users = dict(conn.execute(sa.text('SELECT email, organisation_id FROM "user"')).all())
            studies = dict(conn.execute(sa.text("SELECT title, organisation_id FROM study")).all())
        downgrade(revision="base")
        db.engine.dispose()
    return orgs, keys, {**users, **studies}


def _assert_repaired(url: str) -> None:
    orgs, keys, members = _repaired_organisations(url)
    assert orgs == {1: "Northwind Savings Bank", 5: "Ärzte Kasse", 7: "Solo GmbH"}
    assert keys == {"Northwind Savings Bank": "northwind savings bank", "Ärzte Kasse": "ärzte kasse",
                    "Solo GmbH": "solo gmbh"}
    # The study moved to a junk copy and the client filed under another spelling are back together.
    assert members == {"rita@x.example": None, "ada@x.example": 1, "bo@x.example": 1, "cy@x.example": 5,
                       "Study 1": 1, "Study 2": 7, "Study 3": 5}


def test_upgrade_merges_repr_junk_and_respelt_organisations_on_sqlite(tmp_path):
    _assert_repaired(f"sqlite:///{tmp_path / 'repair.sqlite'}")


@pytest.mark.database
def test_upgrade_merges_repr_junk_and_respelt_organisations_on_postgresql(scratch_pg_url):
    _assert_repaired(scratch_pg_url)


TEAMS_REVISION = "b7d2e4a91c03"  # study teams: members with a team role


def _old_study_with_people(conn) -> None:
    """A study as the first schema kept it: an owner, a `study_team` row and session people."""
    now = "2026-11-01 10:00:00"
    people = [(1, "owner", "researcher"), (2, "mate", "researcher"), (3, "olive", "observer"),
              (4, "guest", "researcher"), (5, "carl", "client")]
    for user_id, name, role in people:
        conn.execute(sa.text(
            'INSERT INTO "user" (id, email, name, password_hash, role, active, session_version, timezone, '
            "created_at, updated_at) VALUES (:id, :email, :name, 'x', :role, true, 1, 'UTC', :now, :now)"),
            {"id": user_id, "email": f"{name}@example.com", "name": name, "role": role, "now": now})
    conn.execute(sa.text("INSERT INTO organisation (id, name, created_at, updated_at) "
                         "VALUES (1, 'Northwind', :now, :now)"), {"now": now})
    conn.execute(sa.text(
        "INSERT INTO study (id, organisation_id, title, product, goals, method, status, owner_id, "
        "last_participant_number, custom_tags, welcome_text, show_task_word, executive_summary, environment, "
        "created_at, updated_at) VALUES (1, 1, 'Old study', '', '', 'in_person', 'active', 1, 1, '[]', '', "
        "true, '', '', :now, :now)"), {"now": now})
    conn.execute(sa.text("INSERT INTO study_team (study_id, user_id) VALUES (1, 2), (1, 5)"))
    conn.execute(sa.text("INSERT INTO participant (id, study_id, number, code, segments, erased, created_at, "
                         "updated_at) VALUES (1, 1, 1, 'P01', '{}', false, :now, :now)"), {"now": now})
    conn.execute(sa.text(
        "INSERT INTO study_session (id, study_id, participant_id, starts_at, timezone, duration_min, "
        "location, video_link, moderator_id, status, ics_uid, ics_sequence, created_at, updated_at) VALUES "
        "(1, 1, 1, :now, 'UTC', 60, 'Lab', '', 4, 'completed', 'uid-1', 0, :now, :now)"), {"now": now})
    conn.execute(sa.text("INSERT INTO session_observer (session_id, user_id) VALUES (1, 3), (1, 2)"))


def _members_after_upgrade(url: str) -> set[tuple]:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    with app.app_context():
        upgrade(revision="f545ece14419")
        with db.engine.begin() as conn:
            _old_study_with_people(conn)
        upgrade(revision=TEAMS_REVISION)
        with db.engine.connect() as conn:
            query = sa.text("SELECT study_id, user_id, role FROM study_member")
            rows = {tuple(r) for r in conn.execute(query)}
        downgrade(revision="f545ece14419")
        with db.engine.connect() as conn:
            old_team = {tuple(r) for r in conn.execute(sa.text("SELECT study_id, user_id FROM study_team"))}
        db.engine.dispose()
    assert old_team == {(1, 2)}  # the downgrade gives back the researchers beside the owner
    return rows


EXPECTED_MEMBERS = {(1, 1, "researcher"), (1, 2, "researcher"), (1, 3, "observer"), (1, 4, "observer")}


def test_upgrade_puts_owners_old_teams_and_session_people_on_the_team_on_sqlite(tmp_path):
    # The client user once listed on the old team is left out: clients never join a study team.
    assert _members_after_upgrade(f"sqlite:///{tmp_path / 'data.sqlite'}") == EXPECTED_MEMBERS


@pytest.mark.database
def test_upgrade_puts_owners_old_teams_and_session_people_on_the_team_on_postgresql(scratch_pg_url):
    assert _members_after_upgrade(scratch_pg_url) == EXPECTED_MEMBERS
