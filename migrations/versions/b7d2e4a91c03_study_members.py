"""study teams: members with a team role (researcher or observer), the owner among them

Replaces `study_team` (researchers beside the owner) by `study_member`. Existing data keeps its
access: the old team rows, every study's owner (as researcher) and every person on a session of
the study who was not on its team yet (as observer, which is what they could do before).

Revision ID: b7d2e4a91c03
Revises: b7d4e2a91c05
Create Date: 2026-12-01 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import usabtest.db


# revision identifiers, used by Alembic.
revision = 'b7d2e4a91c03'
down_revision = 'b7d4e2a91c05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('study_member',
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('researcher', 'observer', name='team_role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_member_study_id_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_study_member_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('study_id', 'user_id', name=op.f('pk_study_member'))
    )
    op.create_index(op.f('ix_study_member_user_id'), 'study_member', ['user_id'], unique=False)

    # Backfill, in order of precedence (a person already added keeps their first role).
    insert = ("INSERT INTO study_member (study_id, user_id, role, created_at, updated_at) "
              "SELECT DISTINCT s.id, u.id, {role}, s.created_at, s.created_at FROM study s {source} "
              "JOIN \"user\" u ON u.id = {person} "
              "WHERE u.role <> 'client' AND NOT EXISTS "
              "(SELECT 1 FROM study_member m WHERE m.study_id = s.id AND m.user_id = u.id)")
    op.execute(insert.format(role="'researcher'", source="", person="s.owner_id"))
    op.execute(insert.format(
        role="CASE WHEN u.role = 'observer' THEN 'observer' ELSE 'researcher' END",
        source="JOIN study_team t ON t.study_id = s.id", person="t.user_id"))
    op.execute(insert.format(role="'observer'", source="JOIN study_session ss ON ss.study_id = s.id",
                             person="ss.moderator_id"))
    op.execute(insert.format(
        role="'observer'",
        source="JOIN study_session ss ON ss.study_id = s.id "
               "JOIN session_observer so ON so.session_id = ss.id",
        person="so.user_id"))
    op.drop_table('study_team')


def downgrade():
    op.create_table('study_team',
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_team_study_id_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_study_team_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('study_id', 'user_id', name=op.f('pk_study_team'))
    )
    # Before teams had roles, only researchers beside the owner were listed.
    op.execute("INSERT INTO study_team (study_id, user_id) SELECT m.study_id, m.user_id FROM study_member m "
               "JOIN study s ON s.id = m.study_id WHERE m.role = 'researcher' AND m.user_id <> s.owner_id")
    op.drop_index(op.f('ix_study_member_user_id'), table_name='study_member')
    op.drop_table('study_member')
