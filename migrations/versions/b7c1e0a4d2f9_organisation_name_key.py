"""client organisations as records: a unique name key, who created each, junk names repaired

Revision ID: b7c1e0a4d2f9
Revises: 3b7c2d9e4f10
Create Date: 2026-12-01 03:40:00

Besides the two columns, the upgrade repairs what the study form's old bug left behind. Editing a
study filled its client field with the organisation's repr, `<Organisation 'Northwind'>`, and saving
moved the study to a new organisation of that name, cutting the client's users off from its reports;
differently spelt names ("northwind ", "NORTHWIND") made more organisations for one client. Here
every organisation name is unwrapped from such reprs and tidied, and organisations whose names
then match (ignoring case and spaces) are merged into the oldest one: their studies and client
users move to it, so those users see the reports again.
"""
import ast
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7c1e0a4d2f9'
down_revision = '3b7c2d9e4f10'
branch_labels = None
depends_on = None

_REPR = re.compile(r"^<Organisation (?:\d+ )?('.*'|\".*\")>$", re.S)


def _unwrapped(name: str) -> str:
    """`name` without the `<Organisation '...'>` wrappings the old study form added, tidied."""
    for _ in range(100):
        match = _REPR.match(name.strip())
        if match is None:
            break
        try:
            name = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            break
    return " ".join(name.split())


def _key(name: str) -> str:
    # The same rule as usabtest.accounts.models.organisation_key, frozen here with the migration.
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def upgrade():
    # SQLite adds a NOT NULL column only with a default; the keys are filled in just below.
    op.add_column('organisation', sa.Column('name_key', sa.String(length=200), nullable=False,
                                            server_default=''))
    op.add_column('organisation', sa.Column('created_by_id', sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column('organisation', 'name_key', server_default=None)
    _repair_names(op.get_bind())
    op.create_index(op.f('ix_organisation_name_key'), 'organisation', ['name_key'], unique=True)
    op.create_index(op.f('ix_organisation_created_by_id'), 'organisation', ['created_by_id'], unique=False)


def _repair_names(conn) -> None:
    rows = conn.execute(sa.text("SELECT id, name FROM organisation ORDER BY id")).all()
    groups: dict[str, list[tuple[int, str, bool]]] = {}
    for org_id, name in rows:
        clean = _unwrapped(name) or name
        groups.setdefault(_key(clean), []).append((org_id, clean, clean != " ".join(name.split())))
    renames = []
    for key, members in groups.items():
        # Keep the oldest organisation that was not a repr's junk copy, else the oldest of all.
        keep = min(members, key=lambda m: (m[2], m[0]))
        for org_id, _, _ in members:
            if org_id == keep[0]:
                continue
            for table in ("study", '"user"'):
                conn.execute(sa.text(f"UPDATE {table} SET organisation_id = :keep WHERE organisation_id = :gone"),
                             {"keep": keep[0], "gone": org_id})
            conn.execute(sa.text("DELETE FROM organisation WHERE id = :gone"), {"gone": org_id})
        renames.append((keep[0], keep[1], key))
    for org_id, name, key in renames:
        conn.execute(sa.text("UPDATE organisation SET name = :name, name_key = :key WHERE id = :id"),
                     {"name": name, "key": key, "id": org_id})


def downgrade():
    op.drop_index(op.f('ix_organisation_created_by_id'), table_name='organisation')
    op.drop_index(op.f('ix_organisation_name_key'), table_name='organisation')
    op.drop_column('organisation', 'created_by_id')
    op.drop_column('organisation', 'name_key')
