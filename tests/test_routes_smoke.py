"""Every page and GET endpoint, visited as each role on the demo data: no 500, no leaks.

It finds every registered GET route by itself, so a new page is covered the day it is added;
who may use each endpoint with each method is tested in test_authorization_matrix.py.
"""

import html
import re
from collections import Counter

import pytest
import sqlalchemy as sa

from tests.conftest import shared_data
from usabtest.accounts.models import Role, User
from usabtest.analysis.models import Finding
from usabtest.demo import demo_sign_in, load_demo
from usabtest.extensions import db as _db
from usabtest.observe.models import Note
from usabtest.planning.models import Study
from usabtest.reports import services as report_services

PUBLIC = {
    "accounts.login", "api.openapi_document", "observe.screen", "observe.screen_state_json",
    "observe.service_worker", "planning.calendar_feed", "reports.shared", "static",
    "operations.healthz", "operations.readyz", "accounts.forgot_password", "accounts.reset_password",
}
# Answers 503 by design here: the test schema is built without the migrations (tests/test_operations.py).
NOT_READY = {"operations.readyz"}
STUDY_SCOPED_PREFIXES = ("/studies", "/sessions", "/tasks", "/api/v1/studies", "/api/v1/sessions")


@shared_data
def demo():
    """The demo data plus one published report, one share link and live tokens."""
    load_demo()
    study = _db.session.scalar(sa.select(Study))
    study_session = study.sessions[0]
    study_session.screen_token = "screen-token-for-smoke-test"
    researcher = _db.session.scalar(sa.select(User).where(User.role == Role.RESEARCHER))
    researcher.calendar_token = "calendar-token-for-smoke-test"
    report = report_services.publish(study, researcher)
    link = report_services.create_share_link(report, researcher, days=7)
    _db.session.commit()
    note = _db.session.scalar(sa.select(Note).where(Note.session_id == study_session.id))
    return {
        "study_id": study.id, "session_id": study_session.id, "task_id": study.tasks[0].id,
        "finding_id": _db.session.scalar(sa.select(Finding.id)), "report_id": report.id,
        "user_id": researcher.id, "note_uuid": str(note.client_uuid), "link_id": link.id,
        "org_id": study.organisation_id,
        "kind": "notes", "direction": "up", "filename": "css/app.css",
        "token": {
            "observe.screen": study_session.screen_token,
            "observe.screen_state_json": study_session.screen_token,
            "planning.calendar_feed": researcher.calendar_token,
            "reports.shared": report_services.share_token(link),
            "accounts.reset_password": "not-a-reset-link",
        },
    }


def _get_routes(app, values):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        args = {}
        for name in rule.arguments:
            value = values.get(name)
            args[name] = value.get(rule.endpoint) if isinstance(value, dict) else value
        if all(v is not None for v in args.values()):
            yield rule.endpoint, rule.build(args, append_unknown=False)[1]


def _sign_in(client, email, password):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302


@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.2)
@pytest.mark.parametrize("role", [None, *Role])
def test_every_get_route_answers_without_error_for_each_role(app, client, demo, role):
    if role is not None:
        email, password = demo_sign_in(role)
        _sign_in(client, email, password)
    visited = 0
    for endpoint, path in _get_routes(app, demo):
        with client.get(path) as response:
            status = response.status_code
        visited += 1
        assert status < 500 or (endpoint in NOT_READY and status == 503), (role, path, status)
        if role is None and endpoint not in PUBLIC:
            assert status in (302, 401), (path, status)
        if role == Role.CLIENT and path.startswith(STUDY_SCOPED_PREFIXES) and path != "/api/v1/studies":
            assert status in (403, 404), (path, status)
    assert visited > 40



@pytest.mark.parametrize(("role", "team_page", "remove_owner", "remove_observer", "api_team"), [
    (Role.ADMIN, 200, 409, 200, 200), (Role.RESEARCHER, 200, 409, 200, 200),
    (Role.OBSERVER, 200, 403, 403, 200), (Role.CLIENT, 403, 403, 403, 404),
])
def test_team_pages_answer_each_role_as_the_policy_says(client, db, demo, role, team_page, remove_owner,
                                                        remove_observer, api_team):
    """The demo's researcher owns the study (removing them is refused); its observer is on the team."""
    email, password = demo_sign_in(role)
    _sign_in(client, email, password)
    study_id = demo["study_id"]
    observer_id = db.session.scalar(sa.select(User.id).where(User.role == Role.OBSERVER))
    assert client.get(f"/studies/{study_id}/team").status_code == team_page
    assert client.get(f"/studies/{study_id}/team/{demo['user_id']}/remove").status_code == remove_owner
    assert client.get(f"/studies/{study_id}/team/{observer_id}/remove").status_code == remove_observer
    assert client.get(f"/api/v1/studies/{study_id}/team").status_code == api_team


LINK = re.compile(r'<a\b[^>]*\bhref="(/[^"#]*)')
NOT_FOLLOWED = re.compile(r"^/(static|logout|api/)|/stream$")
SAME_KIND_FOLLOWED = 3  # links differing only in their ids: /sessions/1, /sessions/2 ...


@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.2)
@pytest.mark.parametrize("role", list(Role))
def test_every_link_shown_to_a_role_leads_to_a_page_it_may_open(client, demo, role):
    """Following every link from the home page: none answers 403, 404 or an error."""
    email, password = demo_sign_in(role)
    _sign_in(client, email, password)
    queue, seen, dead, kinds = ["/"], {"/"}, [], Counter()
    while queue:
        path = queue.pop()
        with client.get(path) as response:
            status, mimetype = response.status_code, response.mimetype
            body = response.get_data(as_text=True) if mimetype == "text/html" else ""
        if status >= 400:
            dead.append((path, status))
        for href in LINK.findall(body):
            href = html.unescape(href)
            kind = re.sub(r"\d+", "N", href)
            if href not in seen and not NOT_FOLLOWED.search(href) and kinds[kind] < SAME_KIND_FOLLOWED:
                seen.add(href)
                kinds[kind] += 1
                queue.append(href)
    assert not dead, dead
    assert len(seen) > 3
