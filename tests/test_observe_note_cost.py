"""A note POST costs a fixed, small number of SQL statements in one transaction."""

from __future__ import annotations

import tempfile
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.orm import Session

from usabtest.accounts.models import Role
from usabtest.accounts.services import issue_token
from usabtest.api import observe as observe_api
from usabtest.extensions import db as _db


def _post(client, session_id: int, token: str) -> None:
    response = client.post(f"/api/v1/sessions/{session_id}/notes",
                           headers={"Authorization": f"Bearer {token}"},
                           json={"id": str(uuid.uuid4()), "body": "Hesitates at the coupon field"})
    assert response.status_code == 201


def _statements_of_one_note(client, session_id: int, token: str) -> list[str]:
    """The statements one note POST runs, each by its first two words."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()[:2]).upper())

    sa.event.listen(_db.engine, "before_cursor_execute", count)
    try:
        _post(client, session_id, token)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", count)
    return statements


def _round_trips_of_one_note(client, session_id: int, token: str, trace_file) -> tuple[list[str], list]:
    """What one note POST waits for PostgreSQL for: each exchange (it ends with the server's
    ReadyForQuery) by the first two words the app sent in it, and the connections it used. Unlike
    the statements, this sees the pool's ping and the driver's BEGIN and COMMIT (libpq's trace)."""
    from psycopg import pq

    traced = []

    def trace(dbapi_connection, _record, _proxy):
        dbapi_connection.pgconn.trace(trace_file.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        traced.append(dbapi_connection)

    trace_file.seek(0)
    trace_file.truncate()
    sa.event.listen(_db.engine, "checkout", trace)
    try:
        _post(client, session_id, token)
    finally:
        sa.event.remove(_db.engine, "checkout", trace)
        for dbapi_connection in traced:
            dbapi_connection.pgconn.untrace()
    trace_file.seek(0)
    exchanges, sent = [], None
    for line in trace_file.read().decode().splitlines():
        if not line.startswith(("F\t", "B\t")):
            continue  # a statement's own line breaks
        direction, _length, message, *text = line.split("\t")
        if direction == "F" and sent is None and message in ("Query", "Parse"):
            sent = " ".join(text[0].replace('"', " ").split()[:2]).upper()
        elif direction == "B" and message == "ReadyForQuery":
            exchanges.append(sent)
            sent = None
    return exchanges, traced


@pytest.mark.committed  # counts the statements of a real request's own transaction
def test_a_note_costs_the_same_few_statements_however_busy_the_session(
        db, client, make_user, make_study, make_session, make_note):
    observer = make_user(Role.OBSERVER)
    small = make_session(observers=[observer])
    study = make_study(tasks=8, custom_tags=[f"tag {n}" for n in range(12)])
    crowd = [make_user(Role.OBSERVER) for _ in range(10)]
    busy = make_session(study=study, observers=[observer, *crowd])
    for n in range(40):
        make_note(busy, crowd[n % 10], f"Earlier note {n}", tags=["tag 3"])
    token = issue_token(observer)
    db.session.commit()
    ids = small.id, busy.id
    _statements_of_one_note(client, ids[0], token)  # the token's last use is written once a minute

    quiet, crowded = (_statements_of_one_note(client, session_id, token) for session_id in ids)
    assert len(quiet) == len(crowded)
    if db.engine.dialect.name == "sqlite":
        # One query finds the token's holder, checks they observe the session and reads its running
        # task; then the note and its event are written, nothing else, and nothing is read afterwards:
        # no second transaction.
        assert crowded == ["BEGIN IMMEDIATE", "SELECT STUDY_SESSION.STUDY_ID,", "INSERT INTO", "INSERT INTO"]
        return
    # PostgreSQL: one statement checks the token, the permission and the references, locks the
    # session row and writes the note and its event (WITH target AS (SELECT ... FOR UPDATE),
    # new_note AS (INSERT ...), new_event AS (INSERT ...)), in autocommit: one round trip in all,
    # no ping of the pooled connection, no BEGIN, no COMMIT.
    assert crowded == ["WITH TARGET"], crowded
    with tempfile.TemporaryFile() as trace_file:
        for session_id in ids:
            exchanges, used = _round_trips_of_one_note(client, session_id, token, trace_file)
            assert exchanges == ["WITH TARGET"]
            # The pool took the connection back in transactions again: autocommit was the note's alone.
            assert [dbapi_connection.autocommit for dbapi_connection in used] == [False]
    # The request's unit of work has nothing to end: no session transaction is begun for it.
    began: list[object] = []
    own = db.session()  # the test's (the test client commits it before each request)

    def begun(session, transaction):
        if transaction.parent is None and session is not own:
            began.append(transaction)

    sa.event.listen(Session, "after_transaction_create", begun)
    try:
        _post(client, ids[1], token)
    finally:
        sa.event.remove(Session, "after_transaction_create", begun)
    assert began == []


def test_the_one_note_statement_stays_short_enough_for_the_drivers_cache():
    # A longer statement has its placeholders converted again at every execution by psycopg.
    from psycopg import _queries

    assert observe_api.STATEMENT_CACHE_LIMIT == _queries.MAX_CACHED_STATEMENT_LENGTH
    dialect = postgresql_psycopg.dialect()
    for by_token in (True, False):
        statement = str(observe_api._at_once_statement(by_token).compile(dialect=dialect))
        assert len(statement.encode()) <= observe_api.STATEMENT_CACHE_LIMIT
