"""mail outbox and worker heartbeats: mail is stored with the change that causes it and delivered by workers

Revision ID: ed22972fa528
Revises: e5f9b2d8c4a1
Create Date: 2026-12-01 07:03:12.491938

"""
from alembic import op
import sqlalchemy as sa
import usabtest.db


# revision identifiers, used by Alembic.
revision = 'ed22972fa528'
down_revision = 'e5f9b2d8c4a1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('worker_beat',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('seen_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_beat'))
    )
    op.create_table('outbox_mail',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', name='outbox_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', usabtest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', usabtest.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['study_session.id'], name=op.f('fk_outbox_mail_session_id_study_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_outbox_mail_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_mail'))
    )
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_mail_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mail_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mail_study_id'), ['study_id'], unique=False)



def downgrade():
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_mail_study_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_mail_session_id'))
        batch_op.drop_index('ix_outbox_mail_due')

    op.drop_table('outbox_mail')
    op.drop_table('worker_beat')
