"""Forms of the planning pages."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional, ValidationError

from usabtest.accounts.forms import timezone_choices
from usabtest.core.forms import Form, VersionedFormMixin, id_or_none
from usabtest.planning.models import ScreenLanguage, StudyMethod, StudyStatus, TeamRole
from usabtest.planning.scheduling import MAX_DURATION_MIN, MIN_DURATION_MIN

METHOD_CHOICES = {m.value: m.label for m in StudyMethod}
STATUS_CHOICES = {s.value: s.label for s in StudyStatus}
LANGUAGE_CHOICES = {lang.value: lang.label for lang in ScreenLanguage}
TEAM_ROLE_CHOICES = {
    TeamRole.OBSERVER.value: "Observer: joins sessions and takes notes",
    TeamRole.RESEARCHER.value: "Researcher: plans, runs and analyses the study",
}


def parse_segments(text: str) -> dict[str, str]:
    """"key: value" lines into a dict; raises ValueError naming the first bad line."""
    segments: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"Line {number} should look like \"age band: 25-34\".")
        if len(key.strip()) > 50 or len(value.strip()) > 200:
            raise ValueError(f"Line {number} is too long (50 characters for the name, 200 for the value).")
        segments[key.strip()] = value.strip()
    return segments


def format_segments(segments: dict[str, str]) -> str:
    """The inverse of `parse_segments`, for editing."""
    return "\n".join(f"{key}: {value}" for key, value in (segments or {}).items())


class StudyForm(VersionedFormMixin, Form):
    """Create or edit a study."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    # Choices (id, name) are the organisations the user may pick (usabtest.policy), set by the view.
    organisation = SelectField("Client organisation", coerce=id_or_none, validate_choice=False)
    product = StringField("Product", validators=[Optional(), Length(max=200)])
    goals = TextAreaField("Goals", validators=[Optional(), Length(max=5000)])
    method = SelectField("Method", choices=METHOD_CHOICES, default=StudyMethod.IN_PERSON.value)
    status = SelectField("Status", choices=STATUS_CHOICES, default=StudyStatus.DRAFT.value)
    language = SelectField("Language of the participant screen", choices=LANGUAGE_CHOICES,
                           default=ScreenLanguage.EN.value)
    # New studies only: where the study's tag set comes from ("" is the default set).
    tags_from = SelectField("Tags", choices={}, default="")
    submit = SubmitField("Save study")

    def set_organisations(self, organisations) -> None:
        """Offer `organisations` (those the user may pick), a blank "choose" entry first."""
        self.organisation.choices = [("", "Choose the client organisation")] + [
            (org.id, org.name) for org in organisations]

    def validate_organisation(self, field) -> None:
        """Only one of the listed organisations; the policy made the list."""
        if field.data is None:
            raise ValidationError("Choose the client organisation.")
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError("You cannot put a study in that organisation: choose one from the list "
                                  "(or create a new organisation).")


class TaskForm(VersionedFormMixin, Form):
    """One task of the script."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    scenario = TextAreaField("Scenario (read to the participant)", validators=[Optional(), Length(max=5000)])
    success_criteria = TextAreaField("Success criteria", validators=[Optional(), Length(max=5000)])
    time_limit_min = IntegerField(
        "Time limit in minutes (optional)",
        validators=[Optional(), NumberRange(min=1, max=240, message="Between 1 and 240 minutes.")],
    )
    submit = SubmitField("Save task")


class SegmentsMixin:
    """Free segment attributes typed as "key: value" lines."""

    def validate_segments(self, field) -> None:
        """Refuse lines that are not "key: value"."""
        try:
            parse_segments(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class ParticipantForm(SegmentsMixin, VersionedFormMixin, Form):
    """A participant's contact details, segments and (optionally) a newly signed consent."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email (optional)", validators=[Optional(), Email(), Length(max=254)])
    phone = StringField("Phone (optional)", validators=[Optional(), Length(max=50)])
    segments = TextAreaField("Segment attributes", validators=[Optional(), Length(max=5000)])
    consent_date = DateField("Consent signed on", validators=[Optional()])
    consent_version = StringField("Consent form version", validators=[Optional(), Length(max=50)])
    submit = SubmitField("Save participant")

    def validate_consent_version(self, field) -> None:
        """A consent needs both its date and the form version."""
        if self.consent_date.data and not (field.data or "").strip():
            raise ValidationError("Give the version of the consent form that was signed.")
        if (field.data or "").strip() and not self.consent_date.data:
            self.consent_date.errors.append("Give the date the consent form was signed.")
            raise ValidationError("A version needs the date it was signed.")


class ImportForm(Form):
    """Upload a CSV file of participants for a preview."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    submit = SubmitField("Preview import")


class ImportConfirmForm(Form):
    """Confirm a previewed import; the signed payload holds the file that was previewed."""

    payload = HiddenField(validators=[DataRequired()])
    submit = SubmitField("Import the good rows")


class SessionForm(VersionedFormMixin, Form):
    """Schedule or reschedule a session."""

    participant = SelectField("Participant", coerce=int, validators=[DataRequired()])
    day = DateField("Date", validators=[DataRequired(message="Give the date.")])
    at = TimeField("Start time", validators=[DataRequired(message="Give the start time.")])
    timezone = SelectField("Time zone of this date and time", choices=timezone_choices,
                           validators=[DataRequired()])
    duration_min = IntegerField(
        "Duration in minutes", default=60,
        validators=[DataRequired(), NumberRange(min=MIN_DURATION_MIN, max=MAX_DURATION_MIN)],
    )
    # Choices are the study's team; the scheduler refuses anyone else with a message naming them.
    moderator = SelectField("Moderator", coerce=int, validators=[DataRequired()], validate_choice=False)
    observers = SelectMultipleField("Observers", coerce=int, validators=[Optional()], validate_choice=False)
    location = StringField("Location", validators=[Optional(), Length(max=500)])
    video_link = URLField("Video link", validators=[
        Optional(), URL(message="Give a full link, starting with https://."), Length(max=500)])
    submit = SubmitField("Schedule session")


class WalkInForm(Form):
    """A session starting now, for a participant who walked in."""

    participant = SelectField("Participant", coerce=int, validators=[DataRequired()])
    duration_min = IntegerField(
        "Duration in minutes", default=60,
        validators=[DataRequired(), NumberRange(min=MIN_DURATION_MIN, max=MAX_DURATION_MIN)],
    )
    moderator = SelectField("Moderator", coerce=int, validators=[DataRequired()], validate_choice=False)
    observers = SelectMultipleField("Observers", coerce=int, validators=[Optional()], validate_choice=False)
    location = StringField("Location", validators=[Optional(), Length(max=500)])
    video_link = URLField("Video link", validators=[
        Optional(), URL(message="Give a full link, starting with https://."), Length(max=500)])
    submit = SubmitField("Start now")


def _strip(value: str | None) -> str | None:
    return value.strip() if value else value


class TeamAddForm(Form):
    """Put a colleague on the study's team, by the e-mail address of their account."""

    email = EmailField("E-mail address", filters=[_strip], validators=[
        DataRequired(message="Give the e-mail address of the person to add."),
        Email(message="Give a valid e-mail address."), Length(max=254)])
    role = SelectField("Role on this study", choices=TEAM_ROLE_CHOICES, default=TeamRole.OBSERVER.value,
                       validators=[DataRequired()])
    submit = SubmitField("Add to team")


class TeamRoleForm(Form):
    """Make a member a researcher or an observer of the study."""

    role = SelectField("Role on this study", choices={r.value: r.label for r in TeamRole},
                       validators=[DataRequired()])
    submit = SubmitField("Change role")


class HandOverForm(Form):
    """Hand the study's ownership to another researcher on its team (a checkbox confirms it)."""

    new_owner = SelectField(
        "New owner", coerce=int, validate_choice=False,
        validators=[DataRequired(message="Choose the researcher who will own the study.")])
    confirm = BooleanField(
        "I understand: the new owner manages the team from now on, and the current owner stays on "
        "it as a researcher.",
        validators=[DataRequired(message="Tick the box to confirm the hand-over.")])
    submit = SubmitField("Hand over ownership")
