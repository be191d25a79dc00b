"""participant answers on the screen and the study's screen language

Revision ID: 789ddabc90ec
Revises: 0884c949ffea
Create Date: 2026-12-01 10:17:44.853544

"""
from alembic import op
import sqlalchemy as sa
import usabtest.db


# revision identifiers, used by Alembic.
revision = '789ddabc90ec'
down_revision = '0884c949ffea'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('screen_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('seq', 'sus', name='question_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.Column('asked_by_id', sa.Integer(), nullable=True),
    sa.Column('asked_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', usabtest.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['asked_by_id'], ['user.id'], name=op.f('fk_screen_question_asked_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['attempt_id'], ['task_attempt.id'], name=op.f('fk_screen_question_attempt_id_task_attempt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['study_session.id'], name=op.f('fk_screen_question_session_id_study_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screen_question'))
    )
    with op.batch_alter_table('screen_question', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screen_question_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.Enum('en', 'de', 'fr', 'es', name='screen_language', native_enum=False, create_constraint=True, length=24), server_default='en', nullable=False))



def downgrade():
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_study_screen_language'), type_='check')
        batch_op.drop_column('language')

    with op.batch_alter_table('screen_question', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screen_question_session_id'))

    op.drop_table('screen_question')
