"""Configuration: defaults here, overridden by `USABTEST_*` environment variables.

`USABTEST_DATABASE_URL` becomes `DATABASE_URL`, and so on: Flask's `from_prefixed_env` strips the
prefix and parses JSON-looking values (numbers, true/false).
"""

import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask


class Config:
    """Defaults for every setting the application reads."""

    ENV_NAME = "development"  # "production" refuses to start without a real secret key
    REQUEST_LOG = True  # one JSON line per request on standard error (logger "usabtest.request")
    DATABASE_URL: str | None = None  # default: sqlite file in the instance folder
    SECRET_KEY: str | None = None

    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # A pooled PostgreSQL connection idle longer than this is pinged before use (and one the server
    # closed meanwhile is replaced whatever its idle time): `db.configure_server_pool`.
    DATABASE_PING_IDLE_SECONDS = 5.0
    # PostgreSQL: connections each app process keeps open, and the most it opens (requests beyond
    # wait for one). None beyond the pool: with SQLAlchemy's default (5 kept, 10 more opened and
    # closed again), a burst of short note writes opened and closed a server connection (a process
    # forked by PostgreSQL) every few requests, which cost more than the writes at 50 writers.
    DATABASE_POOL_SIZE = 15
    WTF_CSRF_TIME_LIMIT = 3600 * 8  # a long test day on one page
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024  # larger request bodies answer 413

    # Mail: disabled unless MAIL_SERVER is set.
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_SENDER = "usabtest <no-reply@localhost>"
    MAIL_TIMEOUT = 5
    # Mail waits in the outbox table until delivered. `usabtest worker` delivers it in production;
    # elsewhere the app also delivers right after the commit that queued it (None: by ENV_NAME).
    MAIL_DELIVER_IN_APP: bool | None = None
    MAIL_WORKER_POLL_SECONDS = 5

    # Optional: wakes live consoles across processes sooner, and backs rate limits.
    REDIS_URL: str | None = None
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    # Refused sign-ins allowed per client address, and per account (counted in the database).
    LOGIN_RATE_LIMIT = "10 per minute"
    LOGIN_ACCOUNT_LIMIT = "10 per 15 minutes"
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed (0: none).
    TRUSTED_PROXIES = 0
    # A sign-in ends after this many seconds without a request (unless "keep me signed in"), and
    # at the latest this long after signing in.
    SESSION_IDLE_TIMEOUT = 12 * 3600
    SESSION_ABSOLUTE_TIMEOUT = 14 * 24 * 3600

    # Live console streams: how often each process looks for new events of the sessions it
    # streams (one query for all of them), keep-alive comments, and how long one stream lives
    # before the browser reconnects.
    OBSERVE_POLL_SECONDS = 0.1
    OBSERVE_HEARTBEAT_SECONDS = 15
    OBSERVE_STREAM_SECONDS = 300
    # Open live streams per user and app process; a newer one ends the oldest (tabs left open).
    OBSERVE_STREAMS_PER_USER = 8

    PUBLIC_URL = "http://127.0.0.1:5000"  # base of links in mails and calendar feeds
    SCREENSHOT_MAX_BYTES = 5 * 1024 * 1024
    SCREENSHOT_MAX_PIXELS = 40_000_000  # larger uploads are refused (each one is re-encoded)
    # Session recordings: uploaded audio and video files live in this folder (default: "recordings"
    # in the instance folder); with several app servers, a folder they all mount.
    RECORDINGS_DIR: str | None = None
    RECORDING_MAX_BYTES = 2 * 1024 * 1024 * 1024


def load_config(app: Flask, test_config: dict | None) -> None:
    """Fill `app.config` from defaults, the environment and `test_config`, then derive the rest."""
    app.config.from_object(Config)
    app.config.from_prefixed_env("USABTEST")
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_secret_key(app)
    _configure_database(app)
    if app.config["ENV_NAME"] == "production":
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    if app.config["MAIL_DELIVER_IN_APP"] is None:
        app.config["MAIL_DELIVER_IN_APP"] = app.config["ENV_NAME"] != "production"
    if app.config["REDIS_URL"] and app.config["RATELIMIT_STORAGE_URI"] == "memory://":
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]


def recordings_dir(app: Flask) -> Path:
    """Where uploaded session recordings live: `RECORDINGS_DIR`, else "recordings" in the instance folder."""
    configured = app.config.get("RECORDINGS_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "recordings"


def _configure_secret_key(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    if app.config["ENV_NAME"] == "production":
        raise RuntimeError("USABTEST_SECRET_KEY must be set in production")
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def _configure_database(app: Flask) -> None:
    url = app.config.get("DATABASE_URL") or app.config.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        url = f"sqlite:///{Path(app.instance_path) / 'usabtest.sqlite'}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("postgresql"):  # explicit engine options win
        pool = {"pool_size": int(app.config["DATABASE_POOL_SIZE"]), "max_overflow": 0}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**pool, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
