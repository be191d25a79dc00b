"""participants' rights: erasure time, consent withdrawal

Revision ID: 6413d78e3c4a
Revises: ed22972fa528
Create Date: 2026-12-01 07:22:20.203256

"""
from alembic import op
import sqlalchemy as sa
import usabtest.db


# revision identifiers, used by Alembic.
revision = '6413d78e3c4a'
down_revision = 'ed22972fa528'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', usabtest.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('consent_withdrawn_at', usabtest.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('consent_withdrawn_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_participant_consent_withdrawn_by_id_user'), 'user', ['consent_withdrawn_by_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_participant_consent_withdrawn_by_id_user'), type_='foreignkey')
        batch_op.drop_column('consent_withdrawn_by_id')
        batch_op.drop_column('consent_withdrawn_at')
        batch_op.drop_column('erased_at')

