"""Forms of the analysis pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from usabtest.analysis.models import SEVERITY_LABELS

SEVERITY_CHOICES = {str(level): f"{level} – {label}" for level, label in SEVERITY_LABELS.items()}


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class FindingForm(FlaskForm):
    """Create or edit a finding."""

    title = StringField("Title", validators=[DataRequired(message="Give the finding a title."),
                                             Length(max=300)])
    severity = SelectField("Severity (Nielsen's scale)", choices=SEVERITY_CHOICES, default="2")
    description = TextAreaField("Description", validators=[Optional(), Length(max=20_000)])
    recommendation = TextAreaField("Recommendation", validators=[Optional(), Length(max=20_000)])
    tasks = CheckboxListField("Affected tasks", coerce=int, validate_choice=True)
    submit = SubmitField("Save finding")


class BoardActionForm(FlaskForm):
    """The notes board's actions on the selected notes (the note checkboxes are read separately)."""

    title = StringField("Title of the new finding", validators=[Optional(), Length(max=300)])
    severity = SelectField("Severity of the new finding", choices=SEVERITY_CHOICES, default="2")
    finding = SelectField("Existing finding", choices={}, validate_choice=False)


class ScreenshotForm(FlaskForm):
    """Upload a screenshot as evidence."""

    image = FileField("Screenshot (PNG or JPEG)", validators=[
        FileRequired(message="Choose an image to upload."),
        FileAllowed(["png", "jpg", "jpeg"], message="Only PNG and JPEG images can be attached."),
    ])
    caption = StringField("Caption", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Upload screenshot")


class MergeForm(FlaskForm):
    """Fold another finding into this one."""

    source = SelectField("Finding to merge into this one", choices={}, validate_choice=False)
    submit = SubmitField("Merge")
