"""Showing a service's refusal on the page form that asked for the change."""

from __future__ import annotations

from flask_wtf import FlaskForm

from usabtest.core.errors import DomainError


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
