"""A study's tag set (its codebook): the default set, copying another study's, and checking a tag.

These flush, never commit. Renaming, merging and deleting a tag also rewrite notes, so they live
with the notes (`observe.services`); they use the checks here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from usabtest.accounts.models import User
from usabtest.core.audit import record
from usabtest.core.errors import InvalidInput
from usabtest.extensions import db
from usabtest.planning.models import Study, StudyTag

MAX_NAME = 50
MAX_DESCRIPTION = 500
DEFAULT_COLOUR = "#5d6d7e"


@dataclass(frozen=True)
class TagSpec:
    """A tag as the default set or a copied set describes it."""

    name: str
    description: str = ""
    colour: str = DEFAULT_COLOUR
    shortcut: str | None = None


# The set every study had before tag sets were editable, with its console keys (Alt+P, Alt+Q...).
DEFAULT_TAGS: tuple[TagSpec, ...] = (
    TagSpec("problem", "Something got in the participant's way.", "#c0392b", "P"),
    TagSpec("quote", "Worth quoting in the report.", "#7d3c98", "Q"),
    TagSpec("positive", "Something that worked well.", "#1e8449", "O"),
    TagSpec("idea", "A suggestion or an idea for a fix.", "#b9770e", "I"),
    TagSpec("bug", "A defect of the product, not a usability problem.", "#2e4053", "B"),
)

# The console's own Alt shortcuts: a tag may not take these keys.
RESERVED_SHORTCUTS: dict[str, str] = {
    "N": "go to the note input",
    "S": "start the next task",
    "D": "end the running task",
    "K": "change the note's kind",
    **{str(level): f"severity {level}" for level in range(5)},
}
KIND_SHORTCUT = "K"

_SHORTCUT = re.compile(r"^(?:(shift)\+)?([a-z0-9])$", re.IGNORECASE)
_COLOUR = re.compile(r"^#(?:[0-9a-f]{3}|[0-9a-f]{6})$", re.IGNORECASE)


def name_key(name: str) -> str:
    """The form of a tag name that uniqueness compares: trimmed and case-folded."""
    return " ".join(name.split()).casefold()


def normalise_shortcut(raw: str | None) -> str | None:
    """ "p", "Alt+P", "shift+1" become "P", "P", "Shift+1"; blank is None; ValueError when not a key."""
    text = "".join((raw or "").split())
    if not text:
        return None
    if text.lower().startswith("alt+"):
        text = text[4:]
    match = _SHORTCUT.match(text)
    if match is None:
        raise ValueError("Use one letter or digit, optionally with Shift (for example “P” or “Shift+1”); "
                         "the console adds Alt.")
    key = match.group(2).upper()
    return f"Shift+{key}" if match.group(1) else key


def normalise_colour(raw: str | None) -> str:
    """ "#ABC" and "#aabbcc" become "#aabbcc"; ValueError when not a hex colour."""
    text = (raw or "").strip().lower()
    if not _COLOUR.match(text):
        raise ValueError("Give the colour as # and six hexadecimal digits, for example #1e8449.")
    if len(text) == 4:
        text = "#" + "".join(c * 2 for c in text[1:])
    return text


def study_tags(study: Study) -> list[StudyTag]:
    """The study's tags in their order."""
    return list(study.tags)


def tag_names(study: Study) -> list[str]:
    """The names notes of this study may carry, in the set's order."""
    return [tag.name for tag in study.tags]


def find_tag(study: Study, name: str) -> StudyTag | None:
    """The study's tag with this name (ignoring case), or None."""
    key = name_key(name)
    return next((tag for tag in study.tags if tag.name_key == key), None)


@dataclass(frozen=True)
class CheckedTag:
    """A tag's fields after checking: trimmed name, colour as #rrggbb, shortcut normalised."""

    name: str
    description: str
    colour: str
    shortcut: str | None


def check_tag(study: Study, *, name: str, description: str = "", colour: str = DEFAULT_COLOUR,
              shortcut: str | None = None, current: StudyTag | None = None) -> CheckedTag:
    """Check a new or changed tag against the study's set; one InvalidInput naming every bad field."""
    problems: dict[str, str] = {}
    clean_name = " ".join((name or "").split())
    if not clean_name:
        problems["name"] = "Give the tag a name."
    elif len(clean_name) > MAX_NAME:
        problems["name"] = f"A tag name has at most {MAX_NAME} characters."
    else:
        same = find_tag(study, clean_name)
        if same is not None and same is not current:
            problems["name"] = (f"This study already has the tag “{same.name}” "
                                "(names are compared ignoring case).")
    clean_description = (description or "").strip()
    if len(clean_description) > MAX_DESCRIPTION:
        problems["description"] = f"A description has at most {MAX_DESCRIPTION} characters."
    clean_colour = DEFAULT_COLOUR
    try:
        clean_colour = normalise_colour(colour)
    except ValueError as exc:
        problems["colour"] = str(exc)
    clean_shortcut = None
    try:
        clean_shortcut = normalise_shortcut(shortcut)
    except ValueError as exc:
        problems["shortcut"] = str(exc)
    if clean_shortcut is not None:
        if clean_shortcut in RESERVED_SHORTCUTS:
            problems["shortcut"] = (f"Alt+{clean_shortcut} is the console's own shortcut "
                                    f"({RESERVED_SHORTCUTS[clean_shortcut]}); choose another key.")
        else:
            owner = next((t for t in study.tags if t.shortcut == clean_shortcut and t is not current), None)
            if owner is not None:
                problems["shortcut"] = f"Alt+{clean_shortcut} is already the shortcut of “{owner.name}”."
    if problems:
        field, message = next(iter(problems.items()))
        raise InvalidInput(message, field, fields=problems)
    return CheckedTag(clean_name, clean_description, clean_colour, clean_shortcut)


def _append(study: Study, spec: TagSpec | CheckedTag) -> StudyTag:
    position = max((t.position for t in study.tags), default=-1) + 1
    tag = StudyTag(name=spec.name, name_key=name_key(spec.name), description=spec.description,
                   colour=spec.colour, shortcut=spec.shortcut, position=position)
    study.tags.append(tag)
    return tag


def seed_tags(study: Study, source: Study | None = None) -> list[StudyTag]:
    """Give a new study the default set, or a copy of `source`'s set (names, colours, shortcuts)."""
    specs = ([TagSpec(t.name, t.description, t.colour, t.shortcut) for t in source.tags]
             if source is not None else list(DEFAULT_TAGS))
    made = [_append(study, spec) for spec in specs]
    db.session.flush()
    return made


def add_tag(study: Study, actor: User, *, name: str, description: str = "", colour: str = DEFAULT_COLOUR,
            shortcut: str | None = None) -> StudyTag:
    """Add a tag at the end of the study's set."""
    checked = check_tag(study, name=name, description=description, colour=colour, shortcut=shortcut)
    tag = _append(study, checked)
    db.session.flush()
    record(actor, "tag.create", tag, {"study": study.id, "name": tag.name})
    return tag


def move_tag(tag: StudyTag, offset: int, actor: User) -> None:
    """Move a tag up (-1) or down (+1) in its set (the console shows them in this order)."""
    tags = list(tag.study.tags)
    index = tags.index(tag)
    other = index + offset
    if 0 <= other < len(tags):
        tags[index], tags[other] = tags[other], tags[index]
    for position, each in enumerate(tags):
        each.position = position
    db.session.flush()
    record(actor, "tag.move", tag, {"offset": offset})


def studies_with_tags(visible: sa.Select) -> list[tuple[int, str, int]]:
    """(id, title, number of tags) of the studies in `visible` that have a tag set, by title."""
    ids = visible.with_only_columns(Study.id).scalar_subquery()
    rows = db.session.execute(
        sa.select(Study.id, Study.title, sa.func.count(StudyTag.id))
        .join(StudyTag, StudyTag.study_id == Study.id)
        .where(Study.id.in_(ids))
        .group_by(Study.id, Study.title)
        .order_by(Study.title, Study.id)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]
