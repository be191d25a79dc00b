"""API of the accounts domain: who the request is authenticated as, and CSRF tokens for browsers."""

from __future__ import annotations

from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from usabtest.accounts.schemas import CsrfToken, Me
from usabtest.api import bp, reads, spec


@bp.get("/me")
@spec.validate(resp=reads(Me), tags=["accounts"])
def me():
    """The authenticated user (handy to check a token)."""
    return Me.of(current_user)


@bp.get("/csrf")
@spec.validate(resp=reads(CsrfToken), tags=["accounts"])
def csrf_token():
    """A fresh CSRF token for cookie-authenticated writes (a 401 tells a page its sign-in expired)."""
    return CsrfToken(csrf_token=generate_csrf())
