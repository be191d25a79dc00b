"""Password policy (length, zxcvbn strength with the person's own words, no re-use) wherever a password
is set, and the password reset by e-mail: one answer for every address, a link that works once within
the hour."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager

import itsdangerous
import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD
from usabtest.accounts import services
from usabtest.accounts.models import Role
from usabtest.core.models import AuditEvent

STRONG = "plum-orbit-cascade-41"


def _change(client, new: str, current: str = PASSWORD):
    return client.post("/profile", data={
        "password-current_password": current, "password-new_password": new, "password-confirm": new,
        "password-submit": "1"})


def _signs_in(app, user, password: str) -> bool:
    response = app.test_client().post("/login", data={"email": user.email, "password": password})
    return response.status_code == 302


@pytest.mark.parametrize(("password", "message"), [
    ("abcdefghijk", "at least 12 characters"),
    ("aaaaaaaaaaaa", "Repeats like &#34;aaa&#34; are easy to guess."),
    ("password1234", "This password is too easy to guess."),
])
def test_weak_new_passwords_are_refused_with_advice(app, client, make_user, login, password, message):
    user = make_user()
    login(user)
    response = _change(client, password)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _signs_in(app, user, PASSWORD)


def test_the_persons_own_words_make_a_password_weak(db, make_user):
    assert services.password_problem("northwindexample", email="ada@other.example", name="Ada") is None
    problem = services.password_problem("northwindexample", email="ada@northwind.example", name="Ada")
    assert problem and problem.startswith("This password is too easy to guess.")


def test_current_password_cannot_be_reused(client, make_user, login):
    user = make_user(password=STRONG)
    login(user, password=STRONG)
    response = _change(client, STRONG, current=STRONG)
    assert response.status_code == 400
    assert "different from your current one" in response.get_data(as_text=True)


def test_password_change_is_audited(db, client, make_user, login):
    user = make_user()
    login(user)
    assert _change(client, STRONG).status_code == 302
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.password_change"))
    assert (event.actor_id, event.object_id, event.details) == (user.id, user.id, {"how": "profile"})


def test_admin_and_command_line_apply_the_policy(db, client, runner, make_user, make_org, login):
    login(make_user(Role.ADMIN))
    response = client.post("/admin/users", data={
        "email": "new@example.com", "name": "New", "role": "observer", "password": "password1234"})
    assert response.status_code == 400 and "too easy to guess" in response.get_data(as_text=True)
    org = make_org()
    response = client.post(f"/organisations/{org.id}/clients/new", data={
        "create-email": "c@northwind.example", "create-name": "C", "create-password": "northwindexample"})
    assert response.status_code == 400 and "too easy to guess" in response.get_data(as_text=True)
    weak = runner.invoke(args=["users", "create", "--email", "w@example.com", "--name", "W",
                               "--role", "observer", "--password", "qwertyuiop12"])
    assert weak.exit_code != 0 and "too easy to guess" in weak.output
    assert services.find_user_by_email("w@example.com") is None
    ok = runner.invoke(args=["users", "create", "--email", "w@example.com", "--name", "W",
                             "--role", "observer", "--password", STRONG])
    assert ok.exit_code == 0, ok.output


# --- reset by e-mail --------------------------------------------------------------------------------

@pytest.fixture
def outbox(monkeypatch) -> list:
    """Reset mails, captured instead of sent."""
    sent: list = []

    def capture(message, *, purpose, **_where):
        sent.append(message)
        return True

    monkeypatch.setattr(services, "send_mail", capture)
    return sent


def _link(message) -> str:
    return re.search(r"http://localhost(/password/reset/\S+)", message.get_content()).group(1)


@contextmanager
def _statements(db):
    """Count the SQL statements run meanwhile."""
    seen: list[str] = []
    this_thread = threading.get_ident()  # not a live-stream watcher another test left polling

    def count(_conn, _cursor, statement, *_args):
        if threading.get_ident() == this_thread and not statement.startswith(("SAVEPOINT", "RELEASE")):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def test_sign_in_page_offers_a_reset(client):
    assert 'href="/password/forgot">Forgot password?' in client.get("/login").get_data(as_text=True)


def test_without_mail_the_page_says_to_ask_an_administrator(client):
    assert "Ask an administrator" in client.get("/password/forgot").get_data(as_text=True)


def _without_csrf_token(page: str) -> str:
    # The signed CSRF token carries the second it was made: two answers a second apart differ there.
    return re.sub(r'(name="csrf[-_]token" (?:content|value)=)"[^"]*"', r'\1"CSRF"', page)


@pytest.mark.config(MAIL_SERVER="mail.invalid")
def test_one_answer_and_the_same_work_for_every_address(db, client, make_user, outbox):
    known = make_user(email="known@example.com")
    make_user(email="gone@example.com", active=False)
    answers, work = {}, {}
    for email in ("known@example.com", "nobody@example.com", "gone@example.com"):
        with _statements(db) as statements:
            response = client.post("/password/forgot", data={"email": email})
        assert response.status_code == 200
        answers[email] = _without_csrf_token(response.get_data(as_text=True).replace(email, "EMAIL"))
        work[email] = len(statements)
    assert len(set(answers.values())) == 1 and "Check your mail" in answers["known@example.com"]
    assert len(set(work.values())) == 1, work
    assert [message["To"] for message in outbox] == [known.email]
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "user.password_reset_request").order_by(AuditEvent.id)).all()
    assert [event.details["mailed"] for event in events] == [True, False, False]


@pytest.mark.config(MAIL_SERVER="mail.invalid")
def test_reset_link_works_once_and_ends_sessions_and_tokens(app, db, client, make_user, outbox):
    user = make_user()
    token = services.issue_token(user, "script")
    signed_in = app.test_client()
    signed_in.post("/login", data={"email": user.email, "password": PASSWORD})
    client.post("/password/forgot", data={"email": user.email})
    link = _link(outbox[0])
    page = client.get(link)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    weak = client.post(link, data={"new_password": "password1234", "confirm": "password1234"})
    assert weak.status_code == 400 and "too easy to guess" in weak.get_data(as_text=True)
    done = client.post(link, data={"new_password": STRONG, "confirm": STRONG})
    assert done.headers["Location"] == "/login"
    assert _signs_in(app, user, STRONG) and not _signs_in(app, user, PASSWORD)
    assert signed_in.get("/profile").status_code == 302
    api = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    again = client.post(link, data={"new_password": "another-" + STRONG, "confirm": "another-" + STRONG})
    assert again.status_code == 404 and "no longer works" in again.get_data(as_text=True)
    assert _signs_in(app, user, STRONG)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.password_change"))
    assert event.details == {"how": "reset link"}


@pytest.mark.config(MAIL_SERVER="mail.invalid")
def test_reset_link_expires_after_an_hour(client, make_user, outbox, monkeypatch):
    user = make_user()
    client.post("/password/forgot", data={"email": user.email})
    link = _link(outbox[0])
    later = int(time.time()) + 3601
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda _self: later)
    assert client.get(link).status_code == 404
    assert client.post(link, data={"new_password": STRONG, "confirm": STRONG}).status_code == 404


def test_forged_or_foreign_links_do_not_work(app, client, make_user):
    user = make_user()
    with app.test_request_context():
        token = services.reset_token(user)
    assert client.get(f"/password/reset/{token}").status_code == 200
    assert client.get(f"/password/reset/{token[:-2]}xx").status_code == 404
    other_key = itsdangerous.URLSafeTimedSerializer("another-key", salt="usabtest.password-reset")
    assert client.get(f"/password/reset/{other_key.dumps([user.id, 'x'])}").status_code == 404


@pytest.mark.config(MAIL_SERVER="mail.invalid")
def test_reset_mails_per_account_are_capped(client, make_user, outbox):
    user = make_user()
    for _ in range(services.RESET_MAILS_PER_HOUR + 2):
        assert client.post("/password/forgot", data={"email": user.email}).status_code == 200
    assert len(outbox) == services.RESET_MAILS_PER_HOUR
