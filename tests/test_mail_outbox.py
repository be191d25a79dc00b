"""Mail is stored with the change that causes it and delivered by workers, once, with retries."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.test_planning_mail import _free_port, _Inbox
from usabtest.core import mail
from usabtest.core.models import MailDelivery, MailStatus, OutboxMail, OutboxStatus
from usabtest.db import utcnow

pytestmark = pytest.mark.committed  # workers read the outbox through their own connections

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def inbox(app):
    from aiosmtpd.controller import Controller

    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_TIMEOUT=5,
                      MAIL_DELIVER_IN_APP=False)
    yield handler
    mail.wait_for_outbox()
    controller.stop()


def _queue(db, to: str = "ann@example.com", subject: str = "Your usability session") -> None:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject
    message.set_content("See you on Tuesday.")
    assert mail.send_mail(message, purpose="test")


def _outbox(db) -> list[OutboxMail]:
    db.session.rollback()  # a fresh snapshot: workers commit through their own connections
    return list(db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)))


def test_queued_mail_is_stored_with_the_change_and_dropped_with_its_rollback(app, db, inbox):
    _queue(db)
    db.session.rollback()
    assert _outbox(db) == []
    _queue(db)
    db.session.commit()
    [stored] = _outbox(db)
    assert stored.status == OutboxStatus.PENDING and inbox.messages == []  # nothing sent in the app
    assert mail.deliver_due(app) == 1
    assert [m["To"] for m in inbox.messages] == ["ann@example.com"]
    assert _outbox(db)[0].status == OutboxStatus.SENT
    assert mail.deliver_due(app) == 0  # sent once


def test_an_unreachable_server_is_retried_with_back_off_then_given_up(app, db, inbox):
    _queue(db)
    db.session.commit()
    app.config["MAIL_PORT"] = _free_port()  # nobody listens there
    mail.deliver_due(app)
    [stored] = _outbox(db)
    assert stored.status == OutboxStatus.PENDING and stored.attempts == 1
    assert stored.next_attempt_at > utcnow() + timedelta(seconds=20)
    assert mail.deliver_due(app) == 0  # not due yet
    for attempt in range(2, mail.MAX_ATTEMPTS + 1):
        stored.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        mail.deliver_due(app)
        stored = _outbox(db)[0]
        assert stored.attempts == attempt
    assert stored.status == OutboxStatus.FAILED and "could not reach" in stored.last_error
    deliveries = db.session.scalars(sa.select(MailDelivery)).all()
    assert len(deliveries) == mail.MAX_ATTEMPTS and {d.status for d in deliveries} == {MailStatus.FAILED}
    assert "tried again later" in deliveries[0].error


def test_header_text_keeps_user_text_from_adding_headers(app, db, inbox):
    name = "Ann\r\nBcc: everyone@example.org"
    _queue(db, subject=f"Session with {mail.header_text(name)}")
    db.session.commit()
    mail.deliver_due(app)
    [received] = inbox.messages
    assert received["Subject"] == "Session with Ann Bcc: everyone@example.org"
    assert received["X-Envelope-To"] == "ann@example.com"


def _worker_command(app) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "USABTEST_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "USABTEST_SECRET_KEY": "worker-test-" + "x" * 32, "USABTEST_MAIL_SERVER": "127.0.0.1",
           "USABTEST_MAIL_PORT": str(app.config["MAIL_PORT"]), "USABTEST_ENV_NAME": "production"}
    return [str(VENV_BIN / "usabtest"), "worker", "--once"], env


def _run_worker_in_process(runner) -> None:
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output


def test_a_killed_workers_mail_is_delivered_by_the_next_run_exactly_once(app, db, runner, inbox):
    _queue(db, to="first@example.com")
    _queue(db, to="second@example.com")
    db.session.commit()
    # A server that accepts connections and never answers: the worker claims both mails and hangs.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    real_port, app.config["MAIL_PORT"] = app.config["MAIL_PORT"], silent.getsockname()[1]
    command, env = _worker_command(app)
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not all(m.locked_until for m in _outbox(db)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not all(m.locked_until for m in _outbox(db)):
        worker.kill()
        pytest.fail(f"the worker did not claim the mail: {worker.communicate()[1].decode()[-2000:]}")
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=10)
    silent.close()

    # The next runs: the same command in this process (a new process each would only add the app's
    # start-up; the killed one above already ran the console script).
    app.config["MAIL_PORT"] = real_port
    _run_worker_in_process(runner)
    assert inbox.messages == []  # the dead worker's claims still hold
    for stored in _outbox(db):
        stored.locked_until = utcnow() - timedelta(seconds=1)  # as they are after CLAIM_SECONDS
    db.session.commit()
    _run_worker_in_process(runner)
    _run_worker_in_process(runner)
    assert sorted(m["To"] for m in inbox.messages) == ["first@example.com", "second@example.com"]
    assert {m.status for m in _outbox(db)} == {OutboxStatus.SENT}


def test_the_worker_refuses_to_run_without_mail(runner):
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code != 0 and "mail is not configured" in result.output
