"""Participants' rights: erasure, withdrawal of consent and the export of one participant's data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.confirm_helpers import ask, confirm, text
from tests.test_reports_pdf import body_text
from usabtest import builders
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role
from usabtest.analysis import results as analysis
from usabtest.core.models import AuditEvent, MailDelivery, MailStatus, OutboxMail
from usabtest.db import utcnow
from usabtest.observe import services as observe
from usabtest.observe.models import Note, NoteRevision, Outcome
from usabtest.participants import services as rights
from usabtest.planning import services as planning
from usabtest.planning.models import ParticipantPersonal, SessionStatus
from usabtest.reports import data as report_data
from usabtest.reports import pdf

NAME, EMAIL, PHONE = "Zelda Quartermain", "zelda.q@example.org", "+44 20 7946 0999"


@pytest.fixture
def bearer(db):
    """Authorization headers carrying a fresh personal token of `user`."""

    def _headers(user) -> dict[str, str]:
        token = account_services.issue_token(user, "tests")
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return _headers


@pytest.fixture
def zelda(db, make_study):
    """A study with a participant who took part in a completed session (attempt, notes, SUS, a finding)
    and has another session scheduled; one of her notes was edited, another deleted."""
    study = make_study(tasks=1)
    owner = study.owner
    participant = builders.make_participant(study, name=NAME, email=EMAIL, phone=PHONE,
                                            segments={"age band": "25-34"})
    past = builders.make_session(study, participant, starts_at=utcnow() - timedelta(days=2),
                                 status=SessionStatus.COMPLETED)
    future = builders.make_session(study, participant, starts_at=utcnow() + timedelta(days=3))
    builders.make_task_attempt(past, study.tasks[0], outcome=Outcome.SUCCESS, seq=6, error_count=1)
    builders.make_sus_response(past)
    kept = builders.make_note(past, owner, "Zelda said her husband does the banking")
    gone = builders.make_note(past, owner, "Zelda lives at 4 Privet Drive")
    builders.make_finding(study, "Banking is shared", notes=[kept])
    db.session.commit()
    observe.edit_note(kept, owner, {"body": "P01 said someone else does the banking"}, kept.version)
    observe.delete_note(gone, owner)
    planning.update_participant(participant, owner, version=participant.version, name=NAME, email=EMAIL,
                                phone=PHONE, segments={"age band": "25-34"})
    db.session.commit()
    return {"study": study, "participant": participant, "past": past, "future": future, "kept": kept,
            "gone_id": gone.id}


def _audit_text(db) -> str:
    return json.dumps([e.details for e in db.session.scalars(sa.select(AuditEvent))])


# --- erasure ----------------------------------------------------------------------------------------


def test_erasing_asks_first_then_wipes_personal_data_and_keeps_pseudonym_notes_and_metrics(client, login, db,
                                                                                         zelda):
    participant, study = zelda["participant"], zelda["study"]
    login(study.owner)
    url = f"/participants/{participant.id}/erase"
    html, form = ask(client, url)
    said = text(html)
    assert "Erase participant P01?" in said
    assert "1 scheduled session will be cancelled" in said
    assert "1 deleted note will be removed for good" in said
    assert "Kept: the pseudonym P01" in said and "1 note as they read now" in said
    db.session.refresh(participant)
    assert not participant.erased and participant.personal is not None  # asking changed nothing

    assert confirm(client, form).status_code == 302
    db.session.expire_all()
    assert participant.erased and participant.erased_at is not None
    assert participant.personal is None and participant.segments == {}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ParticipantPersonal)) == 0
    assert participant.code == "P01"
    assert zelda["future"].status == SessionStatus.CANCELLED
    assert zelda["past"].status == SessionStatus.COMPLETED
    kept = db.session.get(Note, zelda["kept"].id)
    assert kept.body == "P01 said someone else does the banking"  # the note as it reads now stays
    assert db.session.get(Note, zelda["gone_id"]) is None  # a deleted note's text goes for good
    history = json.dumps([[r.before, r.after] for r in db.session.scalars(sa.select(NoteRevision))])
    assert "husband" not in history and "[erased]" in history
    results = analysis.compute_study_results(study.id)
    assert results.tasks[0].successes == 1 and results.sus.n == 1  # the metrics stay

    audit = _audit_text(db)
    for secret in (NAME, "Zelda", EMAIL, PHONE, "25-34", "husband", "Privet"):
        assert secret not in audit
    erasure = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "participant.erase"))
    assert erasure.actor_id == study.owner.id and erasure.object_id == participant.id
    assert erasure.details["code"] == "P01" and erasure.details["notes_purged"] == 1

    page = client.get(f"/participants/{participant.id}").get_data(as_text=True)
    assert "Erased on" in page and NAME not in page
    overview = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert f'/participants/{participant.id}">P01</a>' in overview and NAME not in overview


def test_erasing_twice_is_harmless(client, login, db, bearer, zelda):
    participant = zelda["participant"]
    login(zelda["study"].owner)
    html, form = ask(client, f"/participants/{participant.id}/erase")
    confirm(client, form)
    again = client.post(f"/participants/{participant.id}/erase", data={"confirmed": "yes"})
    assert again.status_code == 302
    answer = client.post(f"/api/v1/participants/{participant.id}/erase", headers=bearer(zelda["study"].owner))
    assert answer.status_code == 200
    assert answer.get_json()["sessions_cancelled"] == [] and answer.get_json()["participant"]["erased"]
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "participant.erase"))
    assert count == 1


def test_an_erased_participant_cannot_be_edited_rescheduled_or_given_consent(client, login, db, zelda):
    participant, owner = zelda["participant"], zelda["study"].owner
    rights.erase_participant(participant, owner)
    db.session.commit()
    login(owner)
    response = client.get(f"/participants/{participant.id}/edit")
    assert response.status_code == 302 and response.location.endswith(f"/participants/{participant.id}")
    with pytest.raises(planning.Conflict):
        planning.record_consent(participant, utcnow().date(), "v2", owner)


@pytest.mark.config(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT=1, MAIL_DELIVER_IN_APP=False)
def test_erasing_tells_the_team_not_the_participant_and_removes_the_mail_sent_to_them(db, zelda):
    participant, owner, past = zelda["participant"], zelda["study"].owner, zelda["past"]
    db.session.add(MailDelivery(study_id=past.study_id, session_id=past.id, recipient=EMAIL,
                                subject="Your usability session", purpose="invitation",
                                status=MailStatus.SENT))
    db.session.add(OutboxMail(purpose="invitation", study_id=past.study_id, session_id=past.id,
                              subject="Your usability session",
                              message=f"To: {NAME} <{EMAIL.upper()}>\n\nHello Zelda"))
    db.session.commit()
    rights.erase_participant(participant, owner)
    db.session.commit()
    messages = [m.message for m in db.session.scalars(sa.select(OutboxMail))]
    assert len(messages) == 1 and "Cancelled" in messages[0]  # the moderator's calendar cancellation
    assert all(EMAIL not in m.lower() and "Zelda" not in m for m in messages)
    assert db.session.scalar(sa.select(MailDelivery.recipient)) == "P01 (erased)"


# --- export -----------------------------------------------------------------------------------------


def test_export_downloads_everything_held_about_the_participant(client, login, db, zelda):
    participant = zelda["participant"]
    login(zelda["study"].owner)
    page = client.get(f"/participants/{participant.id}").get_data(as_text=True)
    assert f'href="/participants/{participant.id}/export.json"' in page
    response = client.get(f"/participants/{participant.id}/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    data = response.get_json()
    assert data["personal"] == {"name": NAME, "email": EMAIL, "phone": PHONE}
    assert data["segments"] == {"age band": "25-34"} and data["code"] == "P01"
    assert [c["form_version"] for c in data["consents"]] == ["v1"]
    past, future = data["sessions"]
    assert (past["status"], future["status"]) == ("completed", "scheduled")
    attempt = past["task_attempts"][0]
    assert (attempt["outcome"], attempt["seq"], attempt["error_count"], attempt["task_title"]) == (
        "success", 6, 1, "Task 1")
    assert [n["body"] for n in past["notes"]] == ["P01 said someone else does the banking"]
    assert past["sus"] == {"answers": [4, 2] * 5, "score": 75.0}


def test_exporting_an_erased_participant_shows_only_what_is_kept(client, login, db, bearer, zelda):
    participant, owner = zelda["participant"], zelda["study"].owner
    rights.erase_participant(participant, owner)
    db.session.commit()
    body = client.get(f"/api/v1/participants/{participant.id}/export", headers=bearer(owner))
    assert body.status_code == 200
    data = body.get_json()
    assert data["erased"] and data["personal"] is None and data["segments"] == {}
    assert data["sessions"][0]["sus"]["score"] == 75.0 and len(data["consents"]) == 1
    raw = body.get_data(as_text=True)
    for secret in (NAME, EMAIL, PHONE, "25-34", "Privet"):
        assert secret not in raw


# --- withdrawal of consent --------------------------------------------------------------------------


def test_withdrawing_consent_cancels_sessions_and_leaves_the_participant_out_of_new_reports(client, login, db,
                                                                                          zelda):
    participant, study = zelda["participant"], zelda["study"]
    other = builders.make_participant(study)
    other_session = builders.make_session(study, other, starts_at=utcnow() - timedelta(days=1),
                                          status=SessionStatus.COMPLETED)
    builders.make_task_attempt(other_session, study.tasks[0], outcome=Outcome.FAILURE)
    db.session.commit()
    before = report_data.build_report_data(study.id)
    assert [p.code for p in before.participants] == ["P01", "P02"]
    assert (before.findings[0].frequency, before.findings[0].participants) == (1, 2)

    login(study.owner)
    html, form = ask(client, f"/participants/{participant.id}/withdraw-consent")
    assert "Record that P01 withdrew consent?" in text(html)
    assert "1 scheduled session will be cancelled" in text(html)
    assert participant.consent_withdrawn_at is None
    confirm(client, form)
    db.session.expire_all()
    assert participant.consent_withdrawn_at is not None
    assert participant.consent_withdrawn_by_id == study.owner.id and not participant.has_consent
    assert zelda["future"].status == SessionStatus.CANCELLED
    assert participant.personal.name == NAME  # withdrawing is not erasing

    after = report_data.build_report_data(study.id)
    assert [p.code for p in after.participants] == ["P02"] and after.session_count == 1
    assert after.participants_withdrawn == 1
    assert after.withdrawn_text == "1 participant withdrew consent and is left out of this report."
    assert after.tasks[0].metrics.attempts == 1 and after.tasks[0].metrics.successes == 0
    assert after.sus is None
    finding = after.findings[0]
    assert (finding.frequency, finding.participants, finding.quotes) == (0, 1, ())
    results = analysis.compute_study_results(study.id)
    assert results.participants_observed == 1 and results.participants_withdrawn == 1
    for kind in ("attempts", "sus"):  # the metrics' data exports leave them out too
        exported = client.get(f"/studies/{study.id}/exports/{kind}.csv").get_data(as_text=True)
        assert "P01" not in exported and (kind == "sus" or "P02" in exported)
    shown = text(client.get(f"/studies/{study.id}/results").get_data(as_text=True))
    assert "1 participant withdrew consent and is left out of these results" in shown
    event = db.session.scalar(sa.select(AuditEvent)
                              .where(AuditEvent.action == "participant.consent_withdraw"))
    assert event.actor_id == study.owner.id and event.details["sessions_cancelled"] == [zelda["future"].id]

    page = client.get(f"/participants/{participant.id}").get_data(as_text=True)
    assert "Consent withdrawn on" in page and "left out of new reports" in page
    overview = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert "Consent withdrawn" in overview


def test_a_participant_who_withdrew_cannot_be_scheduled_or_consent_again(db, zelda):
    participant, study = zelda["participant"], zelda["study"]
    planning.withdraw_consent(participant, study.owner)
    db.session.commit()
    assert planning.withdraw_consent(participant, study.owner) == []  # again: nothing changes
    draft = planning.SessionDraft(participant=participant, day=(utcnow() + timedelta(days=5)).date(),
                                  at=utcnow().time().replace(microsecond=0), tz_name="UTC", duration_min=30,
                                  moderator=study.owner, location="Lab")
    with pytest.raises(planning.PlanningError, match="withdrew consent"):
        planning.schedule_session(study, draft, study.owner)
    with pytest.raises(planning.PlanningError, match="add them as a new participant"):
        planning.record_consent(participant, utcnow().date(), "v2", study.owner)


def test_api_withdraws_consent_once(client, db, bearer, zelda):
    participant, owner = zelda["participant"], zelda["study"].owner
    url = f"/api/v1/participants/{participant.id}/withdraw-consent"
    first = client.post(url, headers=bearer(owner))
    assert first.status_code == 200
    body = first.get_json()
    assert body["sessions_cancelled"] == [zelda["future"].id]
    assert body["participant"]["consent_withdrawn_at"] and not body["participant"]["has_consent"]
    second = client.post(url, headers=bearer(owner)).get_json()
    assert second["sessions_cancelled"] == [] and second["withdrawn_at"] == body["withdrawn_at"]


# --- who may ------------------------------------------------------------------------------------------


def test_only_the_studys_managers_use_participants_rights(app, client, login, db, bearer, make_user,
                                                          make_member, zelda):
    participant, study = zelda["participant"], zelda["study"]
    olive, stranger = make_user(Role.OBSERVER), make_user(Role.RESEARCHER)
    make_member(study, olive)
    pages = [f"/participants/{participant.id}", f"/participants/{participant.id}/export.json",
             f"/participants/{participant.id}/erase", f"/participants/{participant.id}/withdraw-consent"]
    login(olive)
    assert [client.get(url).status_code for url in pages] == [403] * 4
    assert client.post(pages[2], data={"confirmed": "yes"}).status_code == 403
    elsewhere = login(stranger, on=app.test_client())
    assert [elsewhere.get(url).status_code for url in pages] == [404] * 4
    api = app.test_client()
    for user, status in ((olive, 403), (stranger, 404)):
        headers = bearer(user)
        assert api.get(f"/api/v1/participants/{participant.id}/export", headers=headers).status_code == status
        assert api.post(f"/api/v1/participants/{participant.id}/erase", headers=headers).status_code == status
        assert api.post(f"/api/v1/participants/{participant.id}/withdraw-consent",
                        headers=headers).status_code == status
    db.session.refresh(participant)
    assert not participant.erased and participant.consent_withdrawn_at is None
    manager = login(study.owner, on=app.test_client())
    assert manager.get("/participants/999999/export.json").status_code == 404
    assert manager.get("/participants/99999999999999999999").status_code == 404
    owner = bearer(study.owner)
    assert api.get("/api/v1/participants/99999999999999999999/export", headers=owner).status_code == 404
    assert api.post("/api/v1/participants/999999/erase", headers=owner).status_code == 404


def test_the_reports_participant_section_counts_those_who_withdrew(db, zelda):
    participant, study = zelda["participant"], zelda["study"]
    planning.withdraw_consent(participant, study.owner)
    db.session.commit()
    said = " ".join(body_text(pdf.render(report_data.build_report_data(study.id))).split())
    assert ("No participant's results can be reported. 1 participant withdrew consent and is left out of "
            "this report.") in said
