"""Forms for the report texts, drafts, publishing and share links."""

from wtforms import HiddenField, IntegerField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from usabtest.core.forms import Form, VersionedFormMixin
from usabtest.reports import narrative
from usabtest.reports.services import SHARE_DAYS_DEFAULT, SHARE_DAYS_MAX, WITHDRAW_REASON_MAX

PAGE_SIZE_CHOICES = {"A4": "A4", "Letter": "US Letter"}


class DraftForm(Form):
    """Download the current draft (a GET form: it changes nothing)."""

    class Meta:
        csrf = False

    # Own ids: the publish form on the same page has a page size field too.
    page_size = SelectField("Page size", choices=PAGE_SIZE_CHOICES, default="A4", id="draft-page-size")
    submit = SubmitField("Download draft PDF", id="draft-submit")


class PublishForm(Form):
    """Freeze the current report as the next version."""

    page_size = SelectField("Page size", choices=PAGE_SIZE_CHOICES, default="A4", id="publish-page-size")
    change_note = TextAreaField("What changed (optional)", validators=[Length(max=2000)],
                                id="publish-change-note")
    gap_reason = TextAreaField(
        "Why publish with these gaps", id="publish-gap-reason",
        validators=[Length(max=2000, message="Keep the reason under 2,000 characters.")])
    next = HiddenField()
    submit = SubmitField("Publish new version", id="publish-submit")


class ShareLinkForm(Form):
    """Create an expiring link to one version for someone without an account."""

    days = IntegerField(
        "Valid for (days)", default=SHARE_DAYS_DEFAULT,
        validators=[InputRequired("Enter how many days the link should work."),
                    NumberRange(1, SHARE_DAYS_MAX, f"Choose between 1 and {SHARE_DAYS_MAX} days.")],
    )
    next = HiddenField()
    submit = SubmitField("Create share link")


class WithdrawForm(Form):
    """Take a published version back from the client, saying why."""

    reason = TextAreaField(
        "Why withdraw it", render_kw={"rows": 2},
        validators=[InputRequired("Say why this version is withdrawn: the reason is kept with it."),
                    Length(max=WITHDRAW_REASON_MAX,
                           message=f"Keep the reason under {WITHDRAW_REASON_MAX:,} characters.")])
    next = HiddenField()
    submit = SubmitField("Withdraw")


def _as_typed(value: str | None) -> str:
    # Browsers send line breaks as CRLF; NUL is no text (and PostgreSQL refuses it).
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


class NarrativeForm(VersionedFormMixin, Form):
    """Every text researchers write for the report, saved together from one version."""

    submit = SubmitField("Save report texts")


for _field in narrative.FIELDS:
    setattr(NarrativeForm, _field.name, TextAreaField(
        _field.label, description=_field.hint, filters=[_as_typed], render_kw={"rows": 6},
        validators=[Length(max=narrative.MAX_LENGTH, message=(
            f"Keep {_field.label.lower()} under {narrative.MAX_LENGTH:,} characters "
            "(this text has %(length)d); put long material in an appendix document instead."))],
    ))
