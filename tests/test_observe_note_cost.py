"""A note POST costs a fixed, small number of SQL statements in one transaction."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from usabtest.accounts.models import Role
from usabtest.accounts.services import issue_token
from usabtest.extensions import db as _db


def _statements_of_one_note(client, session_id: int, token: str) -> list[str]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()[:2]).upper())

    headers = {"Authorization": f"Bearer {token}"}
    sa.event.listen(_db.engine, "before_cursor_execute", count)
    try:
        response = client.post(f"/api/v1/sessions/{session_id}/notes", headers=headers,
                               json={"id": str(uuid.uuid4()), "body": "Hesitates at the coupon field"})
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", count)
    assert response.status_code == 201
    return statements


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
    # One query finds the token's holder, checks they observe the session, reads its running task
    # and (PostgreSQL) locks its row; then the note and its event are written, nothing else, and
    # nothing is read afterwards: no second transaction.
    if db.engine.dialect.name == "sqlite":
        assert crowded == ["BEGIN IMMEDIATE", "SELECT STUDY_SESSION.STUDY_ID,", "INSERT INTO", "INSERT INTO"]
    else:  # one statement writes both (WITH new_note AS (INSERT ...), new_event AS (INSERT ...))
        assert crowded == ["SELECT STUDY_SESSION.STUDY_ID,", "WITH NEW_NOTE"], crowded
