"""Fixtures shared by the observe tests (imported by each test module that needs them)."""

from __future__ import annotations

import time

import pytest

from usabtest.observe import events, live


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


@pytest.fixture
def streams_closed(app):
    """Register browser contexts to close; after the test, wait for every live stream to end.

    A stream still polling after the test would open database connections on an engine that the
    `app` fixture has already disposed of. Use with a short OBSERVE_HEARTBEAT_SECONDS, which is how
    soon a stream notices its client has gone.
    """
    contexts = []
    yield contexts.append
    for context in contexts:
        context.close()
    wait_for_streams_to_end()


def wait_for_streams_to_end(timeout: float = 10) -> None:
    """Block until this process serves no live stream (or fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while events.open_streams() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events.open_streams() == 0, "a live stream is still running"
    # The watcher may still be finishing a query for the last stream: its connection must be back
    # before the test's engine is disposed, or the connection is left open for the collector.
    assert live.wait_until_idle(timeout), "the live watcher is still reading"
