"""Asking before a destructive or irreversible action: one pattern shared by every page.

A page's button posts to the action's own URL. A GET, or a POST without `confirmed=yes`, changes
nothing: the view answers with `ask(...)`, a page naming what will happen (with counts) and a
Confirm button that posts the same fields again plus `confirmed=yes`, next to a Cancel link.
With JavaScript, `static/js/confirm.js` shows the same text in a dialog: it posts the form with the
`X-Confirm-Dialog` header and gets only the partial back. The page without JavaScript is the
reference; the dialog is a shortcut to it.

In a view::

    if not confirm.confirmed():
        return confirm.ask(confirm.Confirmation(
            title="Cancel the session with P03?",
            consequences=["3 people will be e-mailed a cancellation.", "This cannot be undone."],
            confirm_label="Cancel session", cancel_url=url_for(...)))
    ...do it...

The JSON API does not use this: its writes act at once (the caller has decided).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import render_template, request

from usabtest.core.errors import discard_changes

CONFIRM_FIELD = "confirmed"
DIALOG_HEADER = "X-Confirm-Dialog"
# Never carried from the question to the confirming form: the token is rendered afresh.
_NOT_CARRIED = frozenset({CONFIRM_FIELD, "csrf_token"})


@dataclass(frozen=True)
class Confirmation:
    """What an action will do, in the words the confirmation shows."""

    title: str
    consequences: Sequence[str]
    confirm_label: str
    cancel_url: str
    danger: bool = True
    # The way back; name it after what is kept when "Cancel" would be ambiguous ("Keep the session").
    cancel_label: str = "Cancel"
    # Extra fields to post with the confirmation (besides those the question was asked with).
    fields: dict[str, str] = field(default_factory=dict)


def confirmed() -> bool:
    """True when this request is the confirmed POST of the action."""
    return request.method == "POST" and request.form.get(CONFIRM_FIELD) == "yes"


def plural(count: int, singular: str, many: str | None = None) -> str:
    """"1 note", "3 notes" (or the given plural)."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def ask(confirmation: Confirmation):
    """The confirmation page (or the dialog's partial); nothing of this request is saved."""
    discard_changes()
    source = request.form if request.method == "POST" else request.args
    carried = [(name, value) for name, value in source.items(multi=True) if name not in _NOT_CARRIED
               and name not in confirmation.fields]
    carried.extend(confirmation.fields.items())
    dialog = request.headers.get(DIALOG_HEADER) == "1"
    template = "_confirm.html" if dialog else "confirm.html"
    return render_template(template, confirmation=confirmation, action=request.path, carried=carried,
                           in_dialog=dialog)
