"""sign-in failures: refused sign-ins counted in the database, per account and per client address

Revision ID: e5f9b2d8c4a1
Revises: f6a0c3e4d5b7
Create Date: 2026-12-01 06:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import usabtest.db


# revision identifiers, used by Alembic.
revision = 'e5f9b2d8c4a1'
down_revision = 'f6a0c3e4d5b7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_failure',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_key', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure'))
    )
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_failure_account_key_created_at', ['account_key', 'created_at'], unique=False)
        batch_op.create_index('ix_sign_in_failure_address_created_at', ['address', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_failure_created_at'), ['created_at'], unique=False)


def downgrade():
    op.drop_table('sign_in_failure')
