"""Fixtures: one app per test session, each test inside a rolled-back transaction, data builders.

The suite runs on SQLite by default, and on PostgreSQL when USABTEST_TEST_DATABASE_URL is set (a
throw-away database; under pytest-xdist each worker uses its own copy beside it).

How tests share the database:
- Each worker builds the schema once and one app, kept for the whole run. The markers `csrf` and
  `config(...)` set request-time settings on it for one test; settings read only while an app is
  built (`ratelimit`, engine options, ...) get an app of their own, also kept.
- By default a test runs inside one connection's transaction, rolled back at the end. Every
  `db.session` (the test's own, each request's, a CLI command's) joins it through SAVEPOINTs, so
  `commit()` only releases a savepoint and nothing the test writes outlives it.
- Tests whose data must be seen by other connections (live servers, browsers, threads, the live
  event stream) are marked `committed` (`live_server` and `page` imply it): they commit for real
  and the tables are emptied afterwards.
- Data that many tests of a module read (the demo, say) can be built once per module: a builder
  decorated with `shared_data` is a fixture whose rows are built in an outer transaction kept open
  while the module's tests run, each test in a savepoint rolled back to them (see `SharedData`).
- Tests that use no app are marked `pure` at collection; the PostgreSQL pass leaves them out
  (`-m "not pure"`), since they would only repeat the SQLite pass. Mark `database` a test that
  reaches the test database without the `app` fixture.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession
from werkzeug.serving import make_server

from tests.openapi_check import validate_api_response
from usabtest import builders, create_app
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Organisation, Role, User
from usabtest.extensions import db as _db
from usabtest.extensions import limiter
from usabtest.observe.models import Note
from usabtest.planning.models import Participant, Study, StudyMember, StudySession, StudyTag, TeamRole

PASSWORD = builders.DEFAULT_PASSWORD
# Fixtures whose tests need committed data: another thread or process serves the requests.
COMMITTED_FIXTURES = frozenset({"live_server", "page"})


def _worker_database_url() -> str | None:
    """The PostgreSQL test URL; under pytest-xdist each worker gets its own database beside it."""
    base = os.environ.get("USABTEST_TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not base or not worker:
        return base
    url = sa.make_url(base)
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _worker_database_url()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header(config) -> str:
    """Say which database this run uses, so CI logs show both runs."""
    return f"usabtest database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (one file per worker)'}"


def pytest_collection_modifyitems(config, items) -> None:
    """Mark `pure` every test that needs no app and no database; keep the browser tests together;
    put the long ones first.

    Under pytest-xdist with `--dist loadgroup` (as `make test` runs) the browser tests form one group
    that a single worker runs, one Chromium at a time as in a serial run, while the other workers take
    the rest: the browser tests mostly wait (on the browser, the pages' timers, live streams), the
    others mostly compute, so the two overlap well. Two browsers side by side per pass made the
    timing-sensitive console tests fail on a loaded machine. Workers get the remaining tests in
    collection order: starting the long ones (marked `slow`, then those waiting on servers) first
    keeps one worker from finishing alone on them.
    """
    for item in items:
        uses_database = "app" in getattr(item, "fixturenames", ()) or item.get_closest_marker("database")
        if not uses_database:
            item.add_marker(pytest.mark.pure)
        if _is_browser_test(item):
            item.add_marker(pytest.mark.xdist_group("browser"))
    items.sort(key=_start_order)


def _is_browser_test(item) -> bool:
    return item.get_closest_marker("browser") is not None or "browser" in getattr(item, "fixturenames", ())


def _start_order(item) -> int:
    if item.get_closest_marker("slow"):
        return 0
    fixtures = getattr(item, "fixturenames", ())
    return 1 if item.get_closest_marker("committed") or not COMMITTED_FIXTURES.isdisjoint(fixtures) else 2


def pytest_terminal_summary(terminalreporter) -> None:
    """State how many browser tests really ran, so CI logs prove they were not skipped."""
    def count(outcome: str) -> int:
        return sum(1 for r in terminalreporter.stats.get(outcome, [])
                   if getattr(r, "nodeid", "").startswith("tests/browser/") and r.when in ("call", "setup"))

    terminalreporter.write_line(
        f"browser tests in Chromium: {count('passed')} passed, {count('failed')} failed, "
        f"{count('skipped')} skipped"
    )


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Cheap Argon2 parameters for tests: production strength costs ~50 ms per hash and verify."""
    from argon2 import PasswordHasher

    mp = pytest.MonkeyPatch()
    mp.setattr(account_services, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    mp.undo()


# --- the database and the apps, built once per worker ----------------------------------------


@pytest.fixture(scope="session")
def _database_url(tmp_path_factory) -> Iterator[str]:
    """This worker's test database, with the schema built once."""
    url = PG_URL or f"sqlite:///{tmp_path_factory.mktemp('database') / 'test.sqlite'}"
    if PG_URL:
        _create_database_if_missing(PG_URL)
    from usabtest import models  # noqa: F401  (every table in the metadata)

    engine = sa.create_engine(url)
    _db.metadata.drop_all(engine)
    _db.metadata.create_all(engine)
    engine.dispose()
    yield url
    if PG_URL and os.environ.get("USABTEST_TEST_DATABASE_URL") != PG_URL:
        _drop_database(PG_URL)


def _create_database_if_missing(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).scalar()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()


def _drop_database(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    admin.dispose()


class _Apps:
    """One application per distinct set of build settings, all on this worker's database."""

    def __init__(self, database_url: str, instance_root: Path):
        self.database_url = database_url
        self.instance_root = instance_root
        self._apps: dict[str, Flask] = {}
        self.default: Flask | None = None

    def get(self, config: dict) -> Flask:
        """The app built with the settings `config` (built on first use)."""
        key = repr(sorted(config.items()))
        if key not in self._apps:
            self._apps[key] = self._build(config, len(self._apps))
        return self._apps[key]

    def close(self) -> None:
        """Close every app's database connections."""
        for application in self._apps.values():
            with application.app_context():
                for engine in _db.engines.values():
                    engine.dispose()

    def _build(self, config: dict, number: int) -> Flask:
        application = create_app({**_base_config(), **config, "DATABASE_URL": self.database_url})
        application.instance_path = str(self.instance_root / f"app{number}")
        application.test_client_class = IsolatedClient
        return application


@pytest.fixture(scope="session")
def _apps(_database_url, tmp_path_factory) -> Iterator[_Apps]:
    apps = _Apps(_database_url, tmp_path_factory.mktemp("instances"))
    apps.default = apps.get(_split_settings(_base_config())[0])
    yield apps
    with apps.default.app_context():
        SharedData.close_open()
    apps.close()


def _base_config() -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "PUBLIC_URL": "http://localhost",
        "REQUEST_LOG": False,
    }


# Settings the app reads only while it is built (engines, rate-limit hooks, derived settings): a
# test asking for other values of these gets an app of its own. Any other setting is read during
# requests, so the shared app takes it for the test and gets its own value back afterwards.
BUILD_SETTINGS = ("SQLALCHEMY_", "RATELIMIT_", "DATABASE_", "SECRET_KEY", "ENV_NAME", "REDIS_URL")


def _test_config(request: pytest.FixtureRequest) -> tuple[dict, dict]:
    """This test's settings: those the app is built with, and those set for the test only."""
    config = _base_config()
    config["WTF_CSRF_ENABLED"] = request.node.get_closest_marker("csrf") is not None
    config["RATELIMIT_ENABLED"] = request.node.get_closest_marker("ratelimit") is not None
    marker = request.node.get_closest_marker("config")
    if marker:
        config.update(marker.kwargs)
    return _split_settings(config)


def _split_settings(config: dict) -> tuple[dict, dict]:
    build = {key: value for key, value in config.items() if key.startswith(BUILD_SETTINGS)}
    return build, {key: value for key, value in config.items() if key not in build}


def _wants_committed(request: pytest.FixtureRequest) -> bool:
    return (request.node.get_closest_marker("committed") is not None
            or not COMMITTED_FIXTURES.isdisjoint(request.node.fixturenames))


class _ConnectionSession(FlaskSession):
    """Flask-SQLAlchemy's session, but every query goes through the connection it was given.

    Flask-SQLAlchemy 3.1 picks an engine from `db.engines` and ignores the session's own `bind`,
    so joining an outer transaction needs this override. The connection belongs to the test's
    thread: another thread (a live server, a mail sender) using it would interleave savepoints.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        """The connection this session was bound to."""
        if threading.get_ident() != self.info["test_thread"]:
            raise RuntimeError("a background thread used the database of a rolled-back test: "
                               "mark the test @pytest.mark.committed")
        return bind if bind is not None else self.bind


_SEQUENCES: list[str] = []  # this worker's id sequences on PostgreSQL, read once


def _restart_ids(connection: sa.Connection) -> None:
    """Start every id sequence at 1 again, so ids are the same on PostgreSQL as on SQLite.

    A rolled-back transaction does not return the ids it drew; SQLite reuses them anyway. Without
    this, ids keep growing over a PostgreSQL run and a test's "unknown id" could exist one day.
    """
    if connection.dialect.name != "postgresql":
        return
    if not _SEQUENCES:
        _SEQUENCES.extend(connection.exec_driver_sql(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences"
        ).scalars())
    if _SEQUENCES:
        restarts = ", ".join(f"setval('{name}', 1, false)" for name in _SEQUENCES)
        connection.exec_driver_sql(f"SELECT {restarts}")


def _fresh_transaction() -> tuple[sa.Connection, sa.RootTransaction]:
    """A new connection of the test database in a transaction begun with ids starting at 1."""
    connection = _db.engine.connect()
    outer = connection.begin()
    _restart_ids(connection)
    return connection, outer


@contextmanager
def _rolled_back_database(shared: SharedData | None = None) -> Iterator[None]:
    """Run the block inside one transaction that is rolled back afterwards: a new connection's, or a
    savepoint on the connection holding a module's shared data."""
    if shared is None:
        connection, outer = _fresh_transaction()
    else:
        connection = shared.connection
        outer = connection.begin_nested()
    try:
        with _sessions_on(connection):
            yield
    finally:
        outer.rollback()
        if shared is None:
            connection.close()


@contextmanager
def _sessions_on(connection: sa.Connection) -> Iterator[None]:
    """Every `db.session` of the block (the test's, each request's) joins `connection`'s
    transaction through savepoints."""
    shared_session = _db.session
    _db.session = _db._make_scoped_session({
        "class_": _ConnectionSession, "bind": connection, "join_transaction_mode": "create_savepoint",
        "info": {"test_thread": threading.get_ident()},
    })
    try:
        yield
    finally:
        _db.session.remove()
        _db.session = shared_session


class SharedData:
    """Rows built once for the tests of one module that ask for them, kept in an open transaction.

    Only one is open at a time: a test that does not use it (another module's, a committed one)
    closes it first, since an open write transaction would lock SQLite for everybody else and the
    next test's id restart on PostgreSQL would collide with its rows. It is built again when a test
    asks for it after that.
    """

    open: SharedData | None = None
    builds: dict[tuple[str, str], Callable[[], object]] = {}  # (module, fixture name) -> builder

    def __init__(self, key: tuple[str, str]):
        self.key = key
        self.connection: sa.Connection | None = None
        self.values: object = None
        self.numbers_taken: dict[str, int] = {}

    @classmethod
    def for_test(cls, request: pytest.FixtureRequest) -> SharedData | None:
        """The shared data this test asks for, built if it is not open; any other closed first."""
        module = request.node.module.__name__ if request.node.module else ""
        key = next(((module, name) for name in request.fixturenames if (module, name) in cls.builds), None)
        if cls.open is not None and cls.open.key != key:
            cls.close_open()
        if key is None:
            return None
        if cls.open is None:
            cls.open = cls(key)
            cls.open._build()
        return cls.open

    @classmethod
    def close_open(cls) -> None:
        """Roll the open shared data back, if any."""
        if cls.open is not None:
            cls.open.connection.close()  # closing rolls the outer transaction back
            cls.open = None

    def _build(self) -> None:
        self.connection, _outer = _fresh_transaction()
        builders.reset_numbering()
        with _sessions_on(self.connection):
            self.values = self.builds[self.key]()
            _db.session.commit()
        self.numbers_taken = builders.numbers_taken()


def shared_data(build: Callable[[], object]):
    """Make a module's builder a fixture whose value is what `build()` returned, built once.

    The builder runs in an app context with `db.session` on the shared transaction; it returns plain
    values (ids, tokens), not ORM objects, which would belong to the builder's session.
    """
    SharedData.builds[(build.__module__, build.__name__)] = build

    @pytest.fixture(name=build.__name__)
    def values(app):
        return SharedData.open.values

    values.__doc__ = build.__doc__
    return values


@contextmanager
def _committed_database() -> Iterator[None]:
    """Run the block on the real database; empty every table afterwards."""
    with _db.engine.begin() as conn:
        _restart_ids(conn)
    try:
        yield
    finally:
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())


class IsolatedClient(FlaskClient):
    """A test client whose every request gets its own app context.

    The test itself holds an app context (for builders); without this, requests would reuse it
    and share `g` and the database session with the test and with each other.
    """

    def open(self, *args, **kwargs):
        _db.session.commit()  # the test's own work becomes visible to the request ...
        try:
            with self.application.app_context():
                response = super().open(*args, **kwargs)
        finally:
            _db.session.expire_all()  # ... and the request's work to the test's next read
        validate_api_response(response, self.application)  # API answers must match the served document
        return response


@pytest.fixture
def app(request, _apps, tmp_path) -> Iterator[Flask]:
    """The application for this test's configuration, its app context pushed for the test.

    Its database is empty at the start; what the test writes is rolled back afterwards, or, for
    `committed` tests, committed and then deleted. Uploaded recordings go to the test's own
    folder, since a rolled-back row would leave its file behind for the next test.
    """
    build, settings = _test_config(request)
    settings.setdefault("RECORDINGS_DIR", str(tmp_path / "recordings"))
    application = _apps.get(build)
    saved_config = dict(application.config)
    application.config.update(settings)
    # Flask-Limiter keeps one state for all apps: give it this app's setting and fresh counters.
    limiter.enabled = application.config["RATELIMIT_ENABLED"]
    if limiter.enabled:
        limiter.reset()
    builders.reset_numbering()
    with application.app_context():
        if _wants_committed(request):
            SharedData.close_open()
            database = _committed_database()
        else:
            shared = SharedData.for_test(request)
            if shared is not None:  # its rows keep their numbered names: new ones follow them
                builders.reset_numbering(shared.numbers_taken)
            database = _rolled_back_database(shared)
        with database:
            yield application
        if application is not _apps.default:
            for engine in _db.engines.values():
                engine.dispose()  # keeps only the default app's pool open between tests
    application.config.clear()
    application.config.update(saved_config)


@pytest.fixture
def db(app):
    """The SQLAlchemy extension, bound to this test's app."""
    return _db


@pytest.fixture
def client(app) -> FlaskClient:
    """A test client for real HTTP requests through the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner bound to the app."""
    return app.test_cli_runner()


@pytest.fixture
def login(client) -> Callable[..., FlaskClient]:
    """Sign `user` in on `client` (default: this test's client) through the real form."""

    def _login(user: User, password: str = PASSWORD, on: FlaskClient | None = None):
        target = on or client
        response = target.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return target

    return _login


# --- builders: usabtest.builders, committed so requests and other connections see the rows --------


@pytest.fixture
def make_org(db) -> Callable[..., Organisation]:
    """Builder: a client organisation."""

    def _make(name: str | None = None, created_by: User | None = None) -> Organisation:
        org = builders.make_organisation(name, created_by=created_by)
        db.session.commit()
        return org

    return _make


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    """Builder: a user (researcher by default) whose password is `PASSWORD`."""

    def _make(role: Role | str = Role.RESEARCHER, **fields) -> User:
        user = builders.make_user(role, **fields)
        db.session.commit()
        return user

    return _make


@pytest.fixture
def make_study(db) -> Callable[..., Study]:
    """Builder: a study owned by a researcher (on its team), with `tasks` tasks.

    `researchers=[...]` and `observers=[...]` put more people on its team.
    """

    def _make(owner: User | None = None, tasks: int = 0, **fields) -> Study:
        study = builders.make_study(owner, tasks, **fields)
        db.session.commit()
        return study

    return _make


@pytest.fixture
def make_tag(db) -> Callable[..., StudyTag]:
    """Builder: a tag appended to `study`'s tag set."""

    def _make(study: Study, name: str | None = None, **fields) -> StudyTag:
        tag = builders.make_tag(study, name, **fields)
        db.session.commit()
        return tag

    return _make


@pytest.fixture
def make_member(db) -> Callable[..., StudyMember]:
    """Builder: `user` on `study`'s team (researcher for researcher and admin accounts by default)."""

    def _make(study: Study, user: User, role: TeamRole | str | None = None) -> StudyMember:
        member = builders.make_member(study, user, role)
        db.session.commit()
        return member

    return _make


@pytest.fixture
def make_participant(db) -> Callable[..., Participant]:
    """Builder: a participant of `study`, consented unless `consented=False`."""

    def _make(study: Study, consented: bool = True, name: str | None = None,
              email: str | None = None, **fields) -> Participant:
        participant = builders.make_participant(study, consented, name, email, **fields)
        db.session.commit()
        return participant

    return _make


@pytest.fixture
def make_session(db) -> Callable[..., StudySession]:
    """Builder: a scheduled session (study, participant and moderator made when not given)."""

    def _make(study: Study | None = None, participant: Participant | None = None,
              moderator: User | None = None, observers: list[User] | None = None,
              starts_at: datetime | None = None, **fields) -> StudySession:
        study_session = builders.make_session(study, participant, moderator, observers, starts_at, **fields)
        db.session.commit()
        return study_session

    return _make


@pytest.fixture
def make_note(db) -> Callable[..., Note]:
    """Builder: a note in `study_session` by `author`."""

    def _make(study_session: StudySession, author: User, body: str = "A note", **fields) -> Note:
        note = builders.make_note(study_session, author, body, **fields)
        db.session.commit()
        return note

    return _make


# --- live server and browser ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1 in a background thread; yields its base URL.

    Its requests run on their own connections, so a test using it runs on committed data.
    """
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    # A short poll interval: shutting down waits for the serving loop's next look at its flag.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright. Missing browser: skip locally, fail in CI."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page per test; `@pytest.mark.browser_context(...)` sets its options."""
    marker = request.node.get_closest_marker("browser_context")
    context = browser.new_context(**(marker.kwargs if marker else {}))
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def browser_login():
    """Sign `user` in for `page` and open the home page, as the sign-in form would.

    The form's POST goes from the page's own browser context (so the session cookie lands where
    the page uses it) without rendering the form: tens of milliseconds instead of most of a
    second. tests/browser/test_smoke.py drives the form itself.
    """

    def _login(page, base_url: str, user: User, password: str = PASSWORD) -> None:
        form = page.request.get(f"{base_url}/login").text()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
        fields = {"email": user.email, "password": password}
        if token:
            fields["csrf_token"] = token.group(1)
        response = page.request.post(f"{base_url}/login", form=fields, max_redirects=0)
        assert response.status == 302, f"sign-in refused ({response.status}): {response.text()[:300]}"
        page.goto(f"{base_url}/")

    return _login
