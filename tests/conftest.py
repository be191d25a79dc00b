"""Fixtures: a fresh app and database per test, clients, a sign-in helper and data builders.

The suite runs on SQLite by default, and on PostgreSQL when USABTEST_TEST_DATABASE_URL is set
(a throw-away database: every table is emptied before each test).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from usabtest import create_app
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Organisation, Role, User
from usabtest.db import utcnow
from usabtest.extensions import db as _db
from usabtest.observe.models import Note
from usabtest.planning.models import (
    ConsentRecord,
    Participant,
    ParticipantPersonal,
    Study,
    StudySession,
    Task,
)

PASSWORD = "correct-horse-battery"

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
    return f"usabtest database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (per-test file)'}"


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


@pytest.fixture(scope="session")
def _pg_schema() -> Iterator[None]:
    """On PostgreSQL, build the schema once per run; tests then only empty the tables."""
    if not PG_URL:
        yield
        return
    _create_database_if_missing(PG_URL)
    engine = sa.create_engine(PG_URL)
    from usabtest import models  # noqa: F401

    _db.metadata.drop_all(engine)
    _db.metadata.create_all(engine)
    engine.dispose()
    yield
    if os.environ.get("USABTEST_TEST_DATABASE_URL") != PG_URL:
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


def _empty_pg_tables(app: Flask) -> None:
    tables = ", ".join(f'"{t.name}"' for t in _db.metadata.sorted_tables)
    with app.app_context(), _db.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def _test_config(request: pytest.FixtureRequest, tmp_path) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": PG_URL or f"sqlite:///{tmp_path / 'test.sqlite'}",
        "WTF_CSRF_ENABLED": request.node.get_closest_marker("csrf") is not None,
        "RATELIMIT_ENABLED": request.node.get_closest_marker("ratelimit") is not None,
        "PUBLIC_URL": "http://localhost",
    }
    marker = request.node.get_closest_marker("config")
    if marker:
        config.update(marker.kwargs)
    return config


class IsolatedClient(FlaskClient):
    """A test client whose every request gets its own app context.

    The test itself holds an app context (for builders); without this, requests would reuse it
    and share `g` and the database session with the test and with each other.
    """

    def open(self, *args, **kwargs):
        _db.session.commit()  # the test's own work becomes visible to the request ...
        try:
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            _db.session.expire_all()  # ... and the request's work to the test's next read


@pytest.fixture
def app(request, tmp_path, _pg_schema) -> Iterator[Flask]:
    """A fresh application and empty database; its app context is pushed for the test."""
    instance = tmp_path / "instance"
    application = create_app(_test_config(request, tmp_path))
    application.instance_path = str(instance)
    application.test_client_class = IsolatedClient
    if PG_URL:
        _empty_pg_tables(application)
    else:
        with application.app_context():
            _db.create_all()
    with application.app_context():
        yield application
        _db.session.remove()
        for engine in _db.engines.values():
            engine.dispose()


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


@pytest.fixture
def make_org(db) -> Callable[..., Organisation]:
    """Builder: a client organisation."""
    counter = iter(range(1, 10_000))

    def _make(name: str | None = None) -> Organisation:
        org = Organisation(name=name or f"Client {next(counter)}")
        db.session.add(org)
        db.session.commit()
        return org

    return _make


@pytest.fixture
def make_user(db, make_org) -> Callable[..., User]:
    """Builder: a user (researcher by default) whose password is `PASSWORD`."""
    counter = iter(range(1, 10_000))

    def _make(role: Role | str = Role.RESEARCHER, **fields) -> User:
        role = Role(role)
        n = next(counter)
        org = fields.pop("organisation", None)
        if role == Role.CLIENT and org is None:
            org = make_org()
        user = account_services.create_user(
            email=fields.pop("email", f"{role.value}{n}@example.com"),
            name=fields.pop("name", f"{role.label} {n}"),
            role=role,
            password=fields.pop("password", PASSWORD),
            organisation=org,
        )
        for key, value in fields.items():
            setattr(user, key, value)
        db.session.commit()
        return user

    return _make


@pytest.fixture
def make_study(db, make_user, make_org) -> Callable[..., Study]:
    """Builder: a study owned by a researcher, with `tasks` tasks."""

    def _make(owner: User | None = None, tasks: int = 0, **fields) -> Study:
        study = Study(
            owner=owner or make_user(Role.RESEARCHER),
            organisation=fields.pop("organisation", None) or make_org(),
            title=fields.pop("title", "Checkout study"),
            product=fields.pop("product", "Web shop"),
            **fields,
        )
        for position in range(tasks):
            study.tasks.append(
                Task(position=position, title=f"Task {position + 1}",
                     scenario=f"Scenario {position + 1}", success_criteria="Done")
            )
        db.session.add(study)
        db.session.commit()
        return study

    return _make


@pytest.fixture
def make_participant(db) -> Callable[..., Participant]:
    """Builder: a participant of `study`, consented unless `consented=False`."""

    def _make(study: Study, consented: bool = True, name: str | None = None,
              email: str | None = None, **fields) -> Participant:
        study.last_participant_number += 1
        number = study.last_participant_number
        participant = Participant(
            study=study, number=number, code=f"P{number:02d}",
            personal=ParticipantPersonal(
                name=name or f"Person {number}", email=email or f"person{number}@example.net"
            ),
            **fields,
        )
        if consented:
            participant.consents.append(ConsentRecord(consented_on=date.today(), form_version="v1"))
        db.session.add(participant)
        db.session.commit()
        return participant

    return _make


@pytest.fixture
def make_session(db, make_study, make_participant) -> Callable[..., StudySession]:
    """Builder: a scheduled session (study, participant and moderator made when not given)."""

    def _make(study: Study | None = None, participant: Participant | None = None,
              moderator: User | None = None, observers: list[User] | None = None,
              starts_at: datetime | None = None, **fields) -> StudySession:
        study = study or make_study(tasks=2)
        study_session = StudySession(
            study=study,
            participant=participant or make_participant(study),
            moderator=moderator or study.owner,
            observers=observers or [],
            starts_at=starts_at or utcnow() + timedelta(days=1),
            **fields,
        )
        db.session.add(study_session)
        db.session.commit()
        return study_session

    return _make


@pytest.fixture
def make_note(db) -> Callable[..., Note]:
    """Builder: a note in `study_session` by `author`."""

    def _make(study_session: StudySession, author: User, body: str = "A note", **fields) -> Note:
        note = Note(study_session=study_session, author=author, body=body,
                    client_uuid=fields.pop("client_uuid", uuid.uuid4()), **fields)
        db.session.add(note)
        db.session.commit()
        return note

    return _make


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1 in a background thread; yields its base URL."""
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
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
def page(browser):
    """A fresh browser context and page per test."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def browser_login():
    """Sign `user` in through the real sign-in page in `page`."""

    def _login(page, base_url: str, user: User, password: str = PASSWORD) -> None:
        page.goto(f"{base_url}/login")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login" not in url)

    return _login
