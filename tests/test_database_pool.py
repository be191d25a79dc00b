"""Pooled PostgreSQL connections are checked only when they may have died, and a dead one never
reaches a request (`usabtest.db.configure_server_pool`)."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from usabtest.accounts.models import Role
from usabtest.accounts.services import issue_token

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="a database server's connections (USABTEST_TEST_DATABASE_URL)"),
    pytest.mark.committed,  # requests check connections out of the app's own pool
]


@pytest.fixture
def note_poster(db, client, make_user, make_session):
    """Post a note as an observer of a session; returns the status code."""
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    token = issue_token(observer)
    db.session.commit()
    session_id = study_session.id
    db.session.close()  # the test's own connection goes back to the pool too

    def post() -> int:
        response = client.post(f"/api/v1/sessions/{session_id}/notes",
                               headers={"Authorization": f"Bearer {token}"},
                               json={"id": str(uuid.uuid4()), "body": "Scrolls past the price"})
        db.session.close()
        return response.status_code

    return post


@pytest.fixture
def pings(db, monkeypatch) -> list[int]:
    """Each ping of a pooled connection, recorded."""
    done: list[int] = []
    dialect = db.engine.dialect
    real_ping = dialect.do_ping

    def counted(dbapi_connection):
        done.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return done


def _terminate_pooled_connections(db) -> int:
    """Have the server end every other connection to the test database (the pool's); how many."""
    admin = sa.create_engine(db.engine.url, poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    finally:
        admin.dispose()


@pytest.mark.config(DATABASE_PING_IDLE_SECONDS=3600)
def test_a_connection_used_a_moment_ago_costs_no_ping(note_poster, pings):
    assert note_poster() == 201
    assert note_poster() == 201
    assert note_poster() == 201
    assert pings == []


@pytest.mark.config(DATABASE_PING_IDLE_SECONDS=0.2)
def test_a_connection_idle_beyond_the_threshold_is_pinged_first(note_poster, pings):
    assert note_poster() == 201
    time.sleep(0.3)
    assert note_poster() == 201
    assert pings == [1]


@pytest.mark.config(DATABASE_PING_IDLE_SECONDS=3600)
def test_connections_the_server_ended_are_replaced_before_a_request_uses_them(db, note_poster, pings):
    assert note_poster() == 201
    assert _terminate_pooled_connections(db) >= 1
    # However recently used, a connection the server closed is noticed at checkout (the server's
    # goodbye waits in its socket), pinged, found dead and replaced: the request never sees it.
    assert note_poster() == 201
    assert note_poster() == 201
    assert len(pings) == 1


@pytest.mark.config(DATABASE_PING_IDLE_SECONDS=0.2)
def test_connections_ended_while_idle_are_replaced_after_the_threshold_too(db, note_poster):
    assert note_poster() == 201
    assert _terminate_pooled_connections(db) >= 1
    time.sleep(0.3)
    assert note_poster() == 201
