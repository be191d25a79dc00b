"""One unit of work per request: a refused change leaves nothing behind; one error type answers refusals.

Pages and API handlers never commit: the request commits once when it answers below 400 and rolls
back otherwise, or when a page that refused a change still redirects (`discard_changes()`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import redirect

from usabtest import create_app
from usabtest.accounts.models import Organisation
from usabtest.core.audit import record
from usabtest.core.errors import Conflict, DomainError, discard_changes
from usabtest.core.models import AuditEvent
from usabtest.extensions import db as _db
from usabtest.planning import services as planning_services
from usabtest.planning.models import SessionStatus

PACKAGE = Path(__file__).resolve().parent.parent / "usabtest"


def _actions(db, action: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == action))


def test_refused_form_leaves_nothing_half_saved(client, login, db, make_study, make_participant):
    study = make_study()
    ann = make_participant(study, name="Ann", email="ann@example.net")
    login(study.owner)
    # The service renames Ann, then refuses the consent: the page shows the refusal (400) ...
    response = client.post(f"/participants/{ann.id}/edit", data={
        "name": "Ann Renamed", "email": "ann@example.net", "phone": "+44 1", "consent_date": "2999-01-01",
        "consent_version": "v9", "version": ann.version})
    assert response.status_code == 400
    assert "The consent date cannot be in the future." in response.get_data(as_text=True)
    # ... and nothing of the half-made change was saved.
    assert (ann.personal.name, ann.personal.phone, len(ann.consents), ann.version) == ("Ann", None, 1, 1)
    assert _actions(db, "participant.update") == 0


def test_refused_new_participant_takes_no_pseudonym(client, login, db, make_study):
    study = make_study()
    login(study.owner)
    response = client.post(f"/studies/{study.id}/participants/new", data={
        "name": "Bo", "consent_date": "2999-01-01", "consent_version": "v1"})
    assert response.status_code == 400
    assert (study.participants, study.last_participant_number) == ([], 0)
    response = client.post(f"/studies/{study.id}/participants/new", data={"name": "Bo"})
    assert response.status_code == 302 and [p.code for p in study.participants] == ["P01"]


def test_redirecting_refusal_is_rolled_back(client, login, db, make_session, monkeypatch):
    study_session = make_session(location="Lab 1")

    def change_then_refuse(target, actor):
        target.location = "Nowhere"
        record(actor, "session.cancel", target)
        _db.session.flush()
        raise Conflict("The room was given away in the meantime.")

    monkeypatch.setattr(planning_services, "cancel_session", change_then_refuse)
    login(study_session.study.owner)
    response = client.post(f"/sessions/{study_session.id}/cancel", data={"confirmed": "yes"})
    assert response.status_code == 302
    assert "The room was given away in the meantime." in client.get(response.location).get_data(as_text=True)
    assert (study_session.location, study_session.status) == ("Lab 1", SessionStatus.SCHEDULED)
    assert _actions(db, "session.cancel") == 0


def test_uncaught_refusal_from_a_service_answers_its_status_on_the_error_page(client, login, make_study):
    study = make_study()
    login(study.owner)
    response = client.post(f"/studies/{study.id}/findings/999999/move/up")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "That finding is not part of this study." in page and "Not Found" in page


@pytest.fixture
def refusing_app(tmp_path):
    """An app of its own with routes that add an organisation, then succeed or refuse."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'unit-of-work.sqlite'}"})

    def add_then(outcome: str):
        _db.session.add(Organisation(name=f"Org {outcome}"))
        _db.session.flush()
        if outcome == "refuse":
            raise Conflict("That name is taken.", "name")
        if outcome == "discard":
            discard_changes()
            return redirect("/")
        return "done"

    for prefix in ("/uow", "/api/uow"):
        app.add_url_rule(f"{prefix}/<outcome>", f"uow_{prefix.strip('/').replace('/', '_')}", add_then,
                         methods=["POST"])
    with app.app_context():
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _organisations(app) -> list[str]:
    with app.app_context():
        return list(_db.session.scalars(sa.select(Organisation.name).order_by(Organisation.name)))


def test_request_commits_once_when_it_succeeds_and_never_when_refused(refusing_app):
    client = refusing_app.test_client()
    assert client.post("/uow/discard").status_code == 302
    assert client.post("/uow/refuse").status_code == 409
    assert client.post("/api/uow/refuse").status_code == 409
    assert _organisations(refusing_app) == []
    assert client.post("/uow/keep").status_code == 200
    assert _organisations(refusing_app) == ["Org keep"]


def test_uncaught_domain_error_is_an_error_page_and_json_under_the_api(refusing_app):
    client = refusing_app.test_client()
    page = client.post("/uow/refuse")
    assert page.status_code == 409 and page.mimetype == "text/html"
    assert "That name is taken." in page.get_data(as_text=True) and "Conflict" in page.get_data(as_text=True)
    answer = client.post("/api/uow/refuse")
    assert (answer.status_code, answer.mimetype) == (409, "application/json")
    assert answer.get_json() == {"error": {"status": 409, "message": "That name is taken.",
                                           "fields": {"name": "That name is taken."}}}


def test_every_service_refusal_is_a_domain_error_with_its_status():
    from usabtest.planning.csv_import import ImportFileError
    from usabtest.planning.scheduling import SchedulingError

    refusals = [(planning_services.PlanningError("bad", "title"), 422),
                (planning_services.ConflictError(["Rita is busy.", "Olive is busy."]), 409),
                (SchedulingError("no such time"), 422), (ImportFileError("empty file"), 422)]
    for exc, status in refusals:
        assert isinstance(exc, DomainError) and not isinstance(exc, ValueError)
        assert exc.status == status
    assert ImportFileError("empty file").fields == {"file": "empty file"}
    messages = ["Rita is busy.", "Olive is busy."]
    clash = planning_services.ConflictError(messages)
    assert (clash.message, clash.messages) == ("Rita is busy. Olive is busy.", messages)


def test_page_views_and_api_handlers_never_commit_or_roll_back():
    handlers = [*PACKAGE.glob("*/views.py"), *PACKAGE.glob("api/*.py")]
    assert len(handlers) >= 6
    for path in handlers:
        calls = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Attribute) and node.attr in ("commit", "rollback")]
        assert not calls, f"{path.relative_to(PACKAGE.parent)} commits or rolls back on lines {calls}"
