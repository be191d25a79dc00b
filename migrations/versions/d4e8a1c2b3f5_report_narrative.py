"""report narrative: the texts researchers write for a study's report, one versioned row per study

The executive summary and environment kept on `study` move into it (the environment becomes the
test facility text).

Revision ID: d4e8a1c2b3f5
Revises: d4e8a1c7b2f3
Create Date: 2026-12-01 06:30:00

"""
import sqlalchemy as sa
from alembic import op

import usabtest.db

# revision identifiers, used by Alembic.
revision = 'd4e8a1c2b3f5'
down_revision = 'd4e8a1c7b2f3'
branch_labels = None
depends_on = None

TEXTS = ('executive_summary', 'product_description', 'test_objectives', 'participant_selection',
         'environment_facility', 'environment_devices', 'environment_software', 'procedure',
         'participant_instructions', 'administrator_tools', 'contact_details')


def upgrade():
    op.create_table(
        'report_narrative',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in TEXTS),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_report_narrative_study_id_study'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_narrative')),
        sa.UniqueConstraint('study_id', name=op.f('uq_report_narrative_study_id')),
    )
    # Only studies with something written get a row; the others get theirs when first saved.
    op.execute(
        f"INSERT INTO report_narrative (study_id, {', '.join(TEXTS)}, version, created_at, updated_at) "
        f"SELECT id, {', '.join(_source(name) for name in TEXTS)}, 1, created_at, updated_at FROM study "
        "WHERE executive_summary <> '' OR environment <> ''"
    )
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of `study` would cascade into its children.
    op.drop_column('study', 'executive_summary')
    op.drop_column('study', 'environment')


def _source(name):
    return {'executive_summary': 'executive_summary', 'environment_facility': 'environment'}.get(name, "''")


def downgrade():
    op.add_column('study', sa.Column('executive_summary', sa.Text(), server_default='', nullable=False))
    op.add_column('study', sa.Column('environment', sa.Text(), server_default='', nullable=False))
    op.execute(
        "UPDATE study SET "
        "executive_summary = COALESCE((SELECT n.executive_summary FROM report_narrative n "
        "WHERE n.study_id = study.id), ''), "
        "environment = COALESCE((SELECT n.environment_facility FROM report_narrative n "
        "WHERE n.study_id = study.id), '')"
    )
    op.drop_table('report_narrative')
