"""Declarative base, UTC time handling and small column helpers shared by every model."""

import enum
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
