"""record versions: study, task, participant, session, note and finding carry the version they are at

Revision ID: c3a1d2e4f5b6
Revises: b7d2e4a91c03
Create Date: 2026-12-01 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a1d2e4f5b6'
down_revision = 'b7d2e4a91c03'
branch_labels = None
depends_on = None

TABLES = ('study', 'task', 'participant', 'study_session', 'note', 'finding')


def upgrade():
    # Plain ADD COLUMN (no batch table copy on SQLite): every existing row starts at version 1.
    for table in TABLES:
        op.add_column(table, sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    for table in TABLES:
        op.drop_column(table, 'version')
