"""Sign-in, profile and user administration forms."""

from functools import cache
from zoneinfo import available_timezones

from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional, ValidationError

from usabtest.accounts.models import Role
from usabtest.accounts.services import (
    MAX_ORGANISATION_NAME,
    MAX_PASSWORD_LENGTH,
    MAX_TOKEN_LABEL,
    MIN_PASSWORD_LENGTH,
)
from usabtest.core.forms import Form, id_or_none
from usabtest.core.schemas import MAX_ID


@cache
def timezone_choices() -> list[str]:
    """Every IANA zone name, sorted; read from disk on first use, not at start-up."""
    return sorted(available_timezones())


def _password_length() -> Length:
    return Length(
        min=MIN_PASSWORD_LENGTH,
        max=MAX_PASSWORD_LENGTH,
        message=f"Password must be at least {MIN_PASSWORD_LENGTH} characters "
                f"(at most {MAX_PASSWORD_LENGTH}).",
    )


class LoginForm(Form):
    """Email and password; remember-me is off unless ticked."""

    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in on this device (two weeks)", default=False)
    submit = SubmitField("Sign in")


class ForgotPasswordForm(Form):
    """Ask for a password reset link by e-mail."""

    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    submit = SubmitField("Send me a link")


class ResetPasswordForm(Form):
    """Choose a new password through a reset link."""

    new_password = PasswordField("New password", validators=[DataRequired(), _password_length()])
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", message="Passwords do not match.")],
    )
    submit = SubmitField("Set new password")


class ProfileForm(Form):
    """Name and the time zone every date is shown in."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    timezone = SelectField("Time zone", choices=timezone_choices, validators=[DataRequired()])
    submit = SubmitField("Save profile")


class PasswordChangeForm(Form):
    """Change one's own password; signs out other devices."""

    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), _password_length()]
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", message="Passwords do not match.")],
    )
    submit = SubmitField("Change password")


TOKEN_EXPIRY_CHOICES = {"30": "in 30 days", "90": "in 90 days", "365": "in a year", "": "never"}


class TokenCreateForm(Form):
    """Create a named personal API token (shown once)."""

    name = StringField("Name", validators=[DataRequired(message="Name the token after what uses it."),
                                           Length(max=MAX_TOKEN_LABEL)])
    expires = SelectField("Expires", choices=TOKEN_EXPIRY_CHOICES, default="90")
    submit = SubmitField("Create token")

    def expires_in_days(self) -> int | None:
        """The chosen lifetime in days; None for a token that never expires."""
        return int(self.expires.data) if self.expires.data else None


class _RoleFields(Form):
    role = SelectField("Role", choices={r.value: r.label for r in Role})
    # Choices (id, name): every organisation, set by the view with `set_organisations`.
    organisation = SelectField("Client organisation (clients only)", coerce=id_or_none,
                               validate_choice=False)

    def set_organisations(self, organisations) -> None:
        """Offer `organisations`, after a blank entry for users who are not clients."""
        self.organisation.choices = [("", "No organisation")] + [(o.id, o.name) for o in organisations]

    def validate_organisation(self, field) -> None:
        if self.role.data == Role.CLIENT.value and field.data is None:
            raise ValidationError("A client user must belong to a client organisation.")
        if field.data is not None and field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Choose an organisation from the list.")


class UserCreateForm(_RoleFields):
    """Admin: create a user."""

    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField(
        "Initial password", validators=[DataRequired(), _password_length()]
    )
    submit = SubmitField("Create user")


class UserRoleForm(_RoleFields):
    """Admin: change a user's role."""

    submit = SubmitField("Change role")


class ConfirmForm(Form):
    """A bare CSRF-protected button for state changes (sign out, activate, revoke)."""

    submit = SubmitField("Confirm")


class OrganisationForm(Form):
    """Create (or rename) a client organisation."""

    name = StringField("Name", validators=[DataRequired(message="Give the organisation's name."),
                                           Length(max=MAX_ORGANISATION_NAME)])
    next = HiddenField()
    submit = SubmitField("Create organisation")


class ClientUserAddForm(Form):
    """Admin: put an existing client user into an organisation (choices set by the view)."""

    user = SelectField("Existing client user", coerce=id_or_none, validate_choice=False)
    submit = SubmitField("Add to this organisation")


class ClientUserCreateForm(Form):
    """Admin: a new client user of an organisation, as the user administration page creates them."""

    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Initial password", validators=[DataRequired(), _password_length()])
    submit = SubmitField("Create client user")


class AuditFilterForm(Form):
    """Narrow the audit log (a GET form: it changes nothing)."""

    class Meta:
        csrf = False

    actor = SelectField("Who", choices={"": "Anyone"}, default="")
    action = SelectField("Action", choices={"": "Any action"}, default="")
    object_type = SelectField("Object type", choices={"": "Any object"}, default="")
    object_id = IntegerField("Object id", validators=[Optional(), NumberRange(
        min=1, max=MAX_ID, message=f"Give an id from 1 to {MAX_ID}.")])
    since = DateField("From (your time zone)", validators=[Optional()])
    until = DateField("To (inclusive)", validators=[Optional()])
    submit = SubmitField("Filter", name="")

    def set_choices(self, users: list, actions: list[str], object_types: list[str]) -> None:
        """Fill the selects: users by name, actions and their families ("participant.*"), object types."""
        self.actor.choices = {"": "Anyone", **{str(u.id): f"{u.name} ({u.email})" for u in users}}
        families = sorted({a.split(".", 1)[0] + "." for a in actions if "." in a})
        self.action.choices = {"": "Any action", **{f: f"{f}* (all)" for f in families},
                               **{a: a for a in actions}}
        self.object_type.choices = {"": "Any object", **{t: t for t in object_types}}

    def validate_until(self, field) -> None:
        """The range must not end before it starts."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")
