"""The authorization matrix: every endpoint and method of `app.url_map`, as every kind of actor.

`RULES` says who may use each endpoint; a new endpoint without a row fails
`test_every_endpoint_has_a_rule`. Each endpoint is requested on fresh data by each actor, those
refused first and the most privileged last (a request may change what it touches). An actor who
may use it must not be turned away (401, 403, 404 or a redirect to the sign-in page), whatever the
answer to the empty request is otherwise (a form error, 409 ...); anyone else must be: 403 or 404
for a signed-in person, 401 (API) or the sign-in page for everyone whose credentials no longer
count (deactivated by cookie or by token, a revoked token) and for the anonymous.
"""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from tests.media_files import wav_bytes
from usabtest import builders
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role
from usabtest.db import utcnow
from usabtest.extensions import db as _db
from usabtest.observe import recordings
from usabtest.reports import services as report_services

PASSWORD = builders.DEFAULT_PASSWORD

# Who may use what. Signed-in actors: the admin; the study's owner (a researcher on its team);
# another researcher; an observer on the study's team and the session; another observer; a client of
# the study's organisation; a client of another organisation.
ADMIN = frozenset({"admin"})
MANAGERS = ADMIN | {"owner"}
TEAM = MANAGERS | {"observer"}
STAFF = TEAM | {"other_researcher", "other_observer"}
RESEARCHERS = MANAGERS | {"other_researcher"}
STUDY_CLIENT = MANAGERS | {"client"}
SIGNED_IN = STAFF | {"client", "other_client"}
CLIENTS = frozenset({"client", "other_client"})
ANYONE = SIGNED_IN | {"anonymous", "deactivated_cookie", "deactivated_token", "revoked_token"}
SIGNED_IN_ACTORS = ("observer", "other_observer", "other_researcher", "client", "other_client",
                    "owner", "admin")
ACTORS = ("anonymous", "deactivated_cookie", "deactivated_token", "revoked_token", *SIGNED_IN_ACTORS)


RULES: dict[tuple[str, str], frozenset[str]] = {}  # (endpoint, method): who may use it


def _rules(allowed, *keys: str) -> None:
    for key in keys:
        endpoint, _, methods = key.partition(" ")
        for method in methods.split(","):
            assert (endpoint, method) not in RULES, f"two rows for {endpoint} {method}"
            RULES[(endpoint, method)] = frozenset(allowed)


_rules(ANYONE,
       "accounts.login GET,POST", "accounts.forgot_password GET,POST", "accounts.reset_password GET,POST",
       "operations.healthz GET", "operations.readyz GET", "api.openapi_document GET",
       "observe.screen GET", "observe.screen_state_json GET", "observe.screen_answer POST",
       "observe.service_worker GET",
       "planning.calendar_feed GET", "reports.shared GET")
_rules(SIGNED_IN,
       "home.index GET", "accounts.profile GET,POST", "accounts.logout POST",
       "accounts.sign_out_everywhere GET,POST", "accounts.token_create POST",
       "api.me GET", "api.list_studies GET", "api.list_organisations GET", "api.csrf_token GET")
_rules({"owner"},  # the token in the URL is the owner's: nobody else's to revoke (admins revoke all of it)
       "accounts.token_revoke GET,POST")
_rules({"observer"},  # the note's author deletes it; researchers retag and edit (PATCH)
       "api.delete_note DELETE")
_rules(STAFF,
       "planning.agenda GET", "planning.study_list GET", "planning.calendar_token_new GET,POST",
       "planning.calendar_token_revoke GET,POST")
_rules(RESEARCHERS,
       "planning.study_new GET,POST", "api.create_study POST", "organisations.index GET",
       "organisations.new GET,POST", "api.create_organisation POST")
_rules(ADMIN,
       "accounts.admin_users GET,POST", "accounts.admin_change_role POST",
       "accounts.admin_revoke_tokens GET,POST",
       "accounts.admin_toggle_active GET,POST", "accounts.admin_audit GET",
       "organisations.add_client POST",
       "organisations.create_client POST", "organisations.remove_client POST", "organisations.rename POST")
_rules(MANAGERS, "organisations.detail GET")
_rules(MANAGERS | {"client"}, "api.get_organisation GET")
_rules(STUDY_CLIENT, "reports.download GET", "reports.view GET")
_rules(CLIENTS, "reports.portal GET")
_rules(TEAM,
       # The study seen by its team: observers follow the plan and the notes of their sessions.
       "planning.study_overview GET", "planning.team_page GET", "api.get_study GET", "api.get_team GET",
       "api.list_tasks GET", "api.list_sessions GET", "api.list_study_tags GET", "api.list_participants GET",
       "planning.session_detail GET", "planning.session_ics GET", "api.get_session GET",
       # The live console of the session the observer is on.
       "observe.console GET", "api.list_notes GET", "api.create_note POST", "api.stream_events GET",
       "api.update_note PATCH", "api.note_history GET", "api.get_sus GET",
       # What happened in the session: its task attempts (with their corrections) and participant.
       "analysis.attempts_page GET", "api.attempt_history GET", "api.get_participant GET",
       # The session's recording and its review page: whoever may open the session's page.
       "observe.review GET", "observe.recording_file GET", "api.get_recording GET")
_rules(MANAGERS,
       # Planning the study.
       "planning.study_edit GET,POST", "planning.study_close GET,POST", "planning.study_reopen POST",
       "planning.task_new GET,POST", "planning.task_edit GET,POST", "planning.task_move POST",
       "planning.task_remove GET,POST", "planning.task_restore POST", "planning.participant_new GET,POST",
       "planning.participant_edit GET,POST", "planning.participant_import GET,POST",
       "planning.participant_import_confirm POST", "planning.session_new GET,POST",
       "planning.session_walk_in GET,POST", "planning.session_reschedule GET,POST",
       "planning.session_cancel GET,POST", "planning.session_no_show GET,POST",
       "planning.team_add POST", "planning.team_role POST", "planning.team_remove GET,POST",
       "planning.team_hand_over POST",
       "api.update_study PATCH", "api.create_task POST", "api.update_task PATCH", "api.remove_task DELETE",
       "api.restore_task POST", "api.reorder_tasks PUT", "api.create_participant POST",
       "api.update_participant PATCH", "api.schedule_session POST",
       "api.start_walk_in POST", "api.reschedule_session PATCH", "api.cancel_session POST",
       "api.add_team_member POST", "api.update_team_member PATCH", "api.remove_team_member DELETE",
       "api.hand_over_study POST",
       # A participant's rights: their page, the export of their data, withdrawal of consent, erasure.
       "participants.detail GET", "participants.export GET", "participants.withdraw_consent GET,POST",
       "participants.erase GET,POST", "api.export_participant GET", "api.withdraw_consent POST",
       "api.erase_participant POST",
       # Running the session: its moderator (the owner here) and the study's managers.
       "observe.open_screen POST", "observe.sus_form GET,POST", "observe.attempt_page GET,POST",
       "api.start_session POST", "api.end_session POST", "api.start_task POST", "api.end_task POST",
       "api.restart_task POST", "api.undo_task_start POST", "api.correct_attempt PATCH",
       "api.record_sus POST", "api.open_screen POST", "api.ask_question POST", "api.withdraw_question DELETE",
       "observe.recording_page GET,POST", "observe.recording_remove GET,POST",
       "api.link_recording PUT", "api.upload_recording PUT", "api.set_recording_offset PUT",
       "api.delete_recording DELETE",
       # Analysis.
       "analysis.notes_board GET", "analysis.board_action POST",
       "analysis.note_page GET,POST", "analysis.results_page GET", "analysis.matrix GET",
       "analysis.findings_page GET", "analysis.finding_page GET", "analysis.new_finding GET,POST",
       "analysis.edit_finding GET,POST", "analysis.delete_finding GET,POST", "analysis.merge_finding POST",
       "analysis.move_finding POST", "analysis.reset_order GET,POST", "analysis.unlink_note POST",
       "analysis.upload_screenshot POST", "analysis.screenshot GET", "analysis.delete_screenshot GET,POST",
       "analysis.recently_deleted GET", "analysis.restore_finding POST", "analysis.restore_note POST",
       "analysis.tags_page GET,POST", "analysis.tag_edit GET,POST", "analysis.tag_delete GET,POST",
       "analysis.tag_merge POST", "analysis.tag_move POST", "analysis.exports GET", "analysis.export_csv GET",
       "api.list_findings GET", "api.get_finding GET", "api.update_finding PATCH",
       # Reports.
       "reports.study_reports GET", "reports.draft GET", "reports.publish POST", "reports.texts GET,POST",
       "reports.withdraw GET,POST", "reports.create_share_link POST", "reports.revoke_share_link GET,POST",
       "reports.draft_view GET", "reports.draft_file GET", "reports.version_file GET",
       "api.get_report_texts GET", "api.update_report_texts PATCH")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def world(db, app):
    """One study with everything its URLs name, and one person of each kind."""
    people = {
        "admin": builders.make_user(Role.ADMIN), "owner": builders.make_user(Role.RESEARCHER),
        "other_researcher": builders.make_user(Role.RESEARCHER),
        "observer": builders.make_user(Role.OBSERVER), "other_observer": builders.make_user(Role.OBSERVER),
        "deactivated": builders.make_user(Role.OBSERVER), "target": builders.make_user(Role.OBSERVER),
    }
    organisation, other = builders.make_organisation(), builders.make_organisation()
    people["client"] = builders.make_user(Role.CLIENT, organisation=organisation)
    people["other_client"] = builders.make_user(Role.CLIENT, organisation=other)
    study = builders.make_study(people["owner"], tasks=2, organisation=organisation)
    builders.make_member(study, people["observer"])
    builders.make_member(study, people["deactivated"])
    builders.make_member(study, people["target"])
    participant = builders.make_participant(study, email="p@example.net")
    session = builders.make_session(study, participant, moderator=people["owner"],
                                    observers=[people["observer"], people["target"]])
    session.screen_token = "screen-" + uuid.uuid4().hex
    note = builders.make_note(session, people["observer"], "Hesitates")
    attempt = builders.make_task_attempt(session, study.tasks[0])
    builders.make_sus_response(session)
    recordings.store_file(session, people["owner"], io.BytesIO(wav_bytes(0.1)), 0)
    finding = builders.make_finding(study, notes=[note],
                                    screenshots=[builders.make_screenshot(_png(), width=4, height=4)])
    tag = builders.make_tag(study, "navigation")
    people["owner"].calendar_token = "calendar-" + uuid.uuid4().hex
    _db.session.flush()
    report = report_services.publish(study, people["owner"], gap_reason="matrix test data")
    link = report_services.create_share_link(report, people["owner"], days=7)
    tokens = {name: account_services.issue_token(people[name]) for name in ("deactivated", "owner")}
    revoked = account_services.issue_token(people["owner"], "to revoke")
    _db.session.commit()
    for api_token in people["owner"].tokens:
        if api_token.label == "to revoke":
            api_token.revoked_at = utcnow()
    _db.session.commit()
    values = {
        "study_id": study.id, "session_id": session.id, "task_id": study.tasks[1].id,
        "participant_id": participant.id, "note_id": note.id, "note_uuid": str(note.client_uuid),
        "attempt_id": attempt.id,
        "finding_id": finding.id, "screenshot_id": finding.screenshots[0].id, "tag_id": tag.id,
        "report_id": report.id, "link_id": link.id, "org_id": organisation.id,
        "user_id": people["target"].id, "token_id": people["owner"].tokens[0].id,
        "kind": "notes", "direction": "up", "file_format": "docx",
    }
    tokens_by_endpoint = {
        "observe.screen": session.screen_token, "observe.screen_state_json": session.screen_token,
        "observe.screen_answer": session.screen_token,
        "planning.calendar_feed": people["owner"].calendar_token,
        "reports.shared": report_services.share_token(link),
        "accounts.reset_password": account_services.reset_token(people["target"]),
    }
    return people, values, tokens_by_endpoint, {"deactivated": tokens["deactivated"], "revoked": revoked}


def _endpoints(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route but static files."""
    found = []
    for url_rule in app.url_map.iter_rules():
        if url_rule.endpoint == "static":
            continue
        for method in sorted(url_rule.methods - {"HEAD", "OPTIONS"}):
            found.append((url_rule.endpoint, method, url_rule.rule))
    return found


def test_every_endpoint_has_a_rule(app):
    routes = {(endpoint, method) for endpoint, method, _rule in _endpoints(app)}
    missing = sorted(f"{endpoint} {method}" for endpoint, method in routes - RULES.keys())
    stale = sorted(f"{endpoint} {method}" for endpoint, method in RULES.keys() - routes)
    assert not missing, f"endpoints without a row in RULES: {missing}"
    assert not stale, f"rows in RULES for endpoints that no longer exist: {stale}"


def _path(app, endpoint: str, values: dict, tokens: dict) -> str:
    url_rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    args = {}
    for name in url_rule.arguments:
        if name == "token":
            args[name] = tokens[endpoint]
        elif name == "note_id" and endpoint.startswith("api."):
            args[name] = values["note_uuid"]
        else:
            args[name] = values[name]
    return url_rule.build(args, append_unknown=False)[1]


def _credentials(app, actor: str, people: dict, tokens: dict) -> tuple[str | None, dict[str, str]]:
    """The actor's session cookie (signed in through the real form) or bearer header."""
    if actor in ("deactivated_token", "revoked_token"):
        token = tokens["deactivated" if actor == "deactivated_token" else "revoked"]
        return None, {"Authorization": f"Bearer {token}"}
    if actor == "anonymous":
        return None, {}
    user = people["deactivated" if actor == "deactivated_cookie" else actor]
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, (actor, response.status_code)
    return client.get_cookie("session").value, {}


def _turned_away(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    # The sign-in page, asked to come back here (signing out also ends on the sign-in page).
    return response.status_code == 302 and "/login?next=" in response.headers.get("Location", "")


@pytest.mark.slow
@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.05, OBSERVE_HEARTBEAT_SECONDS=0.02)
def test_each_actor_gets_what_the_matrix_says_everywhere(app, world):
    """Each request runs inside a savepoint rolled back after it, so all share one set of data."""
    people, values, tokens_by_endpoint, tokens = world
    credentials = {actor: _credentials(app, actor, people, tokens) for actor in ACTORS}
    people["deactivated"].active = False
    _db.session.commit()
    connection = _db.session.get_bind()
    wrong = []
    for endpoint, method, _rule in _endpoints(app):
        allowed = RULES[(endpoint, method)]
        path = _path(app, endpoint, values, tokens_by_endpoint)
        body = {"json": {}} if endpoint.startswith("api.") and method != "GET" else {}
        for actor in ACTORS:
            cookie, headers = credentials[actor]
            client = app.test_client()  # a fresh cookie jar: signing out must not follow the actor
            if cookie:
                client.set_cookie("session", cookie)
            undo = connection.begin_nested()
            with client.open(path, method=method, headers=headers, **body) as response:
                status, turned_away = response.status_code, _turned_away(response)
            undo.rollback()
            _db.session.expire_all()
            if status >= 500 and (endpoint, status) != ("operations.readyz", 503):
                wrong.append(f"{method} {path} as {actor}: {status}")
            elif turned_away == (actor in allowed):
                verdict = "refused" if turned_away else "let in"
                wrong.append(f"{method} {path} as {actor}: {status} ({verdict})")
    assert not wrong, "\n".join(wrong)
