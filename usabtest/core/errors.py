"""One error type for every refusal a person can act on, and the request's unit of work.

Services raise a `DomainError` subclass; the subclass carries the HTTP status, the instance the
user's message and, when one input is at fault, the field. Pages show it as a form or flash error,
the JSON API as `{"error": {"status", "message", "fields"}}`.

Each request is one transaction: the handler's work is committed once after it succeeds (a
response below 400) and rolled back otherwise. A page that catches a refusal and still answers
with a redirect calls `discard_changes()` so the half-made change is not committed.
"""

from __future__ import annotations

from typing import ClassVar

from flask import g

_DISCARD_KEY = "usabtest_discard_changes"
_KEEP_KEY = "usabtest_keep_changes"


class DomainError(Exception):
    """A refusal with a message for people, the HTTP status to answer with, and its fields."""

    status: ClassVar[int] = 422

    def __init__(self, message: str, field: str | None = None, *, status: int | None = None,
                 fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status  # type: ignore[misc]  # an instance may narrow its class's status
        self.fields = dict(fields or ({field: message} if field else {}))

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """The request's data breaks a rule (422)."""

    status = 422


class NotFound(DomainError):
    """The object does not exist, or is hidden from the caller (404)."""

    status = 404


class Forbidden(DomainError):
    """The caller may see the object but not do this to it (403)."""

    status = 403


class Conflict(DomainError):
    """The change clashes with the object's current state or another object (409)."""

    status = 409


def discard_changes() -> None:
    """Roll this request's work back even though it answers with a success status."""
    setattr(g, _DISCARD_KEY, True)


def changes_discarded() -> bool:
    """True when the request asked for its work to be rolled back."""
    return bool(g.get(_DISCARD_KEY, False))


def keep_changes() -> None:
    """Commit this request's work even though it answers with an error status.

    For records that must outlive a refusal, such as a failed sign-in that counts towards a lockout.
    """
    setattr(g, _KEEP_KEY, True)


def changes_kept() -> bool:
    """True when the request asked for its work to be committed whatever its status."""
    return bool(g.get(_KEEP_KEY, False))
