"""session recordings

Revision ID: 9886fb2d0ea9
Revises: b7d4e1f0a2c3
Create Date: 2026-12-01 09:56:19.441265

"""
from alembic import op
import sqlalchemy as sa
import usabtest.db


# revision identifiers, used by Alembic.
revision = '9886fb2d0ea9'
down_revision = 'b7d4e1f0a2c3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('session_recording',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('link', 'file', name='recording_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('offset_ms', sa.BigInteger(), nullable=False),
    sa.Column('file_key', sa.String(length=64), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'link') = (file_key IS NULL)", name=op.f('ck_session_recording_file_key_for_files')),
    sa.ForeignKeyConstraint(['added_by_id'], ['user.id'], name=op.f('fk_session_recording_added_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['study_session.id'], name=op.f('fk_session_recording_session_id_study_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_recording')),
    sa.UniqueConstraint('file_key', name=op.f('uq_session_recording_file_key')),
    sa.UniqueConstraint('session_id', name=op.f('uq_session_recording_session_id'))
    )


def downgrade():
    op.drop_table('session_recording')
