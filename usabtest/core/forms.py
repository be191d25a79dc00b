"""Page forms: a service's refusal shown on the form, and the version a form's edit was based on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, TextAreaField

from usabtest.core.errors import DomainError
from usabtest.core.schemas import control_character_problem
from usabtest.core.versioning import StaleVersion, parse_version


class Form(FlaskForm):
    """The base of every page form: no text field takes characters that cannot be stored.

    Text areas keep tabs and line breaks; other text fields (names, titles, e-mail addresses, hidden
    values) refuse line breaks too. Each offending field gets its own error, so the page answers
    400 with the form as typed, as for any other invalid field.
    """

    def validate(self, extra_validators=None) -> bool:
        """The fields' own validators, then the control-character check of every text field."""
        valid = super().validate(extra_validators)
        for form_field in self:
            if not isinstance(form_field, StringField) or not isinstance(form_field.data, str):
                continue
            problem = control_character_problem(
                form_field.data, multiline=isinstance(form_field, TextAreaField))
            if problem:
                form_field.errors = [*form_field.errors, f"This text {problem}."]
                valid = False
        return valid


def show_refusal(form: FlaskForm, exc: DomainError) -> None:
    """Put `exc`'s message under the form field it names, or at the top of the form.

    The page then answers 4xx, so the request's half-made change is rolled back.
    """
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def id_or_none(value) -> int | None:
    """A select's submitted id as an int; None for nothing chosen or a value that is no id."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
# --- versions: a save based on an old version shows what is saved now ------------------------------

class VersionedFormMixin:
    """The record's version the form was filled from, sent back hidden with the form."""

    version = HiddenField()

    def based_on(self) -> int | None:
        """The version the submitted input was made from (None when missing or garbled).

        Read from what was posted only: a form filled from the record (`obj=`) must never take the
        record's current version for the one the user started from.
        """
        raw = self.version.raw_data
        return parse_version(raw[0]) if raw else None

    def fill(self, values: dict[str, Any], version: int) -> None:
        """Fill the fields from a record's `values` (form terms) and remember its `version`."""
        for name, value in values.items():
            self[name].data = value
        self.version.data = str(version)


@dataclass
class Difference:
    """One field of a refused save: what is saved now and what the user typed."""

    field_id: str
    label: str
    current: str
    yours: str


@dataclass
class EditConflict:
    """What the form page shows when its save was based on an old version."""

    message: str
    saved_by: str | None
    saved_at: datetime | None
    differences: list[Difference] = field(default_factory=list)


def _choice_labels(form_field: Field) -> dict[str, str]:
    choices = getattr(form_field, "choices", None)
    if callable(choices):
        choices = choices()
    if not choices:
        return {}
    pairs = choices.items() if isinstance(choices, dict) else (
        c if isinstance(c, tuple) else (c, c) for c in choices)
    labels: dict[str, str] = {}
    for value, label in pairs:
        if isinstance(label, list | tuple) and label and isinstance(label[0], tuple):  # an optgroup
            labels.update({str(v): str(text) for v, text, *_ in label})
        else:
            labels[str(value)] = str(label)
    return labels


def shown_value(form_field: Field, value: Any) -> str:
    """`value` of `form_field` as a person reads it: choice labels, dates, times, "(empty)"."""
    labels = _choice_labels(form_field)
    values = value if isinstance(value, list | tuple | set) else [value]
    words = []
    for each in values:
        if each is None or each == "":
            continue
        if isinstance(each, time):
            words.append(each.strftime("%H:%M"))
        elif isinstance(each, date):
            words.append(each.isoformat())
        else:
            words.append(labels.get(str(each), str(each)).strip())
    return ", ".join(sorted(words) if isinstance(value, list | tuple | set) else words)


def form_status(form: FlaskForm) -> int:
    """The status of a form page: 409 after a refused stale save, 400 with errors, else 200."""
    if getattr(form, "conflict", None) is not None:
        return 409
    return 400 if form.errors or form.form_errors else 200


def show_conflict(form: FlaskForm, exc: StaleVersion, current: dict[str, Any]) -> EditConflict:
    """Keep what the user typed, put the saved values beside each field that differs, and arm a resave.

    `current` holds the record's saved values in the form's own terms (as the form is filled when
    the page is opened). The hidden version becomes the current one, so submitting the form again
    saves the user's values over the ones shown.
    """
    differences = []
    for name, value in current.items():
        form_field = form[name]
        saved, typed = shown_value(form_field, value), shown_value(form_field, form_field.data)
        if saved != typed:
            form_field.saved_value = saved or "(empty)"
            differences.append(Difference(form_field.id, str(form_field.label.text), saved or "(empty)",
                                          typed or "(empty)"))
    form.version.data = str(exc.current_version)
    form.conflict = EditConflict(exc.message, exc.saved_by, exc.saved_at, differences)
    return form.conflict
