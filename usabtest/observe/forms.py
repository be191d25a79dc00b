"""Forms of the observe pages: the SUS questionnaire and the correction of a task attempt."""

from wtforms import DateTimeLocalField, IntegerField, RadioField, SelectField, SubmitField
from wtforms.validators import InputRequired, Optional

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
