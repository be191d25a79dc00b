"""per-study tag sets, note kinds and note history

Revision ID: 3b7c2d9e4f10
Revises: f545ece14419
Create Date: 2026-12-01 03:40:00

Every existing study gets the tags it could use before: the default set (problem, quote, positive,
idea, bug, with their Alt keys), then its custom tags (with the Alt+Shift+1... keys the console gave
them), then any other tag its notes carry, so every existing note stays editable.
"""
from alembic import op
import sqlalchemy as sa
import usabtest.db


# revision identifiers, used by Alembic.
revision = '3b7c2d9e4f10'
down_revision = 'f545ece14419'
branch_labels = None
depends_on = None

KINDS = ("observation", "quote", "positive", "question")
DEFAULTS = (
    ("problem", "Something got in the participant's way.", "#c0392b", "P"),
    ("quote", "Worth quoting in the report.", "#7d3c98", "Q"),
    ("positive", "Something that worked well.", "#1e8449", "O"),
    ("idea", "A suggestion or an idea for a fix.", "#b9770e", "I"),
    ("bug", "A defect of the product, not a usability problem.", "#2e4053", "B"),
)
OTHER_COLOUR = "#5d6d7e"


def _key(name):
    return " ".join(name.split()).casefold()


def upgrade():
    op.create_table('study_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('colour', sa.String(length=7), nullable=False),
    sa.Column('shortcut', sa.String(length=10), nullable=True),
    sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_tag_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_tag')),
    sa.UniqueConstraint('study_id', 'name_key', name=op.f('uq_study_tag_study_id_name_key')),
    sa.UniqueConstraint('study_id', 'shortcut', name=op.f('uq_study_tag_study_id_shortcut'))
    )
    op.create_index(op.f('ix_study_tag_study_id'), 'study_tag', ['study_id'], unique=False)

    op.create_table('note_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('created_at', usabtest.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_note_revision_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['note_id'], ['note.id'], name=op.f('fk_note_revision_note_id_note'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_note_revision'))
    )
    op.create_index(op.f('ix_note_revision_note_id'), 'note_revision', ['note_id'], unique=False)

    # Plain ALTER TABLE on both databases (a batch copy of `note` could cascade into its children).
    allowed = ", ".join(f"'{kind}'" for kind in KINDS)
    op.execute("ALTER TABLE note ADD COLUMN kind VARCHAR(24) DEFAULT 'observation' NOT NULL "
               f"CONSTRAINT ck_note_note_kind CHECK (kind IN ({allowed}))")

    _fill_tag_sets()
    op.execute("ALTER TABLE study DROP COLUMN custom_tags")


def _fill_tag_sets():
    conn = op.get_bind()
    study = sa.table('study', sa.column('id', sa.Integer), sa.column('custom_tags', sa.JSON))
    note = sa.table('note', sa.column('session_id', sa.Integer), sa.column('tags', sa.JSON))
    session = sa.table('study_session', sa.column('id', sa.Integer), sa.column('study_id', sa.Integer))
    tag = sa.table('study_tag', *(sa.column(name) for name in (
        'study_id', 'position', 'name', 'name_key', 'description', 'colour', 'shortcut')),
        sa.column('created_at', usabtest.db.UTCDateTime(timezone=True)),
        sa.column('updated_at', usabtest.db.UTCDateTime(timezone=True)))
    on_notes = {}
    rows = conn.execute(sa.select(session.c.study_id, note.c.tags)
                        .join(session, session.c.id == note.c.session_id))
    for study_id, tags in rows:
        for name in tags or []:
            on_notes.setdefault(study_id, []).append(str(name))
    now = usabtest.db.utcnow()
    for study_id, custom in conn.execute(sa.select(study.c.id, study.c.custom_tags)).all():
        made, keys, shift = [], set(), 0
        standard = {name for name, *_ in DEFAULTS}

        def add(name, description, colour, shortcut):
            clean = " ".join(str(name).split())[:50]
            if not clean or _key(clean) in keys:
                return
            keys.add(_key(clean))
            made.append({'study_id': study_id, 'position': len(made), 'name': clean, 'name_key': _key(clean),
                         'description': description, 'colour': colour, 'shortcut': shortcut,
                         'created_at': now, 'updated_at': now})

        for default in DEFAULTS:
            add(*default)
        for name in dict.fromkeys(str(n) for n in custom or []):
            shortcut = None
            if name not in standard and shift < 9:
                shift += 1  # the console's old numbering of the study's own tags
                shortcut = f"Shift+{shift}"
            add(name, "", OTHER_COLOUR, shortcut)
        for name in dict.fromkeys(on_notes.get(study_id, [])):
            add(name, "", OTHER_COLOUR, None)
        if made:
            conn.execute(tag.insert(), made)


def downgrade():
    op.execute("ALTER TABLE study ADD COLUMN custom_tags JSON DEFAULT '[]' NOT NULL")
    conn = op.get_bind()
    study = sa.table('study', sa.column('id', sa.Integer), sa.column('custom_tags', sa.JSON))
    tag = sa.table('study_tag', sa.column('study_id'), sa.column('name'), sa.column('position'))
    standard = {name for name, *_ in DEFAULTS}
    custom = {}
    for study_id, name in conn.execute(sa.select(tag.c.study_id, tag.c.name).order_by(tag.c.study_id, tag.c.position)):
        if name not in standard:
            custom.setdefault(study_id, []).append(name)
    for study_id, names in custom.items():
        conn.execute(study.update().where(study.c.id == study_id).values(custom_tags=names))
    op.drop_index(op.f('ix_note_revision_note_id'), table_name='note_revision')
    op.drop_table('note_revision')
    op.drop_index(op.f('ix_study_tag_study_id'), table_name='study_tag')
    op.drop_table('study_tag')
    op.execute("ALTER TABLE note DROP COLUMN kind")
