"""Configuration from USABTEST_* variables, the secret key, and SQLite's durability settings."""

import multiprocessing
import os

import pytest
import sqlalchemy as sa

from usabtest import create_app
from usabtest.extensions import db


def _bare_app(tmp_path, **config):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite'}", **config})
    return app


def test_database_url_and_settings_come_from_prefixed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("USABTEST_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("USABTEST_MAIL_SERVER", "smtp.example.com")
    monkeypatch.setenv("USABTEST_MAIL_PORT", "2525")
    monkeypatch.setenv("USABTEST_SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite")
    assert app.config["MAIL_SERVER"] == "smtp.example.com"
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["SECRET_KEY"] == "from-env"


def test_postgres_urls_use_psycopg3(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql://u@h/db", "SECRET_KEY": "k"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_postgres_keeps_its_pool_of_connections_open_unless_engine_options_say_otherwise():
    app = create_app({"DATABASE_URL": "postgresql://u@h/db", "SECRET_KEY": "k", "DATABASE_POOL_SIZE": 12})
    with app.app_context():
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow) == (12, 0)
    own = create_app({"DATABASE_URL": "postgresql://u@h/db", "SECRET_KEY": "k",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3, "max_overflow": 2}})
    with own.app_context():
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (3, 2)


def test_default_database_is_sqlite_in_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("USABTEST_DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "k"})
    app.instance_path = str(tmp_path)
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/usabtest.sqlite")


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("USABTEST_SECRET_KEY", raising=False)
    import flask

    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(tmp_path / "inst"))
    first = create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    second = create_app({"DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert oct((tmp_path / "inst" / "secret_key").stat().st_mode)[-3:] == "600"


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("USABTEST_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="USABTEST_SECRET_KEY"):
        create_app({"ENV_NAME": "production", "DATABASE_URL": "sqlite://"})


def test_production_cookies_are_secure():
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "k", "DATABASE_URL": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


def test_sqlite_runs_wal_full_sync_with_busy_timeout(tmp_path):
    app = _bare_app(tmp_path, SECRET_KEY="k")
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_writing_requests_begin_immediate(tmp_path):
    app = _bare_app(tmp_path, SECRET_KEY="k")
    statements = []
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda *args: statements.append(args[2]))
        with app.test_request_context("/", method="POST"):
            db.session.execute(sa.text("SELECT 1"))
            db.session.rollback()
        with app.test_request_context("/", method="GET"):
            db.session.execute(sa.text("SELECT 1"))
            db.session.rollback()
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]


def _increment_many(url: str, times: int) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    with app.app_context():
        for _ in range(times):
            with app.test_request_context("/", method="POST"):
                value = db.session.execute(sa.text("SELECT n FROM counter")).scalar()
                db.session.execute(sa.text("UPDATE counter SET n = :n"), {"n": value + 1})
                db.session.commit()
                db.session.remove()


@pytest.mark.skipif(os.name != "posix", reason="uses fork")
def test_concurrent_writer_processes_wait_instead_of_failing(tmp_path):
    """Read-then-write from four processes: no 'database is locked', no lost update."""
    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
            conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
        db.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_increment_many, args=(url, 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM counter").scalar() == 100
