"""What an operator needs from the running app: health probes and one log line per request.

- `/healthz` answers as long as the process serves requests (a liveness probe: no database).
- `/readyz` answers 200 only when the database answers and its schema is at the migrations' head
  (a readiness probe: a load balancer sends traffic only then), else 503 naming what failed.
- Every request gets an id (the proxy's `X-Request-ID` when it is a plain token, else a new one),
  sent back in the response and written in its log line and in every error logged meanwhile.
  A request's log line holds no query string, form data or SQL parameters: those can carry
  participants' personal data.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, has_request_context, jsonify, request
from flask.logging import default_handler

from usabtest.core import mail
from usabtest.db import utcnow
from usabtest.extensions import db, limiter

bp = Blueprint("operations", __name__)
REQUEST_LOGGER = "usabtest.request"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _probe_response(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Liveness: the process answers."""
    return _probe_response({"status": "ok"}, 200)


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Readiness: the database answers, its schema is current, and mail has a worker when it needs one."""
    checks = {"database": _check_database(), "migrations": _check_migrations()}
    if checks["database"] == "ok":
        checks["mail_worker"] = _check_mail_worker()
    ready = all(check == "ok" for check in checks.values())
    return _probe_response({"status": "ready" if ready else "not ready", "checks": checks},
                           200 if ready else 503)


def _check_database() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def migration_heads() -> tuple[set[str], set[str]]:
    """The database's migration revisions and the code's heads."""
    from alembic.runtime.migration import MigrationContext  # Alembic only when asked: see `extensions`
    from alembic.script import ScriptDirectory

    migrate = current_app.extensions["migrate"]
    heads = set(ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory)).get_heads())
    current = set(MigrationContext.configure(db.session.connection()).get_current_heads())
    return current, heads


def _check_migrations() -> str:
    try:
        current, heads = migration_heads()
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        return f"unknown: {type(exc).__name__}"
    if current == heads:
        return "ok"
    return f"database at {', '.join(sorted(current)) or 'no revision'}, code at {', '.join(sorted(heads))}"


WORKER_SILENCE_SECONDS = 120


def _check_mail_worker() -> str:
    """With mail on and no delivery in the app, a `usabtest worker` must have looked lately."""
    if not mail.mail_configured() or current_app.config["MAIL_DELIVER_IN_APP"]:
        return "ok"
    seen = mail.last_worker_beat()
    if seen is None:
        return "no mail worker has run: start `usabtest worker`"
    silent = (utcnow() - seen).total_seconds()
    return "ok" if silent <= WORKER_SILENCE_SECONDS else f"no mail worker seen for {int(silent)} s"


class _RequestIdFilter(logging.Filter):
    """Gives every log record the id of the request it was logged in ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def init_app(app: Flask) -> None:
    """Register the probes and the request ids and log lines."""
    app.register_blueprint(bp)
    id_filter = _RequestIdFilter()
    default_handler.addFilter(id_filter)
    default_handler.setFormatter(logging.Formatter(
        "[%(asctime)s] %(levelname)s in %(module)s [request %(request_id)s]: %(message)s"))
    request_logger = logging.getLogger(REQUEST_LOGGER)
    if app.config["REQUEST_LOG"] and not request_logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        request_logger.addHandler(handler)
        request_logger.setLevel(logging.INFO)
        request_logger.propagate = False

    @app.before_request
    def _start_request() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if app.config["REQUEST_LOG"]:
            logging.getLogger(REQUEST_LOGGER).info(json.dumps({
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round(1000 * (time.perf_counter() - g.get("request_started", time.perf_counter())), 1),
                "user": _signed_in_user_id(),
            }))
        return response


def _signed_in_user_id() -> int | None:
    """The request's user id, read from its identity: after the commit, touching the user would
    load it again from the database."""
    user = g.get("_login_user")
    state = sa.inspect(user, raiseerr=False) if user is not None else None
    return state.identity[0] if state is not None and state.identity else None
