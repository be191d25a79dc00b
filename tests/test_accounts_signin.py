"""Sign-in under attack: limits per account and per client address (counted in the database, so they
hold across processes), trusted proxies, failures and lockouts audited, equal work for unknown, wrong
and deactivated accounts, the CSRF secret renewed at sign-in, idle and absolute session timeouts."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from tests.conftest import PASSWORD
from usabtest import create_app
from usabtest.accounts import services, signin
from usabtest.core.models import AuditEvent

WRONG = "not-the-password"


def _attempt(client, email: str, password: str = WRONG, address: str | None = None):
    headers = {"X-Forwarded-For": address} if address else {}
    return client.post("/login", data={"email": email, "password": password}, headers=headers)


def _audit(db, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


@pytest.mark.ratelimit
@pytest.mark.config(TRUSTED_PROXIES=1)
def test_an_account_locks_after_ten_failures_from_any_addresses(app, db, client, make_user):
    user = make_user()
    other = make_user()
    for n in range(10):
        assert _attempt(client, user.email, address=f"203.0.113.{n}").status_code == 400
    locked = _attempt(client, user.email, PASSWORD, address="198.51.100.7")
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account" in locked.get_data(as_text=True)
    assert 800 < int(locked.headers["Retry-After"]) <= 901
    assert _attempt(app.test_client(), other.email, PASSWORD, address="203.0.113.1").status_code == 302
    [lockout] = _audit(db, "user.sign_in_lockout")
    assert (lockout.object_id, lockout.details["scope"]) == (user.id, "account")


@pytest.mark.ratelimit
@pytest.mark.config(TRUSTED_PROXIES=1)
def test_behind_a_proxy_one_attackers_address_locks_out_only_itself(app, db, client, make_user):
    victim = make_user()
    for n in range(10):
        _attempt(client, f"guess{n}@example.com", address="192.0.2.66")
    attacker = _attempt(client, victim.email, PASSWORD, address="192.0.2.66")
    assert attacker.status_code == 429 and "from your network" in attacker.get_data(as_text=True)
    assert _attempt(app.test_client(), victim.email, PASSWORD, address="192.0.2.10").status_code == 302
    failures = _audit(db, "user.sign_in_failed")
    assert len(failures) == 10
    assert failures[0].details == {"address": "192.0.2.66", "reason": "unknown account"}
    assert _audit(db, "user.sign_in")[0].details == {"address": "192.0.2.10"}


@pytest.mark.ratelimit
def test_forwarded_addresses_are_ignored_without_trusted_proxies(client, make_user):
    user = make_user()
    for n in range(10):
        _attempt(client, f"guess{n}@example.com", address=f"198.51.100.{n}")
    assert _attempt(client, user.email, PASSWORD, address="198.51.100.99").status_code == 429


def test_failures_are_audited_with_their_reason(db, client, make_user):
    wrong = make_user()
    gone = make_user(active=False)
    _attempt(client, wrong.email)
    _attempt(client, gone.email, PASSWORD)
    _attempt(client, "nobody@example.com")
    events = _audit(db, "user.sign_in_failed")
    assert [(e.object_id, e.details["reason"]) for e in events] == [
        (wrong.id, "wrong password"), (gone.id, "deactivated"), (None, "unknown account")]
    assert all(e.details["address"] == "127.0.0.1" and e.actor_id is None for e in events)


@contextmanager
def _work(db, monkeypatch):
    """Count SQL statements and password hash checks run meanwhile."""
    counted = {"statements": 0, "hash checks": 0}

    this_thread = threading.get_ident()  # not a live-stream watcher another test left polling

    def statement(_conn, _cursor, sql, *_args):
        if threading.get_ident() == this_thread and not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            counted["statements"] += 1  # savepoints are the test harness's own

    class CountingHasher(PasswordHasher):
        def verify(self, *args):
            counted["hash checks"] += 1
            return super().verify(*args)

    cheap = services._hasher  # the test suite's cheap parameters, kept so no hash needs redoing
    monkeypatch.setattr(services, "_hasher", CountingHasher(
        time_cost=cheap.time_cost, memory_cost=cheap.memory_cost, parallelism=cheap.parallelism))
    sa.event.listen(db.engine, "before_cursor_execute", statement)
    try:
        yield counted
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", statement)


@pytest.mark.ratelimit
def test_unknown_wrong_and_deactivated_accounts_cost_the_same(db, client, make_user, monkeypatch):
    known = make_user()
    gone = make_user(active=False)
    work = {}
    for label, email, password in (("unknown", "nobody@example.com", WRONG), ("wrong", known.email, WRONG),
                                   ("deactivated", gone.email, PASSWORD),
                                   ("deactivated, wrong", gone.email, WRONG)):
        with _work(db, monkeypatch) as counted:
            assert _attempt(client, email, password).status_code == 400
        work[label] = counted
    assert all(counted == work["unknown"] for counted in work.values()), work
    assert work["unknown"]["hash checks"] == 1


@pytest.mark.csrf
def test_sign_in_renews_the_csrf_secret(client, make_user):
    user = make_user()
    page = client.get("/login").get_data(as_text=True)
    before = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": before})
    assert response.status_code == 302
    stale = client.post("/profile", data={"profile-name": "X", "profile-timezone": "UTC",
                                          "profile-submit": "1", "profile-csrf_token": before})
    assert stale.status_code == 400 and "form expired" in stale.get_data(as_text=True)
    fresh = re.search(r'id="profile-csrf_token" name="profile-csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/profile").get_data(as_text=True)).group(1)
    assert fresh != before
    saved = client.post("/profile", data={"profile-name": "X", "profile-timezone": "UTC",
                                          "profile-submit": "1", "profile-csrf_token": fresh})
    assert saved.status_code == 302


def _age(client, **seconds_ago: int) -> None:
    now = int(time.time())
    with client.session_transaction() as session:
        for key, ago in seconds_ago.items():
            session[getattr(signin, key)] = now - ago


def test_a_session_ends_after_twelve_idle_hours(client, make_user, login):
    login(make_user())
    _age(client, SEEN_AT=12 * 3600 - 60)
    assert client.get("/profile").status_code == 200  # still within the idle time; the clock restarts
    _age(client, SEEN_AT=12 * 3600 + 1)
    response = client.get("/profile")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401
    assert "Your session has ended" in client.get("/login").get_data(as_text=True)


@pytest.mark.config(SESSION_IDLE_TIMEOUT=600)
def test_idle_timeout_is_configurable_and_spares_kept_sign_ins(app, client, make_user):
    user = make_user()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    _age(client, SEEN_AT=601)
    assert client.get("/profile").status_code == 302
    kept = app.test_client()
    kept.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    _age(kept, SEEN_AT=3 * 24 * 3600)
    assert kept.get("/profile").status_code == 200


def test_no_session_outlives_the_absolute_timeout(client, make_user, login):
    login(make_user())
    _age(client, SIGNED_IN_AT=14 * 24 * 3600 + 1, SEEN_AT=10)
    assert client.get("/profile").status_code == 302


@pytest.mark.parametrize(("key", "value", "message"), [
    ("TRUSTED_PROXIES", -1, "USABTEST_TRUSTED_PROXIES must be a whole number"),
    ("LOGIN_ACCOUNT_LIMIT", "lots", "USABTEST_LOGIN_ACCOUNT_LIMIT must read like"),
    ("SESSION_IDLE_TIMEOUT", 0, "USABTEST_SESSION_IDLE_TIMEOUT must be a number of seconds"),
])
def test_bad_settings_stop_the_start(tmp_path, key, value, message):
    with pytest.raises(RuntimeError, match=message):
        create_app({"SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", key: value})


# --- two server processes on one database -----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server(tmp_path: Path, database_url: str, name: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "USABTEST_DATABASE_URL": database_url, "USABTEST_SECRET_KEY": "two-servers",
           "USABTEST_REQUEST_LOG": "false"}
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    with open(tmp_path / f"{name}.log", "wb") as log:
        process = subprocess.Popen(
            [gunicorn, "-k", "gthread", "--threads", "2", "-w", "1", "-b", f"127.0.0.1:{port}",
             "--graceful-timeout", "1", "--no-control-socket", "usabtest.wsgi:app"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def _browser_attempt(base: str, email: str, password: str) -> int:
    """Sign in as a browser would: fetch the form (CSRF token and cookie), post it."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    deadline = time.monotonic() + 60
    while True:
        try:
            page = opener.open(base + "/login", timeout=5).read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    try:
        with opener.open(base + "/login", data=data, timeout=10) as response:
            return response.status if not response.url.endswith("/login") else 400
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
@pytest.mark.committed
def test_limits_hold_across_two_server_processes(app, db, tmp_path, make_user):
    user = make_user()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    servers = [_server(tmp_path, url, "a"), _server(tmp_path, url, "b")]
    try:
        statuses = [_browser_attempt(servers[n % 2][1], user.email, WRONG) for n in range(10)]
        assert statuses == [400] * 10
        assert [_browser_attempt(base, user.email, PASSWORD) for _, base in servers] == [429, 429]
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(10)
