"""Health probes for load balancers, and request ids in the logs."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import stamp, upgrade

from usabtest import create_app
from usabtest.core import mail
from usabtest.core.models import WorkerBeat
from usabtest.core.operations import REQUEST_LOGGER
from usabtest.db import utcnow
from usabtest.extensions import db


def test_healthz_answers_without_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def _scratch_app(tmp_path, **settings):
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'ready.sqlite'}", "SECRET_KEY": "x" * 32,
                       "REQUEST_LOG": False, **settings})


def test_readyz_waits_for_the_migrations(tmp_path):
    app = _scratch_app(tmp_path)
    with app.app_context():
        not_ready = app.test_client().get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.get_json()["checks"]["database"] == "ok"
        assert not_ready.get_json()["checks"]["migrations"].startswith("database at no revision")
        upgrade()
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200, ready.get_json()
        assert ready.get_json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok",
                                                                  "mail_worker": "ok"}}
        stamp(revision="base")
        assert app.test_client().get("/readyz").status_code == 503
        db.engine.dispose()


def test_readyz_names_an_unreachable_database(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'nowhere.sqlite'}",
                      "SECRET_KEY": "x" * 32, "REQUEST_LOG": False})
    with app.app_context():
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("unreachable")


@pytest.fixture
def request_log(caplog):
    """The request log lines of this test, parsed."""
    logger = logging.getLogger(REQUEST_LOGGER)
    propagate, logger.propagate = logger.propagate, True
    # Alembic's logging set-up (run by any migration test before) disables existing loggers.
    logger.disabled = False
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    yield lambda: [json.loads(r.getMessage()) for r in caplog.records if r.name == REQUEST_LOGGER]
    logger.propagate = propagate


@pytest.mark.config(REQUEST_LOG=True)
def test_each_request_is_logged_once_with_its_id_and_no_query(client, login, make_user, request_log):
    user = make_user()
    login(user)
    response = client.get("/studies?q=Jane+Doe", headers={"X-Request-ID": "proxy-id-42"})
    assert response.headers["X-Request-ID"] == "proxy-id-42"
    line = request_log()[-1]
    assert line["request_id"] == "proxy-id-42"
    assert line["path"] == "/studies" and "Jane" not in json.dumps(line)
    assert line["status"] == response.status_code and line["user"] == user.id


@pytest.mark.config(REQUEST_LOG=True)
def test_a_request_id_that_is_not_a_plain_token_is_replaced(client, request_log):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id; Injected: yes"})
    generated = response.headers["X-Request-ID"]
    assert len(generated) == 32 and generated.isalnum()
    assert request_log()[-1]["request_id"] == generated


def test_database_errors_in_logs_carry_no_values(app, db):
    secret = "Ann Example, +44 7700 900123"
    with pytest.raises(sa.exc.DBAPIError) as error:
        db.session.execute(sa.text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": secret})
    db.session.rollback()
    assert secret not in str(error.value)
    assert "hidden due to hide_parameters" in str(error.value)


def test_pages_exports_and_api_answers_are_never_cached_but_static_files_are(client, login, make_study):
    study = make_study(tasks=1)
    login(study.owner)
    base = f"/studies/{study.id}"
    for path in (base, f"{base}/exports/notes.csv", f"/api/v1{base}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response.headers["Cache-Control"], path
    static = client.get("/static/css/app.css")
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")


@pytest.mark.csrf
def test_an_unauthenticated_api_write_is_401_before_any_other_check(client):
    response = client.post("/api/v1/studies", json={"title": "x"})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"].startswith("authentication required")


def test_readyz_wants_a_mail_worker_seen_lately_when_mail_is_on_in_production(tmp_path):
    app = _scratch_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_DELIVER_IN_APP=False)
    with app.app_context():
        upgrade()
        checks = app.test_client().get("/readyz").get_json()["checks"]
        assert checks["mail_worker"] == "no mail worker has run: start `usabtest worker`"
        mail.run_worker(app, poll=1, once=True)
        assert app.test_client().get("/readyz").status_code == 200
        beat = db.session.scalar(sa.select(WorkerBeat))
        beat.seen_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        checks = app.test_client().get("/readyz").get_json()["checks"]
        assert checks["mail_worker"].startswith("no mail worker seen for 6")
        db.engine.dispose()
