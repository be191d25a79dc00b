"""Outgoing mail: written to an outbox with the change that causes it, delivered by a worker.

Design:
- `send_mail(message, purpose=..., study_id=..., session_id=...)` adds the whole message to the
  outbox in the current transaction. A rollback drops it with the change; once the change commits
  the message is stored, so a process that dies right after loses no mail.
- `deliver_due(app)` claims the messages that are due (a compare-and-set on `locked_until`, so
  several workers may run at once), sends them over one SMTP connection and records the outcome:
  one `MailDelivery` row per recipient for the pages that list deliveries, and the message SENT,
  FAILED (refused for good, or still failing after `MAX_ATTEMPTS`) or due again after a back-off.
  A worker killed between the server's acceptance and its record sends that message once more when
  the claim expires; the Message-ID set at queueing time lets mail clients fold the copy.
- `usabtest worker` runs `deliver_due` in a loop (production). With `MAIL_DELIVER_IN_APP` (on
  outside production) a commit that queued mail also starts a delivery in a background thread of
  the app itself: that is how `make run` and the tests send.
- Mail is configured when `MAIL_SERVER` is set; otherwise `send_mail` returns False and nothing is
  queued. `header_text()` makes user text safe for a header (no line breaks to inject headers).
"""

from __future__ import annotations

import email.policy
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, make_msgid

import sqlalchemy as sa
from flask import Flask, current_app

from usabtest.core.models import MailDelivery, MailStatus, OutboxMail, OutboxStatus, WorkerBeat
from usabtest.db import utcnow
from usabtest.extensions import db

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
LAST_RETRY_SECONDS = 3600
CLAIM_SECONDS = 120  # a claim older than this belongs to a worker that died
_QUEUED_KEY = "usabtest_mail_queued"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


def mail_configured(app: Flask | None = None) -> bool:
    """True when an SMTP server is configured."""
    app = app or current_app
    return bool(app.config.get("MAIL_SERVER"))


def header_text(value: str) -> str:
    """`value` fit for a mail header: line breaks and other control characters become one space."""
    return _CONTROL.sub(" ", value).strip()


def recipients_of(message: EmailMessage) -> list[str]:
    """Every address in To, Cc and Bcc."""
    fields = [v for key in ("To", "Cc", "Bcc") for v in message.get_all(key, [])]
    return [address for _name, address in getaddresses(fields) if address]


def send_mail(message: EmailMessage, *, purpose: str, study_id: int | None = None,
              session_id: int | None = None) -> bool:
    """Queue `message` in the current transaction; False (nothing queued) when mail is off."""
    if not mail_configured():
        return False
    if not message["From"]:
        message["From"] = current_app.config["MAIL_SENDER"]
    if not message["Message-ID"]:
        message["Message-ID"] = make_msgid(domain="usabtest.local")
    db.session.add(OutboxMail(
        purpose=purpose[:40], study_id=study_id, session_id=session_id,
        subject=str(message["Subject"] or "")[:300], message=message.as_string(),
    ))
    db.session.info[_QUEUED_KEY] = current_app._get_current_object()
    return True


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _deliver_after_commit(session) -> None:
    app = session.info.pop(_QUEUED_KEY, None)
    if app is not None and app.config.get("MAIL_DELIVER_IN_APP"):
        thread = threading.Thread(target=_deliver_in_background, args=(app,), name="usabtest-mail")
        with _threads_lock:
            _threads.add(thread)
        thread.start()


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_after_rollback(session) -> None:
    session.info.pop(_QUEUED_KEY, None)


def _deliver_in_background(app: Flask) -> None:
    try:
        deliver_due(app)
    except Exception:  # a delivery thread must log, not die silently; the worker retries later
        app.logger.exception("delivering mail failed")
    finally:
        with _threads_lock:
            _threads.discard(threading.current_thread())


def wait_for_outbox(timeout: float = 30.0) -> None:
    """Block until the app's delivery threads started so far have finished (tests, CLI commands)."""
    with _threads_lock:
        running = list(_threads)
    for thread in running:
        thread.join(timeout)


# --- the worker ------------------------------------------------------------------------------------


def worker_name() -> str:
    """This worker's name in the heartbeat table: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def run_worker(app: Flask, *, poll: float, once: bool = False) -> None:
    """Deliver due mail every `poll` seconds, recording a heartbeat each time (or once)."""
    while True:
        with app.app_context():
            _beat()
        deliver_due(app)
        if once:
            return
        time.sleep(poll)


def _beat() -> None:
    beat = db.session.get(WorkerBeat, worker_name()) or WorkerBeat(name=worker_name())
    beat.seen_at = utcnow()
    db.session.add(beat)
    db.session.commit()


def last_worker_beat() -> datetime | None:
    """When any mail worker last looked at the outbox."""
    return db.session.scalar(sa.select(sa.func.max(WorkerBeat.seen_at)))


def deliver_due(app: Flask, *, limit: int = 50) -> int:
    """Send the messages that are due now (at most `limit`); returns how many were tried."""
    with app.app_context():
        claimed = _claim(limit)
        if not claimed:
            return 0
        outcomes = _send_all(app.config, claimed)
        for outbox, error, refused in outcomes:
            _record(outbox, error, refused)
        db.session.commit()
        return len(claimed)


def _claim(limit: int) -> list[OutboxMail]:
    now = utcnow()
    free = sa.or_(OutboxMail.locked_until.is_(None), OutboxMail.locked_until < now)
    due = sa.and_(OutboxMail.status == OutboxStatus.PENDING, OutboxMail.next_attempt_at <= now, free)
    candidates = db.session.scalars(sa.select(OutboxMail.id).where(due).order_by(OutboxMail.id).limit(limit))
    claimed_ids = []
    for outbox_id in list(candidates):
        taken = db.session.execute(
            sa.update(OutboxMail).where(OutboxMail.id == outbox_id, due)
            .values(locked_until=now + timedelta(seconds=CLAIM_SECONDS))
            .execution_options(synchronize_session=False))
        if taken.rowcount == 1:
            claimed_ids.append(outbox_id)
    db.session.commit()  # the claims hold while this worker talks to the mail server
    if not claimed_ids:
        return []
    return list(db.session.scalars(sa.select(OutboxMail).where(OutboxMail.id.in_(claimed_ids))
                                   .order_by(OutboxMail.id)))


def _connect(config) -> smtplib.SMTP:
    timeout = config["MAIL_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return smtp


def _parsed(outbox: OutboxMail) -> EmailMessage:
    return BytesParser(policy=email.policy.default).parsebytes(outbox.message.encode())


def _send_all(config, mails: list[OutboxMail]) -> list[tuple[OutboxMail, str, dict]]:
    try:
        smtp = _connect(config)
    except (OSError, smtplib.SMTPException) as exc:
        reason = f"could not reach mail server {config['MAIL_SERVER']}:{config['MAIL_PORT']}: {exc}"
        return [(outbox, reason, {}) for outbox in mails]
    outcomes = []
    try:
        for outbox in mails:
            refused: dict = {}
            error = ""
            try:
                refused = smtp.send_message(_parsed(outbox))
            except smtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients
            except (OSError, smtplib.SMTPException) as exc:
                error = str(exc) or type(exc).__name__
            outcomes.append((outbox, error, refused))
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return outcomes


def _record(outbox: OutboxMail, error: str, refused: dict) -> None:
    """The message's new state, and one delivery row per recipient with its own reason."""
    recipients = recipients_of(_parsed(outbox)) or ["(no recipient)"]
    outbox.attempts += 1
    outbox.locked_until = None
    retry = bool(error) and outbox.attempts < MAX_ATTEMPTS
    if not error and len(refused) < len(recipients):
        outbox.status, outbox.sent_at, outbox.last_error = OutboxStatus.SENT, utcnow(), ""
    elif retry:
        delay = min(FIRST_RETRY_SECONDS * 2 ** (outbox.attempts - 1), LAST_RETRY_SECONDS)
        outbox.next_attempt_at = utcnow() + timedelta(seconds=delay)
        outbox.last_error = error
        error = f"{error} (attempt {outbox.attempts} of {MAX_ATTEMPTS}; tried again later)"
    else:
        outbox.status = OutboxStatus.FAILED
        outbox.last_error = error or "every recipient was refused"
    for recipient in recipients:
        reason = error
        if recipient in refused:
            code, text = refused[recipient]
            reason = f"refused by the server: {code} {text.decode(errors='replace')}"
        db.session.add(MailDelivery(
            study_id=outbox.study_id, session_id=outbox.session_id, recipient=recipient[:254],
            subject=outbox.subject, purpose=outbox.purpose,
            status=MailStatus.FAILED if reason else MailStatus.SENT, error=reason,
        ))
