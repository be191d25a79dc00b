"""published report withdrawal: when, by whom and why a version was taken back from the client

Revision ID: f6a0c3e4d5b7
Revises: e5f9b2d3c4a6
Create Date: 2026-12-01 06:50:00

"""
import sqlalchemy as sa
from alembic import op

import usabtest.db

# revision identifiers, used by Alembic.
revision = 'f6a0c3e4d5b7'
down_revision = 'e5f9b2d3c4a6'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, no foreign key (a batch copy of the table on SQLite would drop its share links).
    op.add_column('published_report', sa.Column('withdrawn_at', usabtest.db.UTCDateTime(timezone=True),
                                                nullable=True))
    op.add_column('published_report', sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
    op.add_column('published_report', sa.Column('withdraw_reason', sa.Text(), server_default='',
                                                nullable=False))


def downgrade():
    op.drop_column('published_report', 'withdraw_reason')
    op.drop_column('published_report', 'withdrawn_by_id')
    op.drop_column('published_report', 'withdrawn_at')
