"""Recently deleted: findings are deleted softly too; indexes for the daily purge

Revision ID: b7d4e2a91c05
Revises: b7c1e0a4d2f9
Create Date: 2026-12-01 03:45:00

"""
import sqlalchemy as sa
from alembic import op

import usabtest.db

# revision identifiers, used by Alembic.
revision = 'b7d4e2a91c05'
down_revision = 'b7c1e0a4d2f9'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no table copy on SQLite): existing findings stay live.
    op.add_column('finding', sa.Column('deleted_at', usabtest.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_finding_deleted_at', 'finding', ['deleted_at'], unique=False)
    op.create_index('ix_note_deleted_at', 'note', ['deleted_at'], unique=False)


def downgrade():
    op.drop_index('ix_note_deleted_at', table_name='note')
    op.drop_index('ix_finding_deleted_at', table_name='finding')
    # Plain DROP COLUMN (SQLite 3.35+): a batch table copy would cascade-delete screenshots and links.
    op.drop_column('finding', 'deleted_at')
