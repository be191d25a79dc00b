"""The process's live watcher: streams capped per user, ended with their user's sign-in, and one
query loop for all of them, however many are open."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import wait_for_streams_to_end
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role
from usabtest.api import observe as observe_api
from usabtest.extensions import db as _db
from usabtest.observe import events, live
from usabtest.observe.models import SessionEvent

# Quick polls and keep-alives: a closed stream is noticed at its next keep-alive.
FAST = {"OBSERVE_POLL_SECONDS": 0.05, "OBSERVE_HEARTBEAT_SECONDS": 0.2}
pytestmark = [pytest.mark.committed, pytest.mark.config(**FAST)]


class _Stream:
    """One event stream read on a raw socket; `text` grows as bytes arrive, `ended` when it closes."""

    def __init__(self, base: str, session_id: int, token: str):
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(f"GET /api/v1/sessions/{session_id}/stream HTTP/1.0\r\nHost: {host}\r\n"
                          f"Authorization: Bearer {token}\r\n\r\n".encode())
        self.text = ""
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.text += chunk.decode()
        except OSError:
            pass
        self.ended.set()

    def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text and time.monotonic() < deadline:
            time.sleep(0.02)
        assert text in self.text, self.text[-500:]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def streams(live_server):
    opened: list[_Stream] = []

    def _open(session_id: int, token: str) -> _Stream:
        stream = _Stream(live_server, session_id, token)
        stream.wait_for(": connected")
        opened.append(stream)
        return stream

    yield _open
    for stream in opened:
        stream.close()
    wait_for_streams_to_end()


@pytest.mark.config(**FAST, OBSERVE_STREAMS_PER_USER=2)
def test_a_third_stream_of_one_user_ends_the_oldest(db, make_user, make_session, streams):
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    token = account_services.issue_token(observer)
    db.session.commit()
    first = streams(study_session.id, token)
    second = streams(study_session.id, token)
    third = streams(study_session.id, token)
    first.wait_for(": closed, replaced by a newer stream")
    assert first.ended.wait(5)
    assert not second.ended.is_set() and not third.ended.is_set()


@pytest.mark.parametrize("change, reason", [
    (account_services.revoke_sessions, "signed out"),
    (lambda user: setattr(user, "active", False), "account deactivated"),
])
def test_a_stream_ends_when_its_user_signs_out_or_is_deactivated(db, make_user, make_session, streams,
                                                                 change, reason):
    observer, colleague = make_user(Role.OBSERVER), make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer, colleague])
    token, other_token = account_services.issue_token(observer), account_services.issue_token(colleague)
    db.session.commit()
    mine, theirs = streams(study_session.id, token), streams(study_session.id, other_token)
    db.session.rollback()  # a fresh snapshot: on SQLite the streams' sign-ins wrote since the last one
    change(observer)
    db.session.commit()
    mine.wait_for(f": closed, {reason}", timeout=live.USER_CHECK_SECONDS + 5)
    assert mine.ended.wait(5)
    assert not theirs.ended.is_set()


def test_idle_streams_share_one_query_loop_per_process(app, db, make_user, make_session, streams):
    observers = [make_user(Role.OBSERVER) for _ in range(4)]
    study_sessions = [make_session(observers=observers) for _ in range(3)]
    tokens = [account_services.issue_token(user) for user in observers]
    db.session.commit()
    statements: list[tuple[str, str]] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append((threading.current_thread().name, statement))

    for token in tokens:
        for study_session in study_sessions:
            streams(study_session.id, token)
    time.sleep(0.5)  # each stream reads its history once as it starts
    # Every engine's statements: the app's, and the watcher's own (`live.reader_engine`).
    sa.event.listen(sa.Engine, "before_cursor_execute", count)
    try:
        time.sleep(1.0)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", count)
    # 12 idle streams polling every 0.05 s each would make about 240 queries in that second; the
    # process's watcher makes one every 0.05 s (fewer on a busy machine), the streams none.
    event_reads = [thread for thread, text in statements if "session_event" in text]
    assert 2 <= event_reads.count("usabtest-live") <= 21, event_reads
    assert set(event_reads) == {"usabtest-live"}


@pytest.mark.config(OBSERVE_POLL_SECONDS=30, OBSERVE_HEARTBEAT_SECONDS=0.2)
def test_a_note_reaches_the_streams_of_its_own_process_without_waiting_for_the_poll(
        db, live_server, make_user, make_session, streams):
    observer, writer = make_user(Role.OBSERVER), make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer, writer])
    tokens = account_services.issue_token(observer), account_services.issue_token(writer)
    db.session.commit()
    stream = streams(study_session.id, tokens[0])
    time.sleep(0.3)  # the watcher has made its first look and now waits out the 30 s poll
    posted = time.monotonic()
    request = urllib.request.Request(
        f"{live_server}/api/v1/sessions/{study_session.id}/notes", method="POST",
        data=json.dumps({"id": str(uuid.uuid4()), "body": "Heard at once"}).encode(),
        headers={"Authorization": f"Bearer {tokens[1]}", "Content-Type": "application/json"})
    assert urllib.request.urlopen(request, timeout=10).status == 201
    stream.wait_for("Heard at once", timeout=5)
    assert time.monotonic() - posted < 5  # not the 30 s poll: the commit woke this process's watcher


# --- delivery in batches: the watcher's reads and each stream's writes grow with bursts, not events


class _Reader:
    """A stream's body read in a thread, as the server sends it: each chunk is one socket write."""

    def __init__(self, hub: live.LiveHub, session_id: int, user, expected: int, after: int = 0,
                 lifetime: float = 20):
        self.expected = expected
        self.chunks: list[tuple[float, str]] = []
        self.finished = threading.Event()
        body = live.stream(hub, session_id, user, after, heartbeat=0.2, lifetime=lifetime)
        threading.Thread(target=self._read, args=(body,), daemon=True).start()
        deadline = time.monotonic() + 10
        while not self.chunks and time.monotonic() < deadline:  # ": connected": it has joined the hub
            time.sleep(0.01)

    def _read(self, body) -> None:
        try:
            for chunk in body:
                self.chunks.append((time.monotonic(), chunk))
                if len(self.events()) >= self.expected:
                    break
        finally:
            body.close()
            self.finished.set()

    def events(self) -> list[dict]:
        return [json.loads(line.removeprefix("data: ")) for _at, chunk in list(self.chunks)
                for line in chunk.splitlines() if line.startswith("data: ")]

    def event_writes(self) -> list[float]:
        """When each chunk carrying events was sent."""
        return [at for at, chunk in list(self.chunks) if "\ndata: " in chunk]

    def wait(self, timeout: float = 10) -> None:
        assert self.finished.wait(timeout), f"{len(self.events())} of {self.expected} events arrived"


@pytest.fixture
def hub(db):
    """This process's hub with a 30 s poll: only commits wake it during a test."""
    yield live.hub_for(db.engine, poll=30, redis_url=None, per_user=8)
    wait_for_streams_to_end()


@pytest.fixture
def watcher_reads(monkeypatch) -> list[float]:
    """When the watcher read a session's events (streams reading history are not counted)."""
    reads: list[float] = []
    read_many = events.read_many

    def counted(*args, **kwargs):
        if threading.current_thread().name == "usabtest-live":
            reads.append(time.monotonic())
        return read_many(*args, **kwargs)

    monkeypatch.setattr(events, "read_many", counted)
    return reads


def _commit_events(study_session, count: int, pause: float = 0.0) -> None:
    for number in range(count):
        events.append(study_session, "probe", {"n": number}, None)
        if pause:
            _db.session.commit()
            time.sleep(pause)
    _db.session.commit()


def test_a_burst_within_the_read_window_is_read_and_sent_in_two_goes(
        db, make_user, make_session, hub, watcher_reads, monkeypatch):
    monkeypatch.setattr(live, "READ_WINDOW_SECONDS", 0.6)  # wide enough for a loaded machine
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    reader = _Reader(hub, study_session.id, observer, expected=10)
    _commit_events(study_session, 10, pause=0.02)
    reader.wait()
    assert [event["n"] for event in reader.events()] == list(range(10))
    # The first commit is read at once; the nine that follow within the window in one more read.
    # A read per commit would make ten reads and ten writes.
    assert 2 <= len(watcher_reads) <= 3, watcher_reads
    assert 2 <= len(reader.event_writes()) <= 3


def test_the_watcher_wakes_a_waiting_stream_for_its_keep_alives_and_its_end(db, make_user, make_session, hub):
    # A stream waits for its session's batches without a timer of its own (`LiveHub.wait`): with
    # no event and no poll (30 s), only the watcher can wake it, every 0.2 s, then at 1 s to end.
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    db.session.commit()
    started = time.monotonic()
    reader = _Reader(hub, study_session.id, observer, expected=1, lifetime=1.0)
    reader.wait(timeout=5)
    keep_alives = [at - started for at, chunk in reader.chunks if chunk == ": keep-alive\n\n"]
    assert 3 <= len(keep_alives) <= 5, keep_alives
    gaps = [later - earlier for earlier, later in zip(keep_alives, keep_alives[1:], strict=False)]
    assert all(0.15 < gap < 0.6 for gap in gaps), keep_alives
    assert 1.0 <= time.monotonic() - started < 2.5


def test_a_lone_event_after_a_quiet_spell_arrives_at_once(db, make_user, make_session, hub, monkeypatch):
    monkeypatch.setattr(live, "READ_WINDOW_SECONDS", 1.0)
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    reader = _Reader(hub, study_session.id, observer, expected=2)
    for sent in (1, 2):  # the stream's first event, then one after the window has passed
        if sent == 2:
            time.sleep(1.1)
        committed = time.monotonic()
        _commit_events(study_session, 1)
        deadline = committed + 5
        while len(reader.event_writes()) < sent and time.monotonic() < deadline:
            time.sleep(0.005)
        assert reader.event_writes()[sent - 1] - committed < 0.5  # not held back for the window
    reader.wait()


@pytest.mark.parametrize("window", [live.READ_WINDOW_SECONDS, 0.3])
def test_a_burst_larger_than_a_batch_arrives_whole_once_and_in_order(
        db, make_user, make_session, hub, monkeypatch, window):
    monkeypatch.setattr(live, "READ_WINDOW_SECONDS", window)
    monkeypatch.setattr(live, "RECENT_EVENTS", 100)  # fewer kept than a batch: streams read the log too
    watching, late = make_user(Role.OBSERVER), make_user(Role.OBSERVER)
    study_session = make_session(observers=[watching, late])
    total = events.BATCH + 60
    reader = _Reader(hub, study_session.id, watching, expected=total)
    _commit_events(study_session, events.BATCH + 50)  # one transaction: more than one read holds
    _commit_events(study_session, 10, pause=0.005)
    behind = _Reader(hub, study_session.id, late, expected=total)  # starts from the first event
    reader.wait()
    behind.wait()
    stored = db.session.scalars(sa.select(SessionEvent.id).where(SessionEvent.session_id == study_session.id)
                                .order_by(SessionEvent.id)).all()
    assert len(stored) == total
    for stream in (reader, behind):
        assert [event["id"] for event in stream.events()] == stored
        assert len(stream.event_writes()) < 15  # batches, not one write per event


def test_streams_starting_behind_read_the_log_a_few_at_a_time(db, make_user, make_session, hub,
                                                              monkeypatch):
    # Hundreds of consoles reconnecting at once must leave pooled connections for note writes.
    monkeypatch.setattr(hub, "history_reads", threading.BoundedSemaphore(2))
    monkeypatch.setattr(live, "RECENT_EVENTS", 5)  # fewer kept than the history: each reads the log
    observers = [make_user(Role.OBSERVER) for _ in range(6)]
    study_session = make_session(observers=observers)
    _commit_events(study_session, 30)
    reading, most = 0, 0
    lock = threading.Lock()
    from_the_log = live._from_the_log

    def counted(*args):
        nonlocal reading, most
        with lock:
            reading += 1
            most = max(most, reading)
        time.sleep(0.05)  # long enough for the streams' reads to overlap if nothing held them back
        try:
            return from_the_log(*args)
        finally:
            with lock:
                reading -= 1

    monkeypatch.setattr(live, "_from_the_log", counted)
    readers = [_Reader(hub, study_session.id, observer, expected=30) for observer in observers]
    for reader in readers:
        reader.wait()
        assert [event["n"] for event in reader.events()] == list(range(30))
    assert most == 2


@pytest.mark.config(**FAST, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 2, "max_overflow": 0})
def test_the_watcher_delivers_while_requests_hold_every_pooled_connection(db, make_user, make_session, hub):
    observer = make_user(Role.OBSERVER)
    session_id = make_session(observers=[observer]).id
    cursor = events.last_event_id(db.session, session_id)
    reader = _Reader(hub, session_id, observer, expected=1, after=cursor)
    db.session.commit()
    # Requests at saturation hold the whole pool of the app's engine (two here); one of them writes.
    held = [db.engine.connect() for _ in range(2)]
    try:
        events.insert_event(held[0], session_id, "probe", {"n": 1})
        held[0].commit()
        events.wake_now(session_id, None)
        reader.wait(timeout=5)  # sharing the app's pool, the watcher would wait out its 30 s timeout
        assert [event["n"] for event in reader.events()] == [1]
        assert db.engine.pool.checkedout() == 2
    finally:
        for connection in held:
            connection.close()


def test_sessions_woken_together_are_read_in_one_query(db, make_user, make_session, hub, monkeypatch):
    observer = make_user(Role.OBSERVER)
    study_sessions = [make_session(observers=[observer]) for _ in range(3)]
    readers = [_Reader(hub, study_session.id, observer, expected=1,
                       after=events.last_event_id(db.session, study_session.id))
               for study_session in study_sessions]
    reads: list[list[int]] = []
    read_many = events.read_many

    def counted(reader, cursors, *args, **kwargs):
        if threading.current_thread().name == "usabtest-live":
            reads.append(sorted(cursors))
        return read_many(reader, cursors, *args, **kwargs)

    monkeypatch.setattr(events, "read_many", counted)
    for study_session in study_sessions:  # one transaction: its commit wakes the three at once
        events.append(study_session, "probe", {"n": study_session.id}, None)
    db.session.commit()
    for reader, study_session in zip(readers, study_sessions, strict=True):
        reader.wait()
        assert [event["n"] for event in reader.events()] == [study_session.id]
    # One read for the three (two when the watcher woke between the first wake-up and the others),
    # where it made one read per session, one after another.
    assert sorted(sid for read in reads for sid in read) == sorted(s.id for s in study_sessions)
    assert len(reads) <= 2, reads


def test_the_watchers_queries_stay_within_the_statement_cache_however_many_watch(hub, monkeypatch):
    monkeypatch.setattr(hub, "_by_user", {user_id: [] for user_id in range(1, 301)})
    monkeypatch.setattr(hub, "_users_checked", 0.0)
    statements: list[str] = []
    listener = lambda _conn, _cursor, statement, *_args: statements.append(statement)  # noqa: E731
    sa.event.listen(hub.reader, "before_cursor_execute", listener)
    try:
        with hub.reader.connect() as connection:
            hub._check_users(connection)
            hub._sessions_with_news(connection, dict.fromkeys(range(1, 301), 0))
    finally:
        sa.event.remove(hub.reader, "before_cursor_execute", listener)
    # Three users' and three sessions' lists (and SQLite's BEGIN): one of 300 ids ran past the cache
    # on PostgreSQL.
    assert len([statement for statement in statements if " IN (" in statement]) == 6
    assert all(len(statement.encode()) <= observe_api.STATEMENT_CACHE_LIMIT for statement in statements)


@pytest.mark.committed
def test_the_poll_reads_the_news_in_one_statement_on_postgresql(db, hub, make_user, make_session):
    observer = make_user(Role.OBSERVER)
    quiet, busy = make_session(observers=[observer]), make_session(observers=[observer])
    db.session.commit()
    subscriptions = [hub.subscribe(s.id, observer.id, observer.session_version) for s in (quiet, busy)]
    try:
        time.sleep(0.3)  # the watcher's first look is done; it now waits out the 30 s poll
        with db.engine.begin() as connection:  # written behind the hub's back: no commit wakes it
            connection.execute(sa.insert(SessionEvent.__table__).values(
                session_id=busy.id, kind="probe", payload={"n": 1}, created_at=datetime.now(UTC)))
        feeds = {s.id: hub._feeds[s.id] for s in (quiet, busy)}
        read_before = {sid: feed.read_at for sid, feed in feeds.items()}
        watched = {sid: feed.last_id for sid, feed in feeds.items()}
        statements: list[str] = []
        listener = lambda _conn, _cursor, statement, *_args: statements.append(statement)  # noqa: E731
        sa.event.listen(hub.reader, "before_cursor_execute", listener)
        try:
            with hub.reader.connect() as connection:
                news, polled = hub._poll(connection, watched, set())
                hub._read(connection, news, polled)
        finally:
            sa.event.remove(hub.reader, "before_cursor_execute", listener)
    finally:
        for subscription in subscriptions:
            hub.unsubscribe(subscription)
    assert '"n":1' in "".join(text for _id, text in feeds[busy.id].kept.items)
    # PostgreSQL reads every watched session in the read itself; elsewhere the news are looked up first.
    event_statements = [statement for statement in statements if "session_event" in statement]
    assert len(event_statements) == (1 if db.engine.dialect.name == "postgresql" else 2)
    # A quiet session read along by the poll keeps its read window open for the next note.
    assert feeds[quiet.id].read_at == read_before[quiet.id]
    assert feeds[busy.id].read_at > read_before[busy.id]
