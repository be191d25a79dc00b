"""task attempts: restarts give a task several numbered attempts per session; corrections with history

Revision ID: d4e8a2c61b07
Revises: c3a1d2e4f5b6
Create Date: 2026-12-01 06:20:00

"""
import sqlalchemy as sa
from alembic import op

import usabtest.db

# revision identifiers, used by Alembic.
revision = 'd4e8a2c61b07'
down_revision = 'c3a1d2e4f5b6'
branch_labels = None
depends_on = None


def upgrade():
    # Every existing attempt is its task's first in its session, at version 1. The unique key moves
    # from (session, task) to (session, task, number): a table copy on SQLite (nothing refers to
    # task_attempt yet, so the copy cascades nowhere).
    with op.batch_alter_table('task_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.drop_constraint('uq_task_attempt_session_id_task_id', type_='unique')
        batch_op.create_unique_constraint('uq_task_attempt_session_id_task_id_number',
                                          ['session_id', 'task_id', 'number'])
    op.create_table(
        'task_attempt_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('before', sa.JSON(), nullable=False),
        sa.Column('after', sa.JSON(), nullable=False),
        sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id'],
                                name='fk_task_attempt_revision_actor_id_user', ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['attempt_id'], ['task_attempt.id'],
                                name='fk_task_attempt_revision_attempt_id_task_attempt', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_task_attempt_revision'),
    )
    op.create_index('ix_task_attempt_revision_attempt_id', 'task_attempt_revision', ['attempt_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_task_attempt_revision_attempt_id', table_name='task_attempt_revision')
    op.drop_table('task_attempt_revision')
    # Only first attempts fit the old one-attempt-per-task key.
    op.execute("DELETE FROM task_attempt WHERE number > 1")
    with op.batch_alter_table('task_attempt', schema=None) as batch_op:
        batch_op.drop_constraint('uq_task_attempt_session_id_task_id_number', type_='unique')
        batch_op.create_unique_constraint('uq_task_attempt_session_id_task_id', ['session_id', 'task_id'])
        batch_op.drop_column('version')
        batch_op.drop_column('number')
