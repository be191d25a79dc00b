"""Forms of the analysis pages."""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields import ColorField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from usabtest.analysis.models import EFFORT_LABELS, PRIORITY_LABELS, SEVERITY_LABELS
from usabtest.core.forms import Form, VersionedFormMixin
from usabtest.observe.models import NoteKind
from usabtest.observe.schemas import MAX_BODY
from usabtest.planning.tagset import DEFAULT_COLOUR, MAX_DESCRIPTION, MAX_NAME

SEVERITY_CHOICES = {str(level): f"{level} – {label}" for level, label in SEVERITY_LABELS.items()}
PRIORITY_CHOICES = {"": "Not rated", **PRIORITY_LABELS}
EFFORT_CHOICES = {"": "Not rated", **EFFORT_LABELS}


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class FindingForm(VersionedFormMixin, Form):
    """Create or edit a finding."""

    title = StringField("Title", validators=[DataRequired(message="Give the finding a title."),
                                             Length(max=300)])
    severity = SelectField("Severity (Nielsen's scale)", choices=SEVERITY_CHOICES, default="2")
    description = TextAreaField("Description", validators=[Optional(), Length(max=20_000)])
    recommendation = TextAreaField("Recommendation", validators=[Optional(), Length(max=20_000)])
    priority = SelectField("Priority of the recommendation", choices=PRIORITY_CHOICES, default="")
    effort = SelectField("Effort to carry it out", choices=EFFORT_CHOICES, default="")
    positive = BooleanField(

        "Something that worked well (reported under “What worked well”, not as a problem)")
    tasks = CheckboxListField("Affected tasks", coerce=int, validate_choice=True)
    submit = SubmitField("Save finding")


class BoardActionForm(Form):
    """The notes board's actions on the selected notes (the note checkboxes are read separately)."""

    title = StringField("Title of the new finding", validators=[Optional(), Length(max=300)])
    severity = SelectField("Severity of the new finding", choices=SEVERITY_CHOICES, default="2")
    finding = SelectField("Existing finding", choices={}, validate_choice=False)


class ScreenshotForm(Form):
    """Upload a screenshot as evidence."""

    image = FileField("Screenshot (PNG or JPEG)", validators=[
        FileRequired(message="Choose an image to upload."),
        FileAllowed(["png", "jpg", "jpeg"], message="Only PNG and JPEG images can be attached."),
    ])
    caption = StringField("Caption", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Upload screenshot")


class MergeForm(Form):
    """Fold another finding into this one."""

    source = SelectField("Finding to merge into this one", choices={}, validate_choice=False)
    submit = SubmitField("Merge")


KIND_CHOICES = {kind.value: kind.label for kind in NoteKind}


class NoteForm(VersionedFormMixin, Form):
    """A researcher's change of a note: text, kind, tags, severity and task."""

    body = TextAreaField("Note text", validators=[DataRequired(message="A note needs some text."),
                                                  Length(max=MAX_BODY)])
    kind = SelectField("Kind", choices=KIND_CHOICES, default=NoteKind.OBSERVATION.value)
    tags = CheckboxListField("Tags", choices=[], validate_choice=True)
    severity = SelectField("Severity", choices={"": "Not rated"} | SEVERITY_CHOICES, default="")
    task = SelectField("Task", choices={}, default="")
    submit = SubmitField("Save changes")


class TagForm(Form):
    """Add or change a tag of the study's set."""

    name = StringField("Name", validators=[DataRequired(message="Give the tag a name."),
                                           Length(max=MAX_NAME)])
    description = StringField("Description", validators=[Optional(), Length(max=MAX_DESCRIPTION)])
    colour = ColorField("Colour", default=DEFAULT_COLOUR)
    shortcut = StringField("Console shortcut (with Alt)", validators=[Optional(), Length(max=20)],
                           render_kw={"autocomplete": "off", "placeholder": "e.g. N or Shift+1"})
    submit = SubmitField("Save tag")


class TagMergeForm(Form):
    """Fold this tag into another one."""

    target = SelectField("Merge into", choices={}, validate_choice=False)
    submit = SubmitField("Merge tags")


class TagDeleteForm(Form):
    """Delete a tag: what happens to the notes that carry it."""

    fate = RadioField("What happens to the notes carrying it", choices={
        "remove": "Remove the tag from those notes",
        "merge": "Give those notes another tag instead:",
    }, default="remove")
    target = SelectField("Other tag", choices={}, validate_choice=False)
    submit = SubmitField("Delete tag")
