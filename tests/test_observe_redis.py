"""With Redis configured, a committed note wakes every process's waiting streams at once."""

import os
import socket
import threading
import time
import uuid

import pytest
import redis as redis_lib

from tests.conftest import IN_CI
from tests.observe_fixtures import wait_for_streams_to_end
from usabtest.accounts.models import Role
from usabtest.observe import events, live

REDIS_URL = os.environ.get("USABTEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_channel_listener():
    """A Redis pub/sub connection; skipped locally without Redis, a failure in CI."""
    client = redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis_lib.ConnectionError:
        if IN_CI:
            pytest.fail(f"Redis is not answering at {REDIS_URL}")
        pytest.skip(f"Redis is not answering at {REDIS_URL}")
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    yield pubsub
    pubsub.close()
    client.close()


def _next_message(pubsub, timeout=2.0):
    return pubsub.get_message(timeout=timeout)


def test_note_commit_publishes_a_wake_up_and_rollback_does_not(app, client, make_user, make_session,
                                                               login, redis_channel_listener):
    app.config["REDIS_URL"] = REDIS_URL
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    redis_channel_listener.subscribe(events.channel(study_session.id, REDIS_URL))
    _next_message(redis_channel_listener, 0.2)  # drain the subscription confirmation
    login(observer)

    refused = client.post(f"/api/v1/sessions/{study_session.id}/notes",
                          json={"id": str(uuid.uuid4()), "body": "", "severity": 9})
    assert refused.status_code in (400, 422)
    assert _next_message(redis_channel_listener, 0.5) is None

    created = client.post(f"/api/v1/sessions/{study_session.id}/notes",
                          json={"id": str(uuid.uuid4()), "body": "Hesitated at the coupon box"})
    assert created.status_code == 201
    message = _next_message(redis_channel_listener)
    assert message is not None and message["channel"].decode() == events.channel(study_session.id, REDIS_URL)


@pytest.mark.committed
def test_a_process_reads_again_for_other_processes_wake_ups_not_its_own(
        db, make_user, make_session, redis_channel_listener, monkeypatch):
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    reads: list[str] = []
    read_many = events.read_many

    def counted(*args, **kwargs):
        reads.append(threading.current_thread().name)
        return read_many(*args, **kwargs)

    monkeypatch.setattr(events, "read_many", counted)
    hub = live.hub_for(db.engine, poll=30, redis_url=REDIS_URL, per_user=8)
    body = live.stream(hub, study_session.id, observer, 0, heartbeat=0.2, lifetime=3)
    assert next(body).endswith(": connected\n\n")
    publisher = redis_lib.Redis.from_url(REDIS_URL)
    try:
        _heard_from_another_process(publisher, study_session.id, reads)  # the hub listens now
        time.sleep(2 * live.READ_WINDOW_SECONDS)
        reads.clear()
        # Its own commit woke this process at commit: the message it published is nothing new.
        publisher.publish(events.channel(study_session.id, REDIS_URL), events.origin())
        time.sleep(0.3)
        assert "usabtest-live" not in reads
        _heard_from_another_process(publisher, study_session.id, reads)  # and others' it hears
    finally:
        publisher.close()
        body.close()
        wait_for_streams_to_end()


def _heard_from_another_process(publisher, session_id: int, reads: list[str]) -> None:
    """Publish as another process would until the watcher reads (its subscription takes a moment)."""
    deadline = time.monotonic() + 5
    while "usabtest-live" not in reads and time.monotonic() < deadline:
        publisher.publish(events.channel(session_id, REDIS_URL), b"another process")
        time.sleep(0.2)
    assert "usabtest-live" in reads


def test_deployments_on_other_redis_databases_do_not_wake_each_other():
    # Redis shares publish/subscribe across its database numbers; the channel name must not.
    assert events.channel(7, "redis://127.0.0.1:6379/14") != events.channel(7, "redis://127.0.0.1:6379/15")
    assert events.channel(7, "redis://cache.internal") == events.channel(7, "redis://cache.internal/0")


def test_a_burst_of_wake_ups_goes_to_redis_as_a_few_messages(redis_channel_listener):
    # Ids no test database has: nothing but the messages is looked at.
    session_ids = [990_001, 990_002, 990_003]
    redis_channel_listener.psubscribe(events.channel("99000*", REDIS_URL))
    _next_message(redis_channel_listener, 0.2)  # the subscription confirmation
    for _ in range(100):
        for session_id in session_ids:
            events.wake_now(session_id, REDIS_URL)
    heard: list[str] = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        message = _next_message(redis_channel_listener, 0.1)
        if message is not None:
            heard.append(message["channel"].decode())
    # Every woken session is announced, with this process as the sender; 300 wake-ups made 300
    # publishes (a round trip each, on the note's request) before they were gathered.
    assert set(heard) == {events.channel(session_id, REDIS_URL) for session_id in session_ids}
    assert len(heard) <= 15, len(heard)


def test_a_redis_that_does_not_answer_neither_delays_nor_fails_a_note(
        app, client, make_user, make_session, login, caplog, monkeypatch):
    monkeypatch.setattr(events.log, "disabled", False)  # a migration's logging setup disables it
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    login(observer)
    try:
        began = time.monotonic()
        created = client.post(f"/api/v1/sessions/{study_session.id}/notes",
                              json={"id": str(uuid.uuid4()), "body": "Stored whatever Redis does"})
        took = time.monotonic() - began
        assert created.status_code == 201
        assert took < 0.8  # publishing on the request would wait out the client's 1 s timeout
        deadline = time.monotonic() + 5
        while "could not publish" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "could not publish live wake-ups to Redis" in caplog.text
    finally:
        silent.close()
    assert client.get(f"/api/v1/sessions/{study_session.id}/notes").get_json()["items"][0]["body"] == (
        "Stored whatever Redis does")
