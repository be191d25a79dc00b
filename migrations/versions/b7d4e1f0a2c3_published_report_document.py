"""published report document: the report as published, so its HTML view, DOCX and PPTX match its PDF

Revision ID: b7d4e1f0a2c3
Revises: a9ca306b0fa4
Create Date: 2026-12-01 10:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d4e1f0a2c3'
down_revision = 'a9ca306b0fa4'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN: versions published before keep only their PDF.
    op.add_column('published_report', sa.Column('document', sa.LargeBinary(), nullable=True))


def downgrade():
    op.drop_column('published_report', 'document')
