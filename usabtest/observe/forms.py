"""Forms of the observe pages: the SUS questionnaire."""

from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField
from wtforms.validators import InputRequired

from usabtest.observe.sus import SCALE_LABELS, STATEMENTS


class SusForm(FlaskForm):
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
