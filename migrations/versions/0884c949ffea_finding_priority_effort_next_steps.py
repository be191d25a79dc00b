"""findings: a recommendation's priority and effort, positive findings; the report's next steps

Revision ID: 0884c949ffea
Revises: 9886fb2d0ea9
Create Date: 2026-12-01 09:54:52

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0884c949ffea'
down_revision = '9886fb2d0ea9'
branch_labels = None
depends_on = None

# Frozen copies of usabtest.analysis.models.PRIORITY_LABELS and EFFORT_LABELS.
PRIORITIES = ("", "high", "medium", "low")
EFFORTS = ("", "small", "medium", "large")


def _allowed(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def upgrade():
    # Plain ADD COLUMN with its check (SQLite and PostgreSQL both take it): a batch copy of the
    # finding table on SQLite would cascade-delete its evidence links, tasks and screenshots.
    op.execute("ALTER TABLE finding ADD COLUMN priority VARCHAR(10) DEFAULT '' NOT NULL "
               f"CONSTRAINT ck_finding_priority_known CHECK (priority IN ({_allowed(PRIORITIES)}))")
    op.execute("ALTER TABLE finding ADD COLUMN effort VARCHAR(10) DEFAULT '' NOT NULL "
               f"CONSTRAINT ck_finding_effort_known CHECK (effort IN ({_allowed(EFFORTS)}))")
    op.add_column('finding', sa.Column('positive', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('report_narrative', sa.Column('next_steps', sa.Text(), server_default='', nullable=False))


def downgrade():
    op.drop_column('report_narrative', 'next_steps')
    op.drop_column('finding', 'positive')
    op.execute("ALTER TABLE finding DROP COLUMN effort")
    op.execute("ALTER TABLE finding DROP COLUMN priority")
