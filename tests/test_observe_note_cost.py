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
    writes = [s for s in crowded if s.split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == ["INSERT INTO", "INSERT INTO"]  # the note and its event, nothing else
    assert sum(s.startswith("BEGIN") for s in crowded) == (1 if db.engine.dialect.name == "sqlite" else 0)
    # One query finds the token's holder, checks they observe the session, reads its running task
    # and (PostgreSQL) locks its row; then the two inserts. SQLite adds its BEGIN IMMEDIATE.
    assert len(crowded) == (4 if db.engine.dialect.name == "sqlite" else 3), crowded
    assert sum(s.startswith("SELECT") for s in crowded) == 1, crowded
    # Nothing is read once the note and its event are written: no second transaction.
    assert crowded[-2:] == ["INSERT INTO", "INSERT INTO"], crowded
