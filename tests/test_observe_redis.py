"""With Redis configured, a committed note wakes every process's waiting streams at once."""

import json
import os
import socket
import threading
import time
import uuid
from functools import partial
from types import SimpleNamespace

import pytest
import redis as redis_lib

from tests.conftest import IN_CI
from tests.observe_fixtures import wait_for_streams_to_end
from usabtest.accounts.models import Role
from usabtest.extensions import db as _db
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


def _heard_from_another_process(publish, reads: list[str]) -> None:
    """Publish as another process would until the watcher reads (its subscription takes a moment)."""
    deadline = time.monotonic() + 5
    while "usabtest-live" not in reads and time.monotonic() < deadline:
        publish(b"another process")
        time.sleep(0.2)
    assert "usabtest-live" in reads


@pytest.fixture
def watching(db, make_user, make_session, monkeypatch):
    """A hub announcing to Redis with one stream open on a new session, and the watcher's reads."""
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    db.session.commit()
    reads: list[str] = []
    read_many = events.read_many

    def counted(*args, **kwargs):
        reads.append(threading.current_thread().name)
        return read_many(*args, **kwargs)

    monkeypatch.setattr(events, "read_many", counted)
    hub = live.hub_for(db.engine, poll=30, redis_url=REDIS_URL, per_user=8)
    cursor = events.last_event_id(db.session, study_session.id)
    body = live.stream(hub, study_session.id, observer, cursor, heartbeat=0.1, lifetime=10)
    assert next(body).endswith(": connected\n\n")
    publisher = redis_lib.Redis.from_url(REDIS_URL)
    publish = partial(publisher.publish, events.channel(study_session.id, REDIS_URL))
    yield SimpleNamespace(study_session=study_session, body=body, cursor=cursor, reads=reads, publish=publish)
    publisher.close()
    body.close()
    wait_for_streams_to_end()


def _stream_until(body, text: str, timeout: float = 5) -> str:
    sent, deadline = "", time.monotonic() + timeout
    while text not in sent and time.monotonic() < deadline:
        sent += next(body)  # a keep-alive every 0.1 s at the latest
    assert text in sent, sent
    return sent


@pytest.mark.committed
def test_a_process_reads_again_for_other_processes_wake_ups_not_its_own(watching, redis_channel_listener):
    _heard_from_another_process(watching.publish, watching.reads)  # the hub listens now
    time.sleep(2 * live.READ_WINDOW_SECONDS)
    watching.reads.clear()
    # Its own commit woke this process at commit: the message it published is nothing new.
    watching.publish(events.origin())
    time.sleep(0.3)
    assert "usabtest-live" not in watching.reads
    _heard_from_another_process(watching.publish, watching.reads)  # and others' it hears


@pytest.mark.committed
def test_a_batch_another_process_read_reaches_the_streams_without_reading_the_log(
        watching, redis_channel_listener):
    _heard_from_another_process(watching.publish, watching.reads)  # the hub listens now
    time.sleep(2 * live.READ_WINDOW_SECONDS)
    watching.reads.clear()
    text = f"id: {watching.cursor + 1}\ndata: {{\"kind\":\"probe\",\"from\":\"elsewhere\"}}\n\n"
    batch = json.dumps([[watching.cursor + 1, text]]).encode()
    watching.publish(b"another process\n%d\n%s" % (watching.cursor, batch))
    _stream_until(watching.body, text)
    assert "usabtest-live" not in watching.reads


@pytest.mark.committed
def test_a_batch_starting_after_events_not_seen_here_makes_the_process_read_the_log(db, watching,
                                                                                     redis_channel_listener):
    _heard_from_another_process(watching.publish, watching.reads)
    with db.engine.begin() as connection:  # another process's note: no wake-up in this one
        events.insert_event(connection, watching.study_session.id, "probe", {"n": 41})
    watching.publish(b"another process\n%d\n[]" % (watching.cursor + 10**9))
    _stream_until(watching.body, '"n":41')


@pytest.mark.committed
def test_a_process_watching_a_session_publishes_what_it_read_of_its_own_commit(watching,
                                                                              redis_channel_listener):
    redis_channel_listener.subscribe(events.channel(watching.study_session.id, REDIS_URL))
    _next_message(redis_channel_listener, 0.2)  # the subscription confirmation
    events.append(watching.study_session, "probe", {"n": 7}, REDIS_URL)
    _db.session.commit()
    _stream_until(watching.body, '"n":7')
    message = _next_message(redis_channel_listener)
    assert message is not None
    sender, cursor, body = message["data"].split(b"\n", 2)
    assert sender == events.origin() and int(cursor) == watching.cursor
    [[event_id, text]] = json.loads(body)
    assert event_id > watching.cursor and '"n":7' in text
    assert _next_message(redis_channel_listener, 0.3) is None  # and no plain wake-up besides


def test_a_batch_arriving_before_the_events_it_follows_waits_for_them():
    # Under load this process's own read of notes 11-12 often ends after the other's batch of 13.
    feed = live._SessionFeed(last_id=10)
    assert not feed.extend(12, [(13, "c")])
    feed.stash(12, [(13, "c")])
    assert feed.extend(10, [(11, "a"), (12, "b")])
    assert [event_id for event_id, _text in feed.kept.items] == [11, 12, 13] and not feed.stashed
    assert feed.after(10).text == "abc"
    feed.stash(500, [(501, "not in the log")])  # a lost message, or no batch at all
    feed.drop_stashed_before(time.monotonic())
    assert not feed.stashed and feed.last_id == 13


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
