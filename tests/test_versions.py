"""No lost updates: two edits from the same version give one save and one clear conflict.

Pages re-render the form with what the user typed and the saved values beside it (409); a second
submit saves. The API answers 409 with the record as it is now in `current`. Changes that are not
edits of a record (counters, console status, evidence links, order) never bump its version.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from usabtest import builders
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role, User
from usabtest.core.models import AuditEvent
from usabtest.core.versioning import StaleVersion
from usabtest.observe import services as observe_services
from usabtest.planning import services as planning_services
from usabtest.planning.models import SessionStatus, Study

FUTURE = datetime(2030, 1, 15, 10, tzinfo=UTC)


class _FormReader(HTMLParser):
    """The values a browser would submit from the page's main form, unchanged."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values.setdefault(name, []).append(a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select].append(a.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = [""]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea][0] += data


def form_values(html: str) -> dict[str, list[str]]:
    """The inputs, selected options and textareas of the page (the sign-out form has none that clash)."""
    reader = _FormReader()
    reader.feed(html)
    values = reader.values
    # A browser drops the newline that opens a textarea's content.
    return {name: [v.removeprefix("\r\n").removeprefix("\n") for v in vs] for name, vs in values.items()}


def _saved_now(html: str) -> list[str]:
    """The "Saved now:" values shown beside the fields."""
    parts = html.split('class="saved-value"')[1:]
    return [part.split("</span>", 1)[1].split("</p>", 1)[0].strip() for part in parts]


@pytest.fixture
def two_editors(app, db, client, login, make_user):
    """Two signed-in clients: the study's owner (Alice) and an admin (Bob), both allowed to edit."""
    alice = make_user(name="Alice Owner")
    bob = make_user(Role.ADMIN, name="Bob Admin")
    other = app.test_client()
    login(alice)
    login(bob, on=other)
    return alice, client, bob, other


def _records(db, alice):
    """One record of each edited kind, in one study owned by `alice`; their edit pages and changes."""
    study = builders.make_study(alice, tasks=1)
    participant = builders.make_participant(study, name="Ann", email="ann@example.net")
    study_session = builders.make_session(study, participant, location="Lab 1", starts_at=FUTURE)
    finding = builders.make_finding(study, "Labels confuse", description="Users hesitate")
    note = builders.make_note(study_session, alice, "Hesitates at the total", tags=["problem"])
    db.session.commit()
    task = study.tasks[0]
    return {
        "study": (study, f"/studies/{study.id}/edit", ("title", "Checkout (Alice)"),
                  ("goals", "Bob's goals")),
        "task": (task, f"/tasks/{task.id}/edit", ("title", "Pay (Alice)"), ("scenario", "Bob's scenario")),
        "participant": (participant, f"/participants/{participant.id}/edit", ("phone", "+44 20 1111"),
                        ("segments", "age band: 25-34")),
        "session": (study_session, f"/sessions/{study_session.id}/reschedule", ("location", "Lab 2"),
                    ("duration_min", "90")),
        "finding": (finding, f"/studies/{study.id}/findings/{finding.id}/edit", ("title", "Jargon (Alice)"),
                    ("recommendation", "Bob: use plain words")),
        "note": (note, f"/studies/{study.id}/notes/{note.id}", ("body", "Hesitates at the total (Alice)"),
                 ("kind", "quote")),
    }


@pytest.mark.parametrize("kind", ["study", "task", "participant", "session", "finding", "note"])
def test_two_form_edits_from_one_version_give_one_save_and_one_clear_conflict(db, two_editors, kind):
    alice, as_alice, bob, as_bob = two_editors
    record, url, (alice_field, alice_value), (bob_field, bob_value) = _records(db, alice)[kind]
    alice_form, bob_form = (form_values(c.get(url).get_data(as_text=True)) for c in (as_alice, as_bob))
    assert alice_form["version"] == bob_form["version"] == ["1"]
    original = bob_form[alice_field]

    saved = as_alice.post(url, data={**alice_form, alice_field: alice_value})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    refused = as_bob.post(url, data={**bob_form, bob_field: bob_value})

    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "Not saved: someone else saved a change first." in html
    assert "changed by Alice Owner since you opened it" in html
    assert alice_value in _saved_now(html)  # what Alice saved, beside the field ...
    again = form_values(html)
    assert again[bob_field] == [bob_value]  # ... and what Bob typed, kept in the form
    assert again[alice_field] == original
    assert again["version"] == ["2"]  # a second submit saves over version 2
    db.session.refresh(record)
    assert record.version == 2
    assert _audited(db, record) == 1  # Alice's save only

    # Bob takes Alice's change over and saves again: both changes are kept.
    resaved = as_bob.post(url, data={**again, alice_field: alice_value})
    assert resaved.status_code == 302, resaved.get_data(as_text=True)[:2000]
    db.session.refresh(record)
    assert record.version == 3
    page = form_values(as_alice.get(url).get_data(as_text=True))
    assert (page[alice_field], page[bob_field], page["version"]) == ([alice_value], [bob_value], ["3"])


def _audited(db, record) -> int:
    edits = ("study.update", "task.update", "participant.update", "session.reschedule", "finding.update",
             "note.edit")
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == type(record).__name__, AuditEvent.object_id == record.id,
        AuditEvent.action.in_(edits)))


def test_a_form_without_its_version_is_refused_with_the_current_values(db, two_editors):
    alice, as_alice, _bob, _as_bob = two_editors
    study, url, _, _ = _records(db, alice)["study"]
    form = form_values(as_alice.get(url).get_data(as_text=True))
    del form["version"]
    refused = as_alice.post(url, data={**form, "title": "From an old page"})
    assert refused.status_code == 409
    assert "did not say which version" in refused.get_data(as_text=True)
    assert form_values(refused.get_data(as_text=True))["version"] == ["1"]
    db.session.refresh(study)
    assert study.title != "From an old page"


def test_a_stale_participant_edit_records_no_consent_either(db, two_editors):
    alice, as_alice, _bob, as_bob = two_editors
    participant, url, _, _ = _records(db, alice)["participant"]
    alice_form, bob_form = (form_values(c.get(url).get_data(as_text=True)) for c in (as_alice, as_bob))
    assert as_alice.post(url, data={**alice_form, "name": "Ann Lee"}).status_code == 302
    refused = as_bob.post(url, data={**bob_form, "consent_date": "2025-03-01", "consent_version": "v9"})
    assert refused.status_code == 409
    db.session.refresh(participant)
    assert [c.form_version for c in participant.consents] == ["v1"]
    assert form_values(refused.get_data(as_text=True))["consent_version"] == ["v9"]  # kept to re-apply


# --- the API: 409 with the record as it is now ---------------------------------------------------------


@pytest.fixture
def bearer(db):
    """Authorization headers carrying a fresh personal token of `user`."""

    def _headers(user) -> dict[str, str]:
        token = account_services.issue_token(user, "versions")
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return _headers


def _api_cases(db, alice):
    records = _records(db, alice)
    study, study_session = records["study"][0], records["session"][0]
    note = builders.make_note(study_session, alice, "Hesitates at checkout", tags=["problem"])
    db.session.commit()
    notes = f"/api/v1/sessions/{study_session.id}/notes"
    return {
        "study": (records["study"][0], f"/api/v1/studies/{study.id}", f"/api/v1/studies/{study.id}",
                  {"title": "Alice's title"}, {"goals": "Bob's goals"}),
        "task": (records["task"][0], f"/api/v1/tasks/{records['task'][0].id}", None,
                 {"title": "Alice's task"}, {"time_limit_s": 120}),
        "participant": (records["participant"][0], f"/api/v1/participants/{records['participant'][0].id}",
                        f"/api/v1/participants/{records['participant'][0].id}",
                        {"segments": {"age band": "25-34"}}, {"segments": {"device": "phone"}}),
        "session": (study_session, f"/api/v1/sessions/{study_session.id}",
                    f"/api/v1/sessions/{study_session.id}", {"location": "Lab 2"}, {"duration_min": 90}),
        "note": (note, f"{notes}/{note.client_uuid}", None, {"tags": ["problem", "quote"]},
                 {"body": "Bob's text"}),
        "finding": (records["finding"][0], f"/api/v1/findings/{records['finding'][0].id}",
                    f"/api/v1/findings/{records['finding'][0].id}", {"severity": 4},
                    {"description": "Bob's"}),
    }


@pytest.mark.parametrize("kind", ["study", "task", "participant", "session", "note", "finding"])
def test_two_api_edits_from_one_version_give_one_save_and_a_409_with_the_record_now(db, client, bearer,
                                                                                    make_user, kind):
    alice = make_user(name="Alice Owner")
    record, url, get_url, alice_change, bob_change = _api_cases(db, alice)[kind]
    as_alice, as_bob = bearer(alice), bearer(make_user(Role.ADMIN, name="Bob Admin"))
    if kind == "note":  # only a note's author edits it through the console API
        as_bob = as_alice
    saved = client.patch(url, json={"version": 1, **alice_change}, headers=as_alice)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["version"] == 2

    refused = client.patch(url, json={"version": 1, **bob_change}, headers=as_bob)
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"]["status"] == 409 and body["error"]["fields"].keys() == {"version"}
    assert "it is now version 2" in body["error"]["message"]
    current = body["current"]
    assert current["version"] == 2
    for name, value in alice_change.items():
        assert current[name] == value
    if get_url:
        assert current == client.get(get_url, headers=as_alice).get_json()
    db.session.refresh(record)
    assert record.version == 2
    for name in bob_change:
        assert current[name] != bob_change[name]  # nothing of Bob's change was saved

    resent = client.patch(url, json={"version": current["version"], **bob_change}, headers=as_bob)
    assert resent.status_code == 200 and resent.get_json()["version"] == 3
    assert {**alice_change, **bob_change}.items() <= resent.get_json().items()


def test_version_is_required_in_every_patch(db, client, bearer, make_user):
    alice = make_user()
    cases = _api_cases(db, alice)
    headers = bearer(alice)
    for kind, (_record, url, _get, change, _other) in cases.items():
        missing = client.patch(url, json=change, headers=headers)
        assert missing.status_code == 422 and "version" in missing.get_json()["error"]["fields"], kind
        alone = client.patch(url, json={"version": 1}, headers=headers)
        assert alone.status_code == 422, kind
        for bad in (0, "1", None, 2**31):
            refused = client.patch(url, json={"version": bad, **change}, headers=headers)
            assert refused.status_code == 422, kind


def test_a_stale_finding_patch_leaves_its_tasks_as_they_are(db, client, bearer, make_user):
    alice = make_user()
    finding, url, _get, _, _ = _api_cases(db, alice)["finding"]
    task = finding.study.tasks[0]
    headers = bearer(alice)
    assert client.patch(url, json={"version": 1, "title": "First"}, headers=headers).status_code == 200
    refused = client.patch(url, json={"version": 1, "task_ids": [task.id], "severity": 0}, headers=headers)
    assert refused.status_code == 409
    db.session.refresh(finding)
    assert (finding.tasks, finding.severity, finding.title) == ([], 2, "First")


def test_findings_api_follows_the_analysis_pages_permissions(db, client, bearer, make_user):
    alice = make_user()
    finding, url, _get, _, _ = _api_cases(db, alice)["finding"]
    listed = client.get(f"/api/v1/studies/{finding.study_id}/findings", headers=bearer(alice)).get_json()
    assert [f["id"] for f in listed["items"]] == [finding.id]
    stranger = bearer(make_user())
    assert client.get(url, headers=stranger).status_code == 404
    assert client.patch(url, json={"version": 1, "title": "x"}, headers=stranger).status_code == 404
    observer = bearer(make_user(Role.OBSERVER))
    assert client.get(f"/api/v1/studies/{finding.study_id}/findings", headers=observer).status_code == 404


# --- what does not count as an edit ----------------------------------------------------------------------


def test_changes_that_are_not_edits_leave_versions_alone(db, client, login, make_user):
    alice = make_user()
    records = _records(db, alice)
    study, task, study_session, finding = (records[k][0] for k in ("study", "task", "session", "finding"))
    participant = records["participant"][0]
    login(alice)
    study_form = form_values(client.get(records["study"][1]).get_data(as_text=True))
    session_form = form_values(client.get(records["session"][1]).get_data(as_text=True))

    planning_services.add_participant(study, alice, name="Bea")  # bumps the study's pseudonym counter
    second = planning_services.add_task(study, alice, title="Second task")
    planning_services.reorder_tasks(study, [second.id, task.id], alice)
    planning_services.record_consent(participant, datetime(2025, 1, 2).date(), "v2", alice)
    note = builders.make_note(study_session, alice, "No task on this one")
    db.session.commit()
    from usabtest.analysis import services as analysis_services

    analysis_services.attach_notes(finding, alice, [note.id])  # evidence, not the finding's text
    analysis_services.move_finding(study.id, finding.id, 1, alice)
    observe_services.start_session(study_session, alice)  # the console moves the status and clock
    observe_services.delete_note(note, alice)
    db.session.commit()
    for each in (study, task, participant, study_session, finding, note):
        db.session.refresh(each)
    assert (study.version, task.version, participant.version, study_session.version, finding.version,
            note.version) == (1, 1, 1, 1, 1, 1)
    assert study_session.status == SessionStatus.IN_PROGRESS

    # An open form is not refused because of them.
    saved = client.post(records["study"][1], data={**study_form, "title": "Still mine"})
    assert saved.status_code == 302
    assert session_form["version"] == ["1"]


def test_changing_an_edited_field_by_another_path_bumps_the_version(db, client, login, make_user):
    alice = make_user()
    study = builders.make_study(alice)
    db.session.commit()
    login(alice)
    form = form_values(client.get(f"/studies/{study.id}/edit").get_data(as_text=True))
    client.post(f"/studies/{study.id}/close", data={"confirmed": "yes"})  # the status is a field of the form
    db.session.refresh(study)
    assert study.version == 2
    refused = client.post(f"/studies/{study.id}/edit", data={**form, "title": "Reopened by mistake?"})
    assert refused.status_code == 409
    assert "Closed" in _saved_now(refused.get_data(as_text=True))
    db.session.refresh(study)
    assert study.status.value == "closed"


# --- true concurrency: two connections that both read version 1 -------------------------------------------


@pytest.mark.committed
def test_two_concurrent_saves_from_one_version_give_one_save_and_one_conflict(app, db, make_study):
    """Both requests read version 1; the atomic UPDATE lets exactly one of them save.

    Alice's request claims the version and holds its transaction open; Bob's starts meanwhile. On
    PostgreSQL Bob reads version 1 too and his UPDATE waits for Alice's row lock, then finds no row
    of version 1; on SQLite his writing request waits for the write lock and reads version 2.
    """
    study = make_study(title="Before")
    study_id, owner_id = study.id, study.owner_id
    alice_claimed, results, reads = threading.Event(), {}, {}

    def edit(name: str, title: str, wait_for: threading.Event | None, hold: float) -> None:
        with app.test_request_context(method="POST"):  # a writing request, as the pages and API make
            try:
                if wait_for is not None:
                    assert wait_for.wait(10)
                current = db.session.get(Study, study_id)
                reads[name] = current.version
                actor = db.session.get(User, owner_id)
                planning_services.update_study(
                    current, actor, version=1, organisation=current.organisation, title=title,
                    product="", goals="", method=current.method, status=current.status)
                db.session.flush()
                if wait_for is None:
                    alice_claimed.set()
                    time.sleep(hold)  # Bob's request starts while this one is still open
                db.session.commit()
                results[name] = "saved"
            except StaleVersion as exc:
                db.session.rollback()
                results[name] = f"conflict at version {exc.current_version}"
            finally:
                db.session.remove()

    alice = threading.Thread(target=edit, args=("alice", "Alice's title", None, 0.5))
    bob = threading.Thread(target=edit, args=("bob", "Bob's title", alice_claimed, 0))
    alice.start()
    bob.start()
    alice.join(20)
    bob.join(20)
    assert results == {"alice": "saved", "bob": "conflict at version 2"}
    if db.engine.dialect.name == "postgresql":
        assert reads == {"alice": 1, "bob": 1}  # the UPDATE itself refused Bob
    db.session.rollback()  # a fresh transaction sees both requests' work
    saved = db.session.get(Study, study_id)
    assert (saved.title, saved.version) == ("Alice's title", 2)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "study.update")) == 1


@pytest.mark.committed
def test_simultaneous_api_patches_from_one_version_save_once(db, live_server, make_study):
    study = make_study(title="Before")
    token = account_services.issue_token(study.owner, "race")
    db.session.commit()
    url = f"{live_server}/api/v1/studies/{study.id}"
    start, statuses = threading.Barrier(6), []

    def patch(n: int) -> None:
        request = urllib.request.Request(
            url, method="PATCH",
            data=json.dumps({"version": 1, "title": f"Title {n}"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        start.wait(10)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409]
    db.session.rollback()  # a fresh transaction sees both requests' work
    saved = db.session.scalars(sa.select(Study)).one()
    assert saved.version == 2 and saved.title.startswith("Title ")

