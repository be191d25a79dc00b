"""Live delivery: one watcher per process reads the event log for all of the process's streams.

A stream costs no query of its own while it waits, and no thread under the production gevent
worker (it is a greenlet parked on an event). The process's watcher asks the database which of
the watched sessions have new events (one query per poll interval, whatever the number of
streams) or hears it from Redis at once; it reads each such session's new events once, renders
them once, keeps the recent ones, and wakes that session's streams, which send them on. A stream
that starts further back reads its history itself, once, before it joins. With Redis, the process
that read a batch publishes it, rendered, and the other processes watching that session keep it
as if they had read it: a note is read from the log once, not once per process.

Delivery costs batches, not notes: a woken session is read at once, but at most once per
`READ_WINDOW_SECONDS`, so wake-ups during a burst are gathered into one read, and each stream
sends everything it has in one write.

The watcher also ends the streams of users who signed out, changed their password or were
deactivated, and a user's oldest stream in this process when they open more than the cap.
Events of one session commit in id order (see `events.lock_session`), so reading each session
after the last id seen never skips one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from usabtest.accounts.models import User
from usabtest.db import configure_server_pool, configure_sqlite
from usabtest.observe import events
from usabtest.observe.models import SessionEvent

log = logging.getLogger(__name__)

RECENT_EVENTS = 500  # kept per watched session for streams that are a little behind
USER_CHECK_SECONDS = 2.0  # how soon a stream ends after its user signs out or is deactivated
REDIS_FALLBACK_POLL_SECONDS = 5.0  # with Redis, the database is still asked now and then
# A session read less than this long ago waits out the rest before it is read again: the first
# note after a quiet spell is read at once, and in a busy session each read (and each stream's
# write) carries every event of the window. The window is added to a busy session's delivery
# delay: measured with bench/load_notes.py (docs/performance.md), 50 and 100 ms saved little more
# CPU than 25 ms but doubled and quadrupled the delay, and 25 ms leaves half of the 50 ms goal
# with Redis for the read and the fan-out.
READ_WINDOW_SECONDS = 0.025
# Streams that start further back than the kept events read the log themselves; when hundreds of
# consoles reconnect at once, this many at a time per process, so that their reads cannot take every
# pooled connection from note writes and page requests (nor make them wait out the pool's timeout).
HISTORY_READS = 4
# A batch from another process that waits for earlier events (`_SessionFeed.stash`) waits this long
# at most before the log is read instead (checked every `USER_CHECK_SECONDS` at the latest).
STASH_SECONDS = 0.5
# Ids per IN list in the watcher's queries: psycopg converts a statement's placeholders once and
# keeps the result for statements up to 4,096 bytes (`api.observe.STATEMENT_CACHE_LIMIT`), and the
# users of 500 streams in one list made a longer one, converted anew at every check: 4 % of a
# worker's CPU in a profile with 500 streams of 260 users at 10 writers.
IN_LIST_IDS = 100
# The watcher's own connections (`reader_engine`) are pinged before use after this long idle, as
# the app's are (`Config.DATABASE_PING_IDLE_SECONDS`); the watcher uses one every poll.
READER_PING_IDLE_SECONDS = 5.0


@dataclass(eq=False)
class Subscription:
    """One open stream of one user on one session."""

    session_id: int
    user_id: int
    session_version: int
    feed: _SessionFeed | None = None  # its session's, from when it joins the hub
    due: float = float("inf")  # when it must be woken without news (a keep-alive, its end)
    ended: str | None = None  # why the server ends the stream ("signed out", "replaced", ...)

    def end(self, reason: str) -> None:
        """Ask the stream to finish after what it is sending now (the hub's lock held)."""
        self.ended = reason
        if self.feed is not None:
            self.feed.announce()


@dataclass(frozen=True)
class Pending:
    """What a stream has to send: the newest event's id, how many events, and their text joined."""

    last_id: int | None
    count: int
    text: str

    @classmethod
    def of(cls, batch: list[tuple[int, str]]) -> Pending:
        """`batch` ((id, SSE text) pairs, oldest first) as one write."""
        return cls(batch[-1][0] if batch else None, len(batch), "".join(text for _id, text in batch))


@dataclass(frozen=True)
class _Kept:
    """A session's kept events as they stood after one batch: streams read it without the hub's
    lock while the watcher makes the next one."""

    base: int  # every event after `base` is in `items` or was dropped from their front
    items: tuple[tuple[int, str], ...]  # (id, SSE text), oldest first
    # What `after` gave for this batch, by cursor: a session's streams are mostly at the same
    # cursor, so one text is joined per batch, not one per stream.
    joined: dict[int, Pending]


class _SessionFeed:
    """The recent events of one watched session, each rendered once for every stream.

    The session's streams wait on one event, `signal`, which the watcher sets (and replaces) once
    per batch: a batch costs one wake-up call, not one per stream, and a woken stream reads the
    batch from `kept` without taking the hub's lock, which hundreds of streams woken together
    otherwise queue for.
    """

    def __init__(self, last_id: int):
        self.last_id = last_id
        self.read_at = float("-inf")  # when the watcher last began reading this session
        self.kept = _Kept(last_id, (), {})
        self.subscribers: set[Subscription] = set()
        self.signal = threading.Event()
        self.stashed: list[tuple[float, int, list[tuple[int, str]]]] = []  # (when, cursor, items): `stash`

    def extend(self, cursor: int, items: list[tuple[int, str]]) -> bool:
        """Keep the events of a complete read of the log after `cursor` ((id, SSE text) pairs,
        oldest first), then the stashed batches that now follow on, and wake the streams (the hub's
        lock held); False when this feed has not reached `cursor`: the events between would be
        missing.

        Reads overlap (the watcher's own, and batches that other processes read and published), so
        only the events after the newest kept one are added: each read holds every event after its
        cursor, so nothing between is skipped.
        """
        if self.last_id < cursor:
            return False
        added: list[tuple[int, str]] = []
        self._follow(items, added)
        while ready := sorted((waiting for waiting in self.stashed if waiting[1] <= self.last_id),
                              key=lambda waiting: waiting[1]):
            self.stashed = [waiting for waiting in self.stashed if waiting[1] > self.last_id]
            for _at, _cursor, batch in ready:
                self._follow(batch, added)
        if added:
            items_now = self.kept.items + tuple(added)
            dropped = max(0, len(items_now) - RECENT_EVENTS)
            base = items_now[dropped - 1][0] if dropped else self.kept.base
            self.kept = _Kept(base, items_now[dropped:], {})
            self.announce()
        return True

    def _follow(self, batch: list[tuple[int, str]], added: list[tuple[int, str]]) -> None:
        """Add to `added` the events of `batch` after the newest kept or added."""
        for item in batch:
            if item[0] > self.last_id:
                added.append(item)
                self.last_id = item[0]

    def stash(self, cursor: int, items: list[tuple[int, str]]) -> None:
        """Hold a batch from another process that starts after events not yet kept here (the hub's
        lock held): they are on their way, in this process's own read or in an earlier batch, and
        `extend` adds it once they have arrived (the watcher reads the log if they do not)."""
        self.stashed.append((time.monotonic(), cursor, items))

    def drop_stashed_before(self, moment: float) -> None:
        """Forget the batches stashed before `moment`, when a read of the log began, that still do
        not follow on: that read held every event committed before they came, so they announce
        nothing this process lacks (and a batch that is no batch cannot wait forever)."""
        self.stashed = [waiting for waiting in self.stashed if waiting[0] >= moment]

    def announce(self) -> None:
        """Wake every stream of the session (the hub's lock held).

        A stream takes `signal` before it reads `kept`, and `extend` replaces `kept` before this
        replaces `signal`: a stream that read the batch before it was kept waits on the signal set
        here, so no batch is left unsent until the next one.
        """
        signal, self.signal = self.signal, threading.Event()
        signal.set()

    def after(self, cursor: int) -> Pending | None:
        """Events after `cursor`, or None when some of them are no longer kept here."""
        kept = self.kept
        if cursor < kept.base:
            return None
        pending = kept.joined.get(cursor)
        if pending is None:
            # From the newest back: a stream is usually a few events behind, and hundreds ask per read.
            newer = []
            for item in reversed(kept.items):
                if item[0] <= cursor:
                    break
                newer.append(item)
            newer.reverse()
            pending = kept.joined[cursor] = Pending.of(newer)
        return pending


class LiveHub:
    """The watcher of one process and one database: see the module's docstring."""

    def __init__(self, engine: sa.Engine, *, poll: float, redis_url: str | None, per_user: int):
        self.engine = engine  # the app's: a stream's first look at the log, as part of opening it
        self.reader = reader_engine(engine)  # the watcher's and the history reads'
        self.poll = poll
        self.redis_url = redis_url
        self.per_user = per_user
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._feeds: dict[int, _SessionFeed] = {}
        self._by_user: dict[int, list[Subscription]] = {}
        self._dirty: set[int] = set()
        self._watcher: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._users_checked = 0.0
        self._next_due = float("inf")  # no later than the earliest `Subscription.due` (maybe earlier)
        self._reading = False  # the watcher is between its wait and its next wait (queries)
        self.history_reads = threading.BoundedSemaphore(HISTORY_READS)

    # --- streams join and leave ------------------------------------------------------------------

    def subscribe(self, session_id: int, user_id: int, session_version: int) -> Subscription:
        """Watch `session_id` for a user; ends the user's oldest stream here beyond the cap."""
        subscription = Subscription(session_id, user_id, session_version)
        last_id: int | None = None
        while True:
            with self._lock:
                feed = self._feeds.get(session_id)
                if feed is None and last_id is not None:
                    feed = self._feeds[session_id] = _SessionFeed(last_id)
                if feed is not None:
                    feed.subscribers.add(subscription)
                    subscription.feed = feed
                    self._limit(self._by_user.setdefault(user_id, []), subscription)
                    self._start_threads()
                    self._changed.notify_all()
                    return subscription
            last_id = self._last_event_id(session_id)  # outside the lock: a query

    def _limit(self, mine: list[Subscription], subscription: Subscription) -> None:
        mine.append(subscription)
        while len([s for s in mine if s.ended is None]) > self.per_user:
            next(s for s in mine if s.ended is None).end("replaced by a newer stream")

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop watching for a stream that has finished."""
        with self._lock:
            feed = self._feeds.get(subscription.session_id)
            if feed is not None:
                feed.subscribers.discard(subscription)
                if not feed.subscribers:
                    del self._feeds[subscription.session_id]
            mine = self._by_user.get(subscription.user_id, [])
            if subscription in mine:
                mine.remove(subscription)
            if not mine:
                self._by_user.pop(subscription.user_id, None)
            self._changed.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until no stream is watched and the watcher holds no connection (before an engine
        is disposed, as tests do); False when `timeout` passed first."""
        with self._lock:
            return self._changed.wait_for(lambda: not self._feeds and not self._reading, timeout)

    # --- the watcher -----------------------------------------------------------------------------

    def _start_threads(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, name="usabtest-live", daemon=True)
            self._watcher.start()
        if self.redis_url and (self._listener is None or not self._listener.is_alive()):
            self._listener = threading.Thread(target=self._listen, name="usabtest-live-redis", daemon=True)
            self._listener.start()

    def _watch(self) -> None:
        last_full_check = 0.0
        while True:
            interval = REDIS_FALLBACK_POLL_SECONDS if self.redis_url else self.poll
            with self._lock:
                self._reading = False
                self._changed.notify_all()
                while not self._feeds:
                    self._changed.wait()
                self._reading = True
                next_check = min(last_full_check + interval, self._users_checked + USER_CHECK_SECONDS)
                due = self._wait_for_due(next_check)
                due |= self._stashed_too_long()
                self._wake_due_streams()
                watched = {sid: feed.last_id for sid, feed in self._feeds.items()}
            now = time.monotonic()
            full_check = now - last_full_check >= interval
            if not watched or not (due or full_check or now - self._users_checked >= USER_CHECK_SECONDS):
                continue
            if self.redis_url:  # a commit here woke a session whose streams have all gone meanwhile
                for session_id in due - watched.keys():
                    events.relay(self.redis_url, session_id)
            try:
                with self.reader.connect() as connection:
                    polled: set[int] = set()
                    if full_check:
                        last_full_check = now
                        news, polled = self._poll(connection, watched, due)
                        due |= news
                    self._read(connection, due & watched.keys(), polled)
                    self._check_users(connection)
            except Exception as exc:  # a stream waits for the watcher alone: it must go on
                log.warning("live watcher could not read the database: %s", exc,
                            exc_info=not isinstance(exc, sa.exc.SQLAlchemyError))
                time.sleep(interval)

    def _wait_for_due(self, until: float) -> set[int]:
        """Wait (lock held) until a woken session may be read again, a stream is due to be woken,
        or `until`; take the sessions to read.

        A session woken within `READ_WINDOW_SECONDS` of its last read stays in `_dirty` until the
        window has passed: the wake-ups arriving meanwhile are then answered by that one read.
        """
        while True:
            now = time.monotonic()
            limit = min(until, self._next_due)
            ready_at = {sid: self._feeds[sid].read_at + READ_WINDOW_SECONDS if sid in self._feeds else now
                        for sid in self._dirty}
            due = {sid for sid, moment in ready_at.items() if moment <= now}
            if due or now >= limit or not self._feeds:
                self._dirty -= due
                return due
            self._changed.wait(min([limit, *ready_at.values()]) - now)

    def _stashed_too_long(self) -> set[int]:
        """Sessions whose stashed batches still miss events after `STASH_SECONDS` (lock held): a
        message was lost, and the log is read instead."""
        late = time.monotonic() - STASH_SECONDS
        return {sid for sid, feed in self._feeds.items() if feed.stashed and feed.stashed[0][0] < late}

    def wait(self, subscription: Subscription, signal: threading.Event, due: float) -> None:
        """Let a stream wait for its session's next batch (`signal`), or until `due`
        (`time.monotonic()`), when the watcher wakes it.

        The stream waits without a timeout of its own: under gevent, a timer made, started and
        closed for every wait was a third of a stream's CPU per batch
        (`bench/bench_fanout.py`). The watcher wakes the streams whose moment has come instead.
        """
        subscription.due = due
        if due < self._next_due:
            with self._lock:
                if due < self._next_due:
                    self._next_due = due
                    self._changed.notify_all()
        signal.wait()

    def _wake_due_streams(self) -> None:
        """Wake the sessions of the streams whose `due` has passed (lock held)."""
        now = time.monotonic()
        if now < self._next_due:
            return
        next_due = float("inf")
        for feed in self._feeds.values():
            woken = False
            for subscription in feed.subscribers:
                if subscription.due <= now:
                    woken = True
                else:
                    next_due = min(next_due, subscription.due)
            if woken:
                feed.announce()
        self._next_due = next_due

    def _poll(self, connection: sa.Connection, watched: dict[int, int],
              due: set[int]) -> tuple[set[int], set[int]]:
        """The poll: the sessions found to have news, and those to read along with the due ones.
        On PostgreSQL, where one statement reads the events of any number of sessions, every
        watched session is read along (one round trip instead of a query for the sessions with news
        and then the read); elsewhere the sessions with news are looked up first."""
        if connection.dialect.name == "postgresql":
            return set(), watched.keys() - due
        return self._sessions_with_news(connection, watched), set()

    def _sessions_with_news(self, connection: sa.Connection, watched: dict[int, int]) -> set[int]:
        newest = [row for ids in _in_lists(watched) for row in connection.execute(
            sa.select(SessionEvent.session_id, sa.func.max(SessionEvent.id))
            .where(SessionEvent.session_id.in_(ids)).group_by(SessionEvent.session_id))]
        return {session_id for session_id, last in newest if last > watched[session_id]}

    def _read(self, connection: sa.Connection, session_ids: set[int],
              polled: AbstractSet[int] = frozenset()) -> None:
        """Read the new events of the sessions, all in one round trip (`events.read_many`): under
        load a read waits for the database, and reading them one after another made the last
        session of a round wait for all the others' reads. A session whose read filled a batch is
        read again. With Redis, each batch read is published as read, so that the other processes
        watching the session add it without reading the log themselves (`_take`).

        The `polled` sessions are read along by the poll (on PostgreSQL, one statement instead of a
        query for the sessions with news and then the read): their read starts the read window only
        when it found events, so a note written just after a quiet poll is still read at once."""
        while session_ids or polled:
            with self._lock:
                feeds = {sid: self._feeds[sid] for sid in session_ids | polled if sid in self._feeds}
                cursors = {sid: feed.last_id for sid, feed in feeds.items()}
                now = time.monotonic()
                for sid in session_ids & feeds.keys():
                    feeds[sid].read_at = now
            if not cursors:
                return
            batches = events.read_many(connection, cursors)
            rendered = {sid: [(event["id"], events.sse_format(event)) for event in batch]
                        for sid, batch in batches.items()}
            with self._lock:
                for session_id, items in rendered.items():
                    if items:
                        feeds[session_id].read_at = max(feeds[session_id].read_at, now)
                    feeds[session_id].extend(cursors[session_id], items)
                    feeds[session_id].drop_stashed_before(now)
            if self.redis_url:
                for session_id, items in rendered.items():
                    if items:
                        events.relay(self.redis_url, session_id, cursors[session_id], items)
            session_ids, polled = {sid for sid, batch in batches.items() if len(batch) >= events.BATCH}, set()

    def _check_users(self, connection: sa.Connection) -> None:
        if time.monotonic() - self._users_checked < USER_CHECK_SECONDS:
            return
        self._users_checked = time.monotonic()
        with self._lock:
            user_ids = list(self._by_user)
        if not user_ids:
            return
        rows = [row for ids in _in_lists(user_ids) for row in connection.execute(
            sa.select(User.id, User.active, User.session_version).where(User.id.in_(ids)))]
        state = {user_id: (active, version) for user_id, active, version in rows}
        with self._lock:
            for user_id, subscriptions in self._by_user.items():
                active, version = state.get(user_id, (False, None))
                for subscription in subscriptions:
                    if not active:
                        subscription.end("account deactivated")
                    elif version != subscription.session_version:
                        subscription.end("signed out")

    def _last_event_id(self, session_id: int) -> int:
        with Session(self.engine) as orm_session:
            return events.last_event_id(orm_session, session_id)

    # --- Redis: new events heard at once ---------------------------------------------------------

    def _listen(self) -> None:
        while True:
            try:
                pubsub = events.redis_client(self.redis_url).pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe(events.channel("*", self.redis_url))
                for message in pubsub.listen():
                    self._heard(message.get("channel"), message.get("data"))
            except Exception as exc:  # the database poll still delivers, a little later
                log.warning("live wake-ups from Redis interrupted: %s", exc)
                time.sleep(REDIS_FALLBACK_POLL_SECONDS)

    def _heard(self, channel: bytes | str | None, data: bytes | str | None) -> None:
        """A message of `events.relay`: the sender's name, then the session's events it read (or
        nothing, a plain wake-up)."""
        if channel is None or data is None:
            return
        sender, batch = events.split_message(data)
        if sender == events.origin():  # our own commit woke us already, and we read it
            return
        name = channel.decode() if isinstance(channel, bytes) else channel
        try:
            session_id = int(name.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            return
        if not (batch and self._take(session_id, batch)):
            self.wake(session_id)

    def _take(self, session_id: int, batch: bytes) -> bool:
        """Add a batch another process read and published; False when it is not one (the log must
        be read). One that starts after events this process has not kept yet waits for them: they
        are in flight (this process's own read, under load, often ends after the other's batch
        arrives), and reading the log for them would only repeat that read."""
        if session_id not in self._feeds:
            return True  # not watched here
        try:
            cursor, items = events.read_batch(batch)
        except ValueError as exc:
            log.warning("live batch from Redis not understood: %s", exc)
            return False
        with self._lock:
            feed = self._feeds.get(session_id)
            if feed is not None and not feed.extend(cursor, items):
                feed.stash(cursor, items)
            return True

    def wake(self, session_id: int) -> bool:
        """The session has new events: read them now if it is watched here (True then)."""
        with self._lock:
            if session_id not in self._feeds:
                return False
            # Already woken: the read to come answers this wake-up too (and the watcher, waiting out
            # the session's window, need not be woken once per commit).
            if session_id not in self._dirty:
                self._dirty.add(session_id)
                self._changed.notify_all()
            return True


def _in_lists(ids: Iterable[int]) -> Iterator[list[int]]:
    """`ids` in lists of at most `IN_LIST_IDS`, one statement's IN list each."""
    ordered = list(ids)
    for start in range(0, len(ordered), IN_LIST_IDS):
        yield ordered[start:start + IN_LIST_IDS]


def reader_engine(engine: sa.Engine) -> sa.Engine:
    """A small engine of the watcher's own on the database of `engine`: one connection for the
    watcher, one for each history read (`HISTORY_READS`), none shared with requests.

    Sharing the app's pool, the watcher waited for a connection behind every note request once the
    pool was all taken (at 50 writers, 25 requests a process against 15 connections), and so did
    delivery to every stream. A database only this process sees (SQLite in memory) keeps the app's
    engine: a second one would open another, empty, database.
    """
    url = engine.url
    if engine.dialect.name == "sqlite" and url.database in (None, "", ":memory:"):
        return engine
    options: dict[str, Any] = {"pool_size": 1 + HISTORY_READS, "max_overflow": 0, "hide_parameters": True}
    if engine.dialect.name == "sqlite":
        reader = sa.create_engine(url, **options)
        configure_sqlite(reader)  # its transaction control; a read there costs no round trip
    else:
        # Reads only, so in autocommit: each read is its statement alone, without a BEGIN and a
        # ROLLBACK round trip around it.
        reader = sa.create_engine(url, isolation_level="AUTOCOMMIT", **options)
        configure_server_pool(reader, READER_PING_IDLE_SECONDS)
    return reader


_hubs: dict[tuple[str, str | None], LiveHub] = {}
_hubs_lock = threading.Lock()


def _wake_hubs(session_id: int, redis_url: str | None) -> bool:
    """A transaction of this process added events to the session: its streams here hear at once.
    True when a hub announcing to `redis_url` watches the session: its read is published."""
    with _hubs_lock:
        hubs = list(_hubs.values())
    watching = [hub.redis_url for hub in hubs if hub.wake(session_id)]
    return redis_url in watching


events.on_commit(_wake_hubs)


def wait_until_idle(timeout: float = 10) -> bool:
    """Every hub of this process idle (see `LiveHub.wait_until_idle`)."""
    with _hubs_lock:
        hubs = list(_hubs.values())
    return all(hub.wait_until_idle(timeout) for hub in hubs)


def hub_for(engine: sa.Engine, *, poll: float, redis_url: str | None, per_user: int) -> LiveHub:
    """This process's hub for the database of `engine` (made on first use)."""
    key = (engine.url.render_as_string(hide_password=False), redis_url)
    with _hubs_lock:
        hub = _hubs.get(key)
        if hub is None or hub.engine is not engine:
            if hub is not None and hub.reader is not hub.engine:
                hub.reader.dispose()  # its app's engine is gone (tests build several apps)
            hub = _hubs[key] = LiveHub(engine, poll=poll, redis_url=redis_url, per_user=per_user)
        hub.poll, hub.per_user = poll, per_user  # settings may change while the process runs (tests)
        return hub


def stream(hub: LiveHub, session_id: int, user: User, after: int, *, heartbeat: float,
           lifetime: float) -> Iterator[str]:
    """Yield SSE text for the session's events after `after` until `lifetime` passes or the
    watcher ends the stream (the browser then reconnects where it left off).

    The stream joins the hub when it starts sending: a response dropped before its first byte
    (its generator never started) leaves nothing behind to watch.
    """
    user_id, session_version = user.id, user.session_version
    return _stream(hub, session_id, user_id, session_version, after, heartbeat, lifetime)


def _stream(hub: LiveHub, session_id: int, user_id: int, session_version: int, after: int,
            heartbeat: float, lifetime: float) -> Iterator[str]:
    subscription = hub.subscribe(session_id, user_id, session_version)
    feed = subscription.feed
    events.count_stream(1)
    started = last_sent = time.monotonic()
    try:
        yield "retry: 1500\n: connected\n\n"
        while subscription.ended is None and time.monotonic() - started < lifetime:
            signal = feed.signal  # before the read: see `_SessionFeed.announce`
            pending = feed.after(after)
            if pending is None:
                with hub.history_reads:
                    pending = Pending.of(_from_the_log(hub.reader, subscription.session_id, after))
            now = time.monotonic()
            if pending.last_id is not None:
                # One write for all of it: with hundreds of streams, a socket write per event
                # per stream cost more CPU than the note's own write.
                yield pending.text
                after, last_sent = pending.last_id, now
                if pending.count >= events.BATCH:
                    continue
            elif now - last_sent >= heartbeat:
                yield ": keep-alive\n\n"
                last_sent = now
            hub.wait(subscription, signal, min(last_sent + heartbeat, started + lifetime))
        if subscription.ended:
            yield f": closed, {subscription.ended}\n\n"
    finally:
        hub.unsubscribe(subscription)
        events.count_stream(-1)


def _from_the_log(reader: sa.Engine, session_id: int, after: int) -> list[tuple[int, str]]:
    with reader.connect() as connection:
        return [(event["id"], events.sse_format(event))
                for event in events.read_events(connection, session_id, after)]
