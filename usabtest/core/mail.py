"""Outgoing mail that never blocks or breaks a request, with every attempt recorded.

Design:
- `send_mail(message, purpose=..., study_id=..., session_id=...)` does not talk to the server. It
  parks the message on the current database session. Only when that session COMMITS are the parked
  messages handed to a background thread; a rollback drops them. So a mail never announces a change
  that was not saved, and the request returns as soon as its own work is committed.
- The background thread opens one SMTP connection per batch (timeout `MAIL_TIMEOUT` seconds),
  sends each message, and records one `MailDelivery` row per recipient (SENT or FAILED with the
  error) in its own app context and transaction. A dead or slow server therefore costs the request
  nothing; researchers see failures on the pages that list deliveries.
- Mail is configured when `MAIL_SERVER` is set; otherwise `send_mail` returns False and nothing is
  parked or recorded.
- `wait_for_outbox()` joins the threads still sending (tests, CLI commands about to exit).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

import sqlalchemy as sa
from flask import Flask, current_app

from usabtest.core.models import MailDelivery, MailStatus
from usabtest.extensions import db

_PENDING_KEY = "usabtest_pending_mail"
_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


@dataclass
class _Outgoing:
    message: EmailMessage
    purpose: str
    study_id: int | None
    session_id: int | None


def mail_configured(app: Flask | None = None) -> bool:
    """True when an SMTP server is configured."""
    app = app or current_app
    return bool(app.config.get("MAIL_SERVER"))


def recipients_of(message: EmailMessage) -> list[str]:
    """Every address in To, Cc and Bcc."""
    fields = [v for key in ("To", "Cc", "Bcc") for v in message.get_all(key, [])]
    return [address for _name, address in getaddresses(fields) if address]


def send_mail(message: EmailMessage, *, purpose: str, study_id: int | None = None,
              session_id: int | None = None) -> bool:
    """Queue `message` to be sent once the current transaction commits; False when mail is off."""
    if not mail_configured():
        return False
    if not message["From"]:
        message["From"] = current_app.config["MAIL_SENDER"]
    session = db.session()
    session.info.setdefault(_PENDING_KEY, {"app": current_app._get_current_object(), "mails": []})
    session.info[_PENDING_KEY]["mails"].append(_Outgoing(message, purpose, study_id, session_id))
    return True


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _dispatch_after_commit(session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending and pending["mails"]:
        _start_worker(pending["app"], pending["mails"])


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _drop_after_rollback(session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _start_worker(app: Flask, mails: list[_Outgoing]) -> None:
    thread = threading.Thread(target=_deliver_batch, args=(app, mails), name="usabtest-mail")
    with _threads_lock:
        _threads.add(thread)
    thread.start()


def wait_for_outbox(timeout: float = 30.0) -> None:
    """Block until mail threads started so far have finished (or `timeout` passed for each)."""
    with _threads_lock:
        running = list(_threads)
    for thread in running:
        thread.join(timeout)


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


def _deliver_batch(app: Flask, mails: list[_Outgoing]) -> None:
    try:
        with app.app_context():
            outcomes = _send_all(app.config, mails)
            for outgoing, error, refused in outcomes:
                _record(outgoing, error, refused)
            db.session.commit()
    except Exception:  # a worker thread must log, not die silently
        app.logger.exception("recording mail deliveries failed")
    finally:
        with _threads_lock:
            _threads.discard(threading.current_thread())


def _send_all(config, mails: list[_Outgoing]) -> list[tuple[_Outgoing, str, dict]]:
    try:
        smtp = _connect(config)
    except (OSError, smtplib.SMTPException) as exc:
        reason = f"could not reach mail server {config['MAIL_SERVER']}:{config['MAIL_PORT']}: {exc}"
        return [(outgoing, reason, {}) for outgoing in mails]
    outcomes = []
    try:
        for outgoing in mails:
            refused: dict = {}
            error = ""
            try:
                refused = smtp.send_message(outgoing.message)
            except (OSError, smtplib.SMTPException) as exc:
                error = str(exc) or type(exc).__name__
            outcomes.append((outgoing, error, refused))
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return outcomes


def _record(outgoing: _Outgoing, error: str, refused: dict) -> None:
    """One row per recipient; a recipient the server refused gets its own reason."""
    for recipient in recipients_of(outgoing.message) or ["(no recipient)"]:
        reason = error
        if recipient in refused:
            code, text = refused[recipient]
            reason = f"refused by the server: {code} {text.decode(errors='replace')}"
        db.session.add(MailDelivery(
            study_id=outgoing.study_id,
            session_id=outgoing.session_id,
            recipient=recipient[:254],
            subject=str(outgoing.message["Subject"] or "")[:300],
            purpose=outgoing.purpose[:40],
            status=MailStatus.FAILED if reason else MailStatus.SENT,
            error=reason,
        ))
