"""The session event log: written in the same transaction as each change, read by an id cursor.

Live consoles never depend on state held inside one process: streams are fed from the
`session_event` table (see `live`), so any number of workers and app servers can serve them.
Redis pub/sub (optional, `REDIS_URL`) only tells other processes sooner than their next poll.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from usabtest.accounts.models import User
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.observe.models import Note, SessionEvent
from usabtest.planning.models import StudySession

log = logging.getLogger(__name__)

BATCH = 200
_WAKE_KEY = "usabtest_wake"
_redis_clients: dict[str, Any] = {}
_open_streams = 0
_open_lock = threading.Lock()


def open_streams() -> int:
    """How many live streams this process is serving right now."""
    return _open_streams


def count_stream(delta: int) -> None:
    """Count a live stream opening (+1) or closing (-1) in this process."""
    global _open_streams
    with _open_lock:
        _open_streams += delta


def channel(session_id: int | str, redis_url: str) -> str:
    """The Redis channel announcing new events of one session.

    Publish/subscribe ignores Redis's database numbers: the number is part of the name, so that
    deployments (or test runs) given different databases of one Redis server do not wake each other.
    """
    database = urlsplit(redis_url).path.strip("/") or "0"
    return f"usabtest:{database}:session:{session_id}"


_origin: tuple[int, bytes] = (0, b"")


def origin() -> bytes:
    """This process's name, the body of its Redis wake-ups: its own streams were woken at commit
    (`on_commit`), so its watcher skips what it published itself instead of reading again."""
    global _origin
    if _origin[0] != os.getpid():  # a forked worker names itself anew
        _origin = (os.getpid(), uuid.uuid4().hex.encode())
    return _origin[1]


def lock_session(session_id: int) -> StudySession | None:
    """Load the session row FOR UPDATE, serialising every event writer of that session.

    On PostgreSQL, ids drawn from a sequence by concurrent transactions can commit out of order,
    and a reader that has moved its cursor past a higher id would never see the lower one. Holding
    this row lock from before the event's id is drawn until commit makes ids of one session commit
    in increasing order. SQLite needs nothing: writers there already run one at a time.
    """
    query = (
        sa.select(StudySession)
        .where(StudySession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.session.execute(query).scalar_one_or_none()


def append(study_session: StudySession, kind: str, payload: dict[str, Any], redis_url: str | None) -> None:
    """Add an event to the caller's transaction; waiting streams are woken after it commits."""
    db.session.add(SessionEvent(session_id=study_session.id, kind=kind, payload=payload))
    wake_after_commit(study_session.id, redis_url)


def insert_event(connection: sa.Connection, session_id: int, kind: str, payload: dict[str, Any]) -> None:
    """`append` as one INSERT executed at once on `connection` (the note write's plain path); the
    caller also asks `wake_after_commit`."""
    connection.execute(_INSERT_EVENT, {"session_id": session_id, "kind": kind, "payload": payload,
                                       "created_at": utcnow()})


def wake_after_commit(session_id: int, redis_url: str | None) -> None:
    """Tell the streams of the session about its new event once the transaction commits: this
    process's at once (`on_commit`), other processes' through Redis when it is configured."""
    db.session.info.setdefault(_WAKE_KEY, set()).add((redis_url, session_id))


def on_commit(listener: Callable[[int, str | None], bool]) -> None:
    """Call `listener(session_id, redis_url)` in this process whenever a transaction that added
    events to that session commits (the live hub: its streams hear of a note written in their own
    process at once). A listener that answers True will publish the events to `redis_url` itself
    (`relay`, with the events it reads), so no plain wake-up is sent for them."""
    _local_listeners.append(listener)


_local_listeners: list[Callable[[int, str | None], bool]] = []


_INSERT_EVENT = sa.insert(SessionEvent.__table__)


def redis_client(url: str):
    """A Redis client for `url`, one per process."""
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        _redis_clients[url] = client
    return client


def wake_now(session_id: int, redis_url: str | None) -> None:
    """Tell the streams of the session about an event committed already (a statement run in
    autocommit: the note write's one statement), as `wake_after_commit` does after a commit."""
    # A missed wake only costs one poll interval; a failed one must not fail the write that was
    # committed (a stored note is never answered with an error).
    relayed = False
    for listener in _local_listeners:
        try:
            relayed = listener(session_id, redis_url) or relayed
        except Exception:
            log.exception("could not wake this process's live streams")
    if redis_url and not relayed:
        relay(redis_url, session_id)


def relay(redis_url: str, session_id: int, cursor: int = 0,
          items: list[tuple[int, str]] | None = None) -> None:
    """Tell the other processes, soon and off the caller's path, that the session has new events:
    with `items`, the events read after `cursor` ((id, SSE text) pairs, oldest first), which a
    process watching the session keeps without reading the log (`live.LiveHub._take`); without,
    a plain wake-up, after which it reads the log."""
    _publisher.add(redis_url, session_id, None if items is None else (cursor, items))


# How long the publisher gathers wake-ups before it sends them: a few milliseconds on the other
# processes' delivery, against a Redis round trip on every note's request.
PUBLISH_GATHER_SECONDS = 0.002


class _Publisher:
    """This process's Redis messages, sent off the request path: those due within
    `PUBLISH_GATHER_SECONDS` go out together in one pipeline (one round trip), the batches in the
    order they were read, and one plain wake-up per session however many notes asked for one.

    A note's request only adds its session to a set: a slow or absent Redis never delays or fails a
    write, and a message that is lost costs the other processes one poll (`live`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wakes: dict[str, set[int]] = {}  # by Redis URL
        self._batches: dict[str, list[tuple[int, int, list[tuple[int, str]]]]] = {}
        self._due = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, redis_url: str, session_id: int,
            batch: tuple[int, list[tuple[int, str]]] | None = None) -> None:
        """Publish a wake-up for the session soon, or the batch (cursor, items) read of it."""
        with self._lock:
            if batch is None:
                self._wakes.setdefault(redis_url, set()).add(session_id)
            else:
                self._batches.setdefault(redis_url, []).append((session_id, *batch))
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                # Started on first use, in the process that publishes (a forked worker starts its own).
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="usabtest-publish", daemon=True)
                self._thread.start()
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            time.sleep(PUBLISH_GATHER_SECONDS)
            with self._lock:
                self._due.clear()
                wakes, self._wakes = self._wakes, {}
                batches, self._batches = self._batches, {}
            for redis_url in wakes.keys() | batches.keys():
                self._send(redis_url, wakes.get(redis_url, set()), batches.get(redis_url, []))

    @staticmethod
    def _send(redis_url: str, session_ids: set[int],
              batches: list[tuple[int, int, list[tuple[int, str]]]]) -> None:
        sender = origin()
        try:
            pipeline = redis_client(redis_url).pipeline(transaction=False)
            for session_id, cursor, items in batches:
                pipeline.publish(channel(session_id, redis_url), _batch_message(sender, cursor, items))
            for session_id in sorted(session_ids):
                pipeline.publish(channel(session_id, redis_url), sender)
            pipeline.execute()
        except Exception as exc:
            log.warning("could not publish live wake-ups to Redis: %s", exc)


_publisher = _Publisher()


def _batch_message(sender: bytes, cursor: int, items: list[tuple[int, str]]) -> bytes:
    return b"%s\n%d\n%s" % (sender, cursor, json.dumps(items, separators=(",", ":")).encode())


def split_message(data: bytes | str) -> tuple[bytes, bytes]:
    """A message `relay` published: its sender's name (`origin`), and its batch (empty for a plain
    wake-up), which `read_batch` reads."""
    sender, _, batch = (data.encode() if isinstance(data, str) else data).partition(b"\n")
    return sender, batch


def read_batch(batch: bytes) -> tuple[int, list[tuple[int, str]]]:
    """The cursor and the (id, SSE text) pairs of a published batch; ValueError when it is not one."""
    cursor_text, _, body = batch.partition(b"\n")
    try:
        return int(cursor_text), [(int(event_id), str(text)) for event_id, text in json.loads(body)]
    except TypeError as exc:
        raise ValueError(f"not a batch of events: {exc}") from exc


@sa.event.listens_for(Session, "after_commit")
def _publish_wakes(orm_session: Session) -> None:
    for url, session_id in orm_session.info.pop(_WAKE_KEY, ()):
        wake_now(session_id, url)


@sa.event.listens_for(Session, "after_rollback")
def _forget_wakes(orm_session: Session) -> None:
    orm_session.info.pop(_WAKE_KEY, None)


# Sessions read by one query of `read_many` at most: the query stays within psycopg's cache of
# converted statements (4,096 bytes; a longer one is converted again at every execution).
READ_MANY_SESSIONS = 5


@functools.cache
def _read_query(sessions: int = 1) -> sa.Select:
    """`read_many`'s one query for `sessions` sessions, built once per process and number: a page of
    each session's events, each event with its note and the note's author (NULLs for an event
    without a note, or whose note is gone).

    Core rows, not mapped objects: the live watcher runs this for every read of a busy session,
    and loading ORM objects and validating each note through its pydantic model cost more CPU than
    the read itself. `_note_json` gives the same JSON as `schemas.Note` (held by a test).
    """
    pages = [_page(sa.bindparam(f"session_{number}"), sa.bindparam(f"after_{number}"))
             for number in range(sessions)]
    if sessions == 1:
        page = pages[0].subquery("page")
    else:  # each page its own subquery: SQLite takes no LIMIT on a term of a UNION
        terms = [sa.select(one.subquery(f"page_{number}")) for number, one in enumerate(pages)]
        page = sa.union_all(*terms).subquery("page")
    return _with_notes(page, page)


@functools.cache
def _read_query_postgresql() -> sa.Select:
    """`read_many`'s query on PostgreSQL: the sessions and their cursors go as two arrays, each
    session's page joined to them laterally. One statement of one text reads every session woken
    meanwhile, however many: the text stays within psycopg's cache of converted statements, which
    limited the union of `_read_query` to `READ_MANY_SESSIONS` a statement, and under load every
    further round trip kept the streams waiting another turn of the worker's loop."""
    wanted = sa.func.unnest(sa.bindparam("sessions", type_=postgresql.ARRAY(sa.BigInteger)),
                            sa.bindparam("afters", type_=postgresql.ARRAY(sa.BigInteger))
                            ).table_valued("session_id", "after_id").render_derived(name="wanted")
    page = _page(wanted.c.session_id, wanted.c.after_id).lateral("page")
    return _with_notes(page, wanted.join(page, sa.true()))


def _page(session_id: sa.ColumnElement, after: sa.ColumnElement) -> sa.Select:
    """A page of one session's events after a cursor, in id order."""
    events_ = SessionEvent.__table__
    return (sa.select(events_.c.id, events_.c.session_id.label("event_session_id"), events_.c.kind,
                      events_.c.created_at, events_.c.payload,
                      events_.c.payload["note_id"].as_integer().label("note_id"))
            .where(events_.c.session_id == session_id, events_.c.id > after)
            .order_by(events_.c.id).limit(sa.bindparam("limit")))


def _with_notes(page: sa.FromClause, source: sa.FromClause) -> sa.Select:
    """The events of `page` (read from `source`), each with its note and the note's author."""
    notes, users = Note.__table__, User.__table__
    return (sa.select(page.c.id, page.c.event_session_id, page.c.kind, page.c.created_at, page.c.payload,
                      notes.c.id.label("seq"),
                      notes.c.client_uuid, notes.c.version, notes.c.session_id, notes.c.task_id,
                      users.c.id.label("author_id"), users.c.name.label("author_name"), notes.c.body,
                      notes.c.tags, notes.c.severity, notes.c.kind.label("note_kind"), notes.c.elapsed_ms,
                      notes.c.created_at.label("note_created_at"), notes.c.edited_at, notes.c.deleted_at)
            .select_from(source.outerjoin(notes, notes.c.id == page.c.note_id)
                         .outerjoin(users, users.c.id == notes.c.author_id))
            .order_by(page.c.id))


def _note_json(row: sa.Row) -> dict[str, Any]:
    """The note of `row` as `schemas.Note.of(note).model_dump(mode="json")` gives it, keys in its order."""
    deleted = row.deleted_at is not None
    return {"id": str(row.client_uuid), "version": row.version, "seq": row.seq, "session_id": row.session_id,
            "task_id": row.task_id, "author": {"id": row.author_id, "name": row.author_name},
            "body": "" if deleted else row.body, "tags": [] if deleted else list(row.tags or []),
            "severity": None if deleted else row.severity, "kind": row.note_kind.value,
            "elapsed_ms": row.elapsed_ms, "created_at": row.note_created_at.isoformat(),
            "edited_at": row.edited_at.isoformat() if row.edited_at is not None else None,
            "deleted": deleted}


def read_events(reader: Session | sa.Connection, session_id: int, after: int,
                limit: int = BATCH) -> list[dict]:
    """Events of a session with id > `after`, oldest first; note events carry the note as it is now
    (one whose note is gone is a "gap")."""
    return read_many(reader, {session_id: after}, limit)[session_id]


def read_many(reader: Session | sa.Connection, cursors: dict[int, int],
              limit: int = BATCH) -> dict[int, list[dict]]:
    """`read_events` for several sessions (session id: cursor) at once: the live watcher reads every
    session woken meanwhile together, not one after another. One query on PostgreSQL, one per
    `READ_MANY_SESSIONS` sessions elsewhere."""
    found: dict[int, list[dict]] = {session_id: [] for session_id in cursors}
    bind = reader if isinstance(reader, sa.Connection) else reader.get_bind()
    for query, params in _read_statements(bind.dialect.name, cursors, limit):
        for row in reader.execute(query, params):
            found[row.event_session_id].append(_event_of(row))
    return found


def _read_statements(dialect: str, cursors: dict[int, int],
                     limit: int) -> Iterator[tuple[sa.Select, dict[str, Any]]]:
    if dialect == "postgresql":
        yield _read_query_postgresql(), {"sessions": list(cursors), "afters": list(cursors.values()),
                                         "limit": limit}
        return
    order = list(cursors)
    for start in range(0, len(order), READ_MANY_SESSIONS):
        chunk = order[start:start + READ_MANY_SESSIONS]
        params: dict[str, Any] = {"limit": limit}
        for number, session_id in enumerate(chunk):
            params[f"session_{number}"], params[f"after_{number}"] = session_id, cursors[session_id]
        yield _read_query(len(chunk)), params


def _event_of(row: sa.Row) -> dict[str, Any]:
    at = row.created_at.isoformat()
    payload = dict(row.payload or {})
    if payload.pop("note_id", None) is None:
        return {"id": row.id, "kind": row.kind, "at": at, **payload}
    if row.seq is None or row.author_id is None:
        return {"id": row.id, "kind": "gap", "at": at}
    return {"id": row.id, "kind": row.kind, "at": at, "note": _note_json(row), **payload}


def last_event_id(orm_session: Session, session_id: int) -> int:
    """The newest event id of a session (0 when none): a cursor that skips history."""
    query = sa.select(sa.func.max(SessionEvent.id)).where(SessionEvent.session_id == session_id)
    return orm_session.scalar(query) or 0


def touched_note_ids(orm_session: Session, session_id: int, after: int) -> tuple[list[int], int]:
    """Ids of notes created or changed after cursor `after`, and the new cursor."""
    events = orm_session.execute(
        sa.select(SessionEvent.id, SessionEvent.payload)
        .where(SessionEvent.session_id == session_id, SessionEvent.id > after,
               SessionEvent.kind.like("note.%"))
        .order_by(SessionEvent.id)
    ).all()
    cursor = max([after, last_event_id(orm_session, session_id)])
    ids = list(dict.fromkeys(payload["note_id"] for _id, payload in events if "note_id" in payload))
    return ids, cursor


def sse_format(event: dict[str, Any]) -> str:
    """One Server-Sent Event; the `id:` line lets the browser resume with Last-Event-ID."""
    return f"id: {event['id']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
