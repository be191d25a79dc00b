"""Declarative base, UTC time handling and small column helpers shared by every model."""

import enum
import functools
import select
import sys
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zone type, so values are kept naive-in-UTC there; PostgreSQL keeps
    `timestamptz`. Naive input is refused so local times can never slip in unconverted.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; convert to UTC first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint holding the values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


# BIGINT on PostgreSQL, but INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can rely on."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """Creation and last-change times, set by the application in UTC."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _wants_write_lock() -> bool:
    """Writing requests take SQLite's write lock when they begin, so they queue instead of failing.

    A deferred transaction that reads and then writes can hit SQLITE_BUSY without waiting
    when another process wrote in between; BEGIN IMMEDIATE waits on the busy timeout instead.
    Safe requests (live streams included) stay deferred so readers never block writers; work
    outside a request (CLI commands, tests) is deferred too and relies on the busy timeout.
    """
    from flask import has_request_context, request

    return has_request_context() and request.method not in SAFE_METHODS


BUSY_TIMEOUT_SECONDS = 10


def _cooperative() -> bool:
    """True under gevent's worker, where a blocking wait inside SQLite would stall every greenlet."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("time")


def _begin_immediate(connection: sa.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write lock with sleeps other greenlets use.

    SQLite's own busy handler sleeps inside the C library: under gevent that blocks the whole
    worker process, every request and stream in it, while another process writes.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.001
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc.orig) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def configure_sqlite(engine: sa.Engine) -> None:
    """WAL, full fsync, a 10 s busy timeout, foreign keys, and explicit BEGIN on `engine`."""
    cooperative = _cooperative()

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from pysqlite so the "begin" hook below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Under gevent, writing requests wait in `_begin_immediate`; anything else that meets the
        # write lock (a best-effort write during a read, such as a token's last use) gives up at
        # once, since SQLite's own wait would stall every request of the worker.
        busy_ms = 0 if cooperative else BUSY_TIMEOUT_SECONDS * 1000
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        if not _wants_write_lock():
            connection.exec_driver_sql("BEGIN")
        elif cooperative:
            _begin_immediate(connection)
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


# When a pooled connection is checked out (see `configure_server_pool`); absent on a new connection.
_IDLE_SINCE = "usabtest_idle_since"


@functools.cache  # found at the first checkout: gevent patches before the app loads
def _original_poll():
    """`select.poll` itself, also under gevent (whose `poll` only sees readiness by running the loop)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("select"):
        return monkey.get_original("select", "poll")
    return select.poll


def _server_spoke(dbapi_connection) -> bool:
    """True when the server sent something to a connection that sat in the pool with nothing asked.

    An idle PostgreSQL connection hears from its server only when the server closes it (a restart,
    `pg_terminate_backend`, `idle_session_timeout`): the goodbye and the end of the stream are
    already waiting in the socket. Looking is one non-blocking `poll` system call, no round trip.
    """
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    try:
        poller = _original_poll()()
        poller.register(fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except Exception:  # a socket psycopg already knows lost: the ping will say so
        return True


def configure_server_pool(engine: sa.Engine, ping_after_idle: float) -> None:
    """Ping a pooled connection of a database server only when it may have died on the way.

    `pool_pre_ping` pings on every checkout: a round trip before every request's first statement,
    about a fifth of a note write's waits on a busy machine. This is SQLAlchemy's pessimistic
    disconnect handling on the checkout event, done when it can matter: a connection that sat idle
    longer than `ping_after_idle` seconds (a firewall or the server may have dropped it silently),
    or one the server wrote to while it sat in the pool (it closed it). A failed ping raises
    `DisconnectionError`, so the pool throws the connection away and hands out a fresh one: the
    request never sees the dead one. A connection just checked in and silent is used as it is; if
    it still fails mid-statement, SQLAlchemy invalidates the pool's older connections at once.
    """
    if engine.dialect.name == "sqlite":
        return  # a file opened in this process: there is no server to lose

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:
            return  # connected for this checkout
        if time.monotonic() - idle_since <= ping_after_idle and not _server_spoke(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(f"pooled connection lost: {exc}") from exc
