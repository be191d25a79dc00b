"""Restarting a task, undoing a task start and correcting task attempts afterwards (API and rule)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest.accounts.models import Role
from usabtest.analysis import metrics
from usabtest.analysis.results import compute_study_results
from usabtest.db import utcnow
from usabtest.observe.models import SessionEvent, TaskAttempt, TaskAttemptRevision


def _events(db):
    return [e.kind for e in db.session.scalars(sa.select(SessionEvent).order_by(SessionEvent.id))]


def _attempts(db, task=None):
    query = sa.select(TaskAttempt).order_by(TaskAttempt.task_id, TaskAttempt.number)
    if task is not None:
        query = query.where(TaskAttempt.task_id == task.id)
    return db.session.scalars(query).all()


@pytest.fixture
def running(db, client, login, make_session):
    """A session in progress, its moderator signed in; returns (session, API base, first task, second)."""
    study_session = make_session()
    first, second = study_session.study.tasks
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    assert client.post(f"{base}/start").status_code == 200
    return study_session, base, first, second


def _ended_attempt(client, base, task, **end):
    client.post(f"{base}/tasks/{task.id}/start")
    state = client.post(f"{base}/tasks/{task.id}/end",
                        json={"outcome": "success", "errors": 1, "seq": 5, **end}).get_json()
    return next(a for a in reversed(state["attempts"]) if a["task_id"] == task.id)


# --- restart -------------------------------------------------------------------------------------

def test_restart_makes_a_new_attempt_and_keeps_the_first(db, client, running):
    study_session, base, first, _second = running
    _ended_attempt(client, base, first, outcome="failure")
    refused = client.post(f"{base}/tasks/{first.id}/start")
    assert refused.status_code == 409 and "restart" in refused.get_json()["error"]["message"]
    state = client.post(f"{base}/tasks/{first.id}/restart")
    assert state.status_code == 200
    body = state.get_json()
    assert body["current_task_id"] == first.id
    assert [(a["number"], a["outcome"]) for a in body["attempts"]] == [(1, "failure"), (2, None)]
    client.post(f"{base}/tasks/{first.id}/end", json={"outcome": "success", "seq": 6})
    assert [(a.number, a.outcome.value) for a in _attempts(db, first)] == [(1, "failure"), (2, "success")]
    assert _events(db)[-2:] == ["task.started", "task.ended"]


def test_restarting_the_running_task_stops_its_attempt_without_an_outcome(db, client, running):
    _study_session, base, first, second = running
    client.post(f"{base}/tasks/{first.id}/start")
    assert client.post(f"{base}/tasks/{second.id}/restart").status_code == 409  # another task runs
    body = client.post(f"{base}/tasks/{first.id}/restart").get_json()
    one, two = _attempts(db, first)
    assert one.ended_at is not None and one.outcome is None
    assert two.ended_at is None and body["current_task_id"] == first.id
    assert "task.restarted" in _events(db)


def test_analysis_counts_the_last_attempt_with_an_outcome(db, client, running):
    study_session, base, first, _second = running
    _ended_attempt(client, base, first, outcome="failure", seq=2)
    client.post(f"{base}/tasks/{first.id}/restart")
    client.post(f"{base}/tasks/{first.id}/end", json={"outcome": "success", "errors": 0, "seq": 7})
    client.post(f"{base}/tasks/{first.id}/restart")  # a third attempt, still running: not counted
    result = compute_study_results(study_session.study_id).tasks[0]
    assert (result.attempts, result.successes, result.seq.value, result.errors_mean) == (1, 1, 7, 0)


def test_counted_attempts_rule_is_pure_and_picks_the_last_finished_attempt():
    def attempt(session, task, number, outcome):
        return SimpleNamespace(session_id=session, task_id=task, number=number, outcome=outcome)

    rows = [attempt(1, 1, 2, "success"), attempt(1, 1, 1, "failure"), attempt(1, 1, 3, None),
            attempt(2, 1, 1, "assisted"), attempt(1, 2, 1, None)]
    assert metrics.counted_attempts(rows) == [rows[0], rows[3]]
    assert "last attempt" in metrics.ATTEMPT_RULE
    with pytest.raises(ValueError):
        metrics.counted_attempts([attempt(1, 1, -1, "success")])


def test_results_page_states_the_attempt_rule(db, client, login, make_study):
    study = make_study(tasks=1)
    login(study.owner)
    page = client.get(f"/studies/{study.id}/results").get_data(as_text=True)
    assert metrics.ATTEMPT_RULE.replace("'", "&#39;") in page


# --- undo -----------------------------------------------------------------------------------------

def test_undo_removes_a_task_start_within_the_first_seconds(db, client, running):
    _study_session, base, first, second = running
    client.post(f"{base}/tasks/{first.id}/start")
    assert client.post(f"{base}/tasks/{second.id}/undo").status_code == 409  # not the running task
    body = client.post(f"{base}/tasks/{first.id}/undo").get_json()
    assert body["current_task_id"] is None and body["attempts"] == []
    assert _events(db)[-1] == "task.undone"
    assert client.post(f"{base}/tasks/{first.id}/start").status_code == 200  # a fresh first attempt


def test_undo_is_refused_after_ten_seconds(db, client, running):
    _study_session, base, first, _second = running
    client.post(f"{base}/tasks/{first.id}/start")
    attempt = _attempts(db, first)[0]
    attempt.started_at = utcnow() - timedelta(seconds=11)
    db.session.commit()
    refused = client.post(f"{base}/tasks/{first.id}/undo")
    assert refused.status_code == 409 and "10 seconds" in refused.get_json()["error"]["message"]
    assert len(_attempts(db, first)) == 1


def test_undoing_a_restart_resumes_the_attempt_it_stopped(db, client, running):
    _study_session, base, first, _second = running
    client.post(f"{base}/tasks/{first.id}/start")
    client.post(f"{base}/tasks/{first.id}/restart")
    body = client.post(f"{base}/tasks/{first.id}/undo").get_json()
    (only,) = _attempts(db, first)
    assert only.number == 1 and only.ended_at is None and body["current_task_id"] == first.id


def test_observer_cannot_restart_or_undo(db, client, login, make_user, make_session):
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    task = study_session.study.tasks[0]
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    client.post(f"{base}/start")
    client.post(f"{base}/tasks/{task.id}/start")
    login(observer)
    assert client.post(f"{base}/tasks/{task.id}/undo").status_code == 403
    assert client.post(f"{base}/tasks/{task.id}/restart").status_code == 403
    assert len(_attempts(db)) == 1


# --- corrections ----------------------------------------------------------------------------------

def test_correction_changes_the_attempt_and_keeps_its_history(db, client, running):
    study_session, base, first, _second = running
    attempt = _ended_attempt(client, base, first)
    started = attempt["started_at"]
    response = client.patch(f"{base}/attempts/{attempt['id']}", json={
        "version": attempt["version"], "outcome": "assisted", "errors": 3, "seq": None})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["outcome"], body["errors"], body["seq"]) == ("assisted", 3, None)
    assert body["version"] == attempt["version"] + 1 and body["started_at"] == started
    history = client.get(f"{base}/attempts/{attempt['id']}/history").get_json()
    (change,) = history["items"]
    assert change["before"] == {"outcome": "success", "error_count": 1, "seq": 5}
    assert change["after"] == {"outcome": "assisted", "error_count": 3, "seq": None}
    assert change["actor"]["id"] == study_session.moderator_id
    assert _events(db)[-1] == "attempt.corrected"


def test_correction_of_times_moves_the_duration(db, client, running):
    study_session, base, first, _second = running
    study_session.started_at -= timedelta(minutes=10)
    db.session.commit()
    attempt = _ended_attempt(client, base, first)
    start, end = utcnow() - timedelta(minutes=5), utcnow() - timedelta(minutes=3)
    response = client.patch(f"{base}/attempts/{attempt['id']}", json={
        "version": attempt["version"], "started_at": start.isoformat(), "ended_at": end.isoformat()})
    assert response.status_code == 200, response.get_json()
    stored = db.session.get(TaskAttempt, attempt["id"])
    db.session.refresh(stored)
    assert stored.duration_s == pytest.approx(120)


@pytest.mark.parametrize(("change", "field"), [
    ({"ended_at": "2000-01-01T00:00:00+00:00"}, "ended_at"),  # before the start
    ({"seq": 8}, "seq"),
    ({"seq": 0}, "seq"),
    ({"errors": -1}, "errors"),
    ({"outcome": "great"}, "outcome"),
    ({"outcome": None}, "outcome"),
    ({"started_at": "2026-12-01T10:00:00"}, "started_at"),  # no time zone
    ({"started_at": "2000-01-01T00:00:00+00:00"}, "started_at"),  # before the session started
    ({"ended_at": "2999-01-01T00:00:00+00:00"}, "ended_at"),  # in the future
    ({"number": 3}, "number"),
])
def test_bad_correction_is_refused_naming_the_field_and_changes_nothing(db, client, running, change, field):
    _study_session, base, first, _second = running
    attempt = _ended_attempt(client, base, first)
    url = f"{base}/attempts/{attempt['id']}"
    response = client.patch(url, json={"version": attempt["version"], **change})
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    stored = db.session.get(TaskAttempt, attempt["id"])
    db.session.refresh(stored)
    assert (stored.outcome.value, stored.error_count, stored.seq, stored.version) == ("success", 1, 5,
                                                                                     attempt["version"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskAttemptRevision)) == 0


def test_stale_correction_answers_409_with_the_attempt_now(db, client, running):
    _study_session, base, first, _second = running
    attempt = _ended_attempt(client, base, first)
    url = f"{base}/attempts/{attempt['id']}"
    assert client.patch(url, json={"version": attempt["version"], "seq": 3}).status_code == 200
    stale = client.patch(url, json={"version": attempt["version"], "seq": 6})
    assert stale.status_code == 409
    assert stale.get_json()["current"]["seq"] == 3
    assert db.session.get(TaskAttempt, attempt["id"]).seq == 3


def test_running_attempt_cannot_be_corrected(db, client, running):
    _study_session, base, first, _second = running
    state = client.post(f"{base}/tasks/{first.id}/start").get_json()
    attempt = state["attempts"][0]
    url = f"{base}/attempts/{attempt['id']}"
    response = client.patch(url, json={"version": attempt["version"], "seq": 3})
    assert response.status_code == 409


def test_who_may_correct(db, client, login, make_user, make_member, make_session, make_study):
    observer = make_user(Role.OBSERVER)
    colleague = make_user(Role.RESEARCHER)
    study_session = make_session(observers=[observer])
    make_member(study_session.study, colleague, "researcher")
    task = study_session.study.tasks[0]
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    client.post(f"{base}/start")
    attempt = _ended_attempt(client, base, task)
    url = f"{base}/attempts/{attempt['id']}"
    login(observer)
    assert client.patch(url, json={"version": attempt["version"], "seq": 2}).status_code == 403
    assert client.get(f"{url}/history").status_code == 200
    login(colleague)
    assert client.patch(url, json={"version": attempt["version"], "seq": 2}).status_code == 200
    other = make_session(study=make_study(tasks=1))
    assert client.patch(f"/api/v1/sessions/{other.id}/attempts/{attempt['id']}",
                        json={"version": 2, "seq": 2}).status_code == 404


def test_correction_may_not_overlap_another_attempt(db, client, running):
    study_session, base, first, second = running
    study_session.started_at -= timedelta(minutes=10)
    db.session.commit()
    one = _ended_attempt(client, base, first)
    two = _ended_attempt(client, base, second)
    stored_one = db.session.get(TaskAttempt, one["id"])
    response = client.patch(f"{base}/attempts/{two['id']}", json={
        "version": two["version"], "started_at": (stored_one.started_at - timedelta(seconds=30)).isoformat()})
    assert response.status_code == 422
    assert "overlap attempt 1" in response.get_json()["error"]["fields"]["started_at"]
