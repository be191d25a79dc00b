"""Fixtures shared by the observe tests (imported by each test module that needs them)."""

from __future__ import annotations

import pytest


@pytest.fixture
def login(login, client):
    """Sign in like conftest's `login` (replacing whoever was signed in) and send the CSRF header.

    The API checks CSRF on every cookie-authenticated write, even when form CSRF is off in tests.
    """

    def _login(user, on=None, **kwargs):
        target = on or client
        target.delete_cookie("session")  # switching users: the sign-in page ignores a signed-in visitor
        target = login(user, on=target, **kwargs)
        token = target.get("/api/v1/csrf").get_json()["csrf_token"]
        target.environ_base["HTTP_X_CSRFTOKEN"] = token
        return target

    return _login
