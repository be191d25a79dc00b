"""api token expiry: personal API tokens may carry an expiry time

Revision ID: d4e8a1c7b2f3
Revises: d4e8a2c61b07
Create Date: 2026-12-01 06:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

import usabtest.db


# revision identifiers, used by Alembic.
revision = 'd4e8a1c7b2f3'
down_revision = 'd4e8a2c61b07'
branch_labels = None
depends_on = None


def upgrade():
    # Existing tokens keep working: no expiry.
    op.add_column('api_token', sa.Column('expires_at', usabtest.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('api_token', 'expires_at')
