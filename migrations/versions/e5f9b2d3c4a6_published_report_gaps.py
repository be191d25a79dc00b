"""published report gaps: what the pre-publish check found, and why the version was published anyway

Revision ID: e5f9b2d3c4a6
Revises: d4e8a1c2b3f5
Create Date: 2026-12-01 06:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5f9b2d3c4a6'
down_revision = 'd4e8a1c2b3f5'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no table copy on SQLite); versions published before the check list no gaps.
    op.add_column('published_report', sa.Column('gaps', sa.JSON(), server_default='[]', nullable=False))
    op.add_column('published_report', sa.Column('gap_reason', sa.Text(), server_default='', nullable=False))


def downgrade():
    op.drop_column('published_report', 'gap_reason')
    op.drop_column('published_report', 'gaps')
