"""Under gevent, SQLite writers wait for another process's write lock without stalling the worker."""

from __future__ import annotations

import sqlite3
import threading
import time

import sqlalchemy as sa

from usabtest import db as usabtest_db


def test_a_writer_waits_for_the_lock_with_sleeps_and_then_begins(tmp_path, monkeypatch):
    path = tmp_path / "busy.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    sleeps: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(usabtest_db.time, "sleep",
                        lambda seconds: (sleeps.append(seconds), real_sleep(seconds)))
    threading.Timer(0.2, holder.rollback).start()

    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.connection.driver_connection.isolation_level = None
        connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        usabtest_db._begin_immediate(connection)
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        connection.exec_driver_sql("COMMIT")
    assert sum(sleeps) >= 0.15  # it waited by sleeping (a greenlet's sleep under gevent) ...
    assert max(sleeps) <= 0.02  # ... in short steps, so it begins soon after the lock is free
    assert holder.execute("SELECT count(*) FROM t").fetchone() == (1,)
    engine.dispose()
    holder.close()


def test_the_lock_wait_gives_up_after_the_busy_timeout(tmp_path, monkeypatch):
    path = tmp_path / "busy.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(usabtest_db, "BUSY_TIMEOUT_SECONDS", 0.1)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.connection.driver_connection.isolation_level = None
        connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        try:
            usabtest_db._begin_immediate(connection)
        except sa.exc.OperationalError as exc:
            assert "locked" in str(exc)
        else:
            raise AssertionError("began although another connection held the write lock")
    engine.dispose()
    holder.close()
