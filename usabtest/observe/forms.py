"""Forms of the observe pages: the SUS questionnaire, the correction of a task attempt, the recording."""

from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, IntegerField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Optional

from usabtest.core.forms import Form, VersionedFormMixin
from usabtest.observe.models import Outcome
from usabtest.observe.sus import SCALE_LABELS, STATEMENTS

_TIME_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
_TIME_MESSAGE = "Give a date and time, e.g. 2026-12-01 14:05:30."


class _LocalTimeField(DateTimeLocalField):
    """A date and time to the second, refused with an example of what is expected."""

    def process_formdata(self, valuelist) -> None:
        """Parse the typed time; a garbled one gets the example in its message."""
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_TIME_MESSAGE) from None


class AttemptForm(VersionedFormMixin, Form):
    """Corrections of an ended task attempt; times are in the signed-in user's time zone.

    Ranges (errors, SEQ, the end after the start) are the service's checks, so the page and the
    API refuse the same things in the same words.
    """

    outcome = SelectField("Outcome", choices={"": "Choose…", **{o.value: o.label for o in Outcome}})
    error_count = IntegerField("Errors", validators=[Optional()])
    seq = IntegerField("SEQ answer (1 very difficult – 7 very easy; empty: not asked)",
                       validators=[Optional()])
    started_at = _LocalTimeField("Started at", format=_TIME_FORMATS, render_kw={"step": 1},
                                    validators=[InputRequired(_TIME_MESSAGE)])
    ended_at = _LocalTimeField("Ended at", format=_TIME_FORMATS, render_kw={"step": 1},
                                  validators=[InputRequired(_TIME_MESSAGE)])
    submit = SubmitField("Save correction")


class SusForm(Form):
    """The ten SUS statements, each answered 1 (strongly disagree) to 5 (strongly agree)."""

    submit = SubmitField("Save SUS answers")

    @property
    def answer_fields(self) -> list[RadioField]:
        """The ten answer fields in questionnaire order."""
        return [self[f"q{number}"] for number in range(1, len(STATEMENTS) + 1)]

    @property
    def answers(self) -> list[int]:
        """The chosen answers as integers."""
        return [int(f.data) for f in self.answer_fields]


for _number, _statement in enumerate(STATEMENTS, start=1):
    setattr(
        SusForm,
        f"q{_number}",
        RadioField(
            f"{_number}. {_statement}",
            choices={str(value): f"{value} – {label}" for value, label in SCALE_LABELS.items()},
            validators=[InputRequired(message="Choose an answer from 1 to 5.")],
        ),
    )


_OFFSET_HINT = ("Where the session starts in the recording, as minutes:seconds (e.g. 1:30) or seconds; "
                "0 when the recording starts with the session, negative when it began later.")


class RecordingLinkForm(Form):
    """An external recording: its address and where the session starts in it."""

    url = StringField("Address of the recording", validators=[
        InputRequired(message="Give the recording's address."), Length(max=2000)])
    offset = StringField("Session start in the recording", default="0", validators=[Length(max=20)])
    submit = SubmitField("Save link")

    offset_hint = _OFFSET_HINT


class RecordingFileForm(Form):
    """An uploaded audio or video file (its type is checked from its content, not its name)."""

    file = FileField("Audio or video file", validators=[FileRequired(message="Choose a file to upload.")])
    offset = StringField("Session start in the recording", default="0", validators=[Length(max=20)])
    submit = SubmitField("Upload recording")

    offset_hint = _OFFSET_HINT


class RecordingOffsetForm(Form):
    """Move the session's start within the recording it has."""

    offset = StringField("Session start in the recording", validators=[Length(max=20)])
    submit = SubmitField("Save start")

    offset_hint = _OFFSET_HINT
