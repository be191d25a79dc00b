"""Recently deleted: findings and notes stay there 30 days, vanish elsewhere, come back whole, then go."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.confirm_helpers import ask, confirm, text
from usabtest import builders
from usabtest.analysis import results
from usabtest.analysis.models import Finding, Screenshot, finding_note
from usabtest.core.models import AuditEvent
from usabtest.db import utcnow
from usabtest.observe import events
from usabtest.observe.models import Note
from usabtest.planning.models import SessionStatus
from usabtest.reports.data import build_report_data


def _png(colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def evidence(db, make_study, make_participant, make_session, make_note):
    """A study with four notes from two participants backing a finding with two screenshots."""
    study = make_study(tasks=1)
    notes, sessions = [], []
    for index in range(2):
        participant = make_participant(study)
        study_session = make_session(study=study, participant=participant, status=SessionStatus.COMPLETED)
        sessions.append(study_session)
        for k in range(2):
            notes.append(make_note(study_session, study.owner, body=f"P0{index + 1} says {k}",
                                   task=study.tasks[0], elapsed_ms=1000 * (k + 1)))
    shots = [builders.make_screenshot(_png(), width=4, height=3, filename="cart.png", caption="Cart"),
             builders.make_screenshot(_png((0, 90, 0)), width=4, height=3, filename="pay.png")]
    finding = builders.make_finding(study, "Coupon field hidden", severity=3, notes=notes,
                                    tasks=study.tasks, screenshots=shots)
    other = builders.make_finding(study, "Other finding", notes=notes[:1])
    db.session.commit()
    return study, finding, other, notes, sessions


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_deleting_a_finding_asks_with_counts_then_hides_it_everywhere(client, login, db, evidence):
    study, finding, _other, notes, _sessions = evidence
    finding_id, shot_ids = finding.id, [s.id for s in finding.screenshots]
    base = f"/studies/{study.id}"
    login(study.owner)

    html, form = ask(client, f"{base}/findings/{finding_id}/delete")
    said = text(html)
    assert "Delete the finding “Coupon field hidden”?" in said
    assert ("The finding and its 2 screenshots and 4 evidence links go to Recently deleted for 30 days"
            in said)
    assert db.session.get(Finding, finding_id).deleted_at is None
    assert "Coupon field hidden" in _page(client, f"{base}/findings")

    done = confirm(client, form)
    assert done.status_code == 302
    assert "moved to Recently deleted" in _page(client, done.headers["Location"])  # the notice is read
    assert db.session.get(Finding, finding_id).deleted_at is not None
    for page in ("findings", "notes", "matrix", "exports/findings.csv", "exports/notes.csv"):
        assert "Coupon field hidden" not in _page(client, f"{base}/{page}"), page
    assert client.get(f"{base}/findings/{finding_id}").status_code == 404
    assert client.get(f"{base}/findings/{finding_id}/edit").status_code == 404
    assert client.get(f"{base}/findings/{finding_id}/screenshots/{shot_ids[0]}").status_code == 404
    assert [f.title for f in results.ranked_findings(study.id)] == ["Other finding"]
    assert [f.title for f in build_report_data(study.id).findings] == ["Other finding"]
    # Its notes stay on the board.
    assert "4 notes" in _page(client, f"{base}/notes")

    listed = text(_page(client, f"{base}/deleted"))
    assert "Coupon field hidden" in listed and "2 screenshots, 4 evidence links" in listed
    assert f"by {study.owner.name}" in listed


def test_a_restored_finding_has_its_evidence_and_screenshots_back(client, login, db, evidence):
    study, finding, _other, notes, _sessions = evidence
    finding_id = finding.id
    images = {s.id: s.data for s in finding.screenshots}
    base = f"/studies/{study.id}"
    login(study.owner)
    _html, form = ask(client, f"{base}/findings/{finding_id}/delete")
    confirm(client, form)

    response = client.post(f"{base}/deleted/findings/{finding_id}/restore")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{base}/findings/{finding_id}"
    page = text(_page(client, response.headers["Location"]))
    assert "Evidence notes (4)" in page and "2 of 2 participants" in page
    for shot_id, data in images.items():
        image = client.get(f"{base}/findings/{finding_id}/screenshots/{shot_id}")
        assert image.status_code == 200 and image.data == data
    assert "Coupon field hidden" in _page(client, f"{base}/exports/findings.csv")
    summary = next(f for f in results.ranked_findings(study.id) if f.id == finding_id)
    assert {e.note_id for e in summary.evidence} == {n.id for n in notes}
    assert [t.id for t in summary.tasks] == [study.tasks[0].id]
    assert "No deleted findings." in _page(client, f"{base}/deleted")
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_type == "Finding")).all()
    assert actions[-2:] == ["finding.delete", "finding.restore"]


def test_a_restored_finding_returns_last_in_a_hand_made_order(client, login, db, evidence):
    study, finding, other, _notes, _sessions = evidence
    third = builders.make_finding(study, "Third")
    finding.position, other.position, third.position = 0, 1, 2
    db.session.commit()
    login(study.owner)
    _html, form = ask(client, f"/studies/{study.id}/findings/{finding.id}/delete")
    confirm(client, form)
    client.post(f"/studies/{study.id}/findings/{third.id}/move/up")
    client.post(f"/studies/{study.id}/deleted/findings/{finding.id}/restore")
    order = [f.title for f in results.ranked_findings(study.id)]
    assert order == ["Third", "Other finding", "Coupon field hidden"]


def test_deleting_twice_is_harmless(client, login, db, evidence):
    study, finding, _other, _notes, _sessions = evidence
    login(study.owner)
    _html, form = ask(client, f"/studies/{study.id}/findings/{finding.id}/delete")
    confirm(client, form)
    repeat = confirm(client, form)  # a double click or a reload of the confirmation
    assert repeat.status_code == 302 and repeat.headers["Location"] == f"/studies/{study.id}/deleted"
    assert "already in Recently deleted" in client.get(repeat.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "finding.delete")) == 1


def test_restoring_refuses_other_studies_purged_items_and_repeats_clearly(client, login, db, evidence,
                                                                         make_study, make_session,
                                                                         make_note):
    study, finding, _other, notes, _sessions = evidence
    stranger = make_study(owner=study.owner)
    stranger_finding = builders.make_finding(stranger, "Elsewhere", deleted_at=utcnow())
    stranger_note = make_note(make_session(study=stranger), study.owner, "far away", deleted_at=utcnow())
    db.session.commit()
    login(study.owner)
    base = f"/studies/{study.id}/deleted"
    for url in (f"{base}/findings/{stranger_finding.id}/restore", f"{base}/findings/999999/restore"):
        response = client.post(url)
        assert response.status_code == 404
        assert "That finding cannot be restored." in response.get_data(as_text=True)
        assert "deleted for good 30 days" in response.get_data(as_text=True)
    for url in (f"{base}/notes/{stranger_note.id}/restore", f"{base}/notes/999999/restore"):
        response = client.post(url)
        assert response.status_code == 404
        assert "That note cannot be restored." in response.get_data(as_text=True)
    assert db.session.get(Finding, stranger_finding.id).deleted_at is not None
    # Restoring what is not deleted changes nothing and says so.
    again = client.post(f"{base}/findings/{finding.id}/restore", follow_redirects=True)
    assert again.status_code == 200 and "was not deleted" in again.get_data(as_text=True)
    again = client.post(f"{base}/notes/{notes[0].id}/restore", follow_redirects=True)
    assert again.status_code == 200 and "was not deleted" in again.get_data(as_text=True)
    # Deleting what does not exist is a 404, not a 500.
    assert client.post(f"/studies/{study.id}/findings/999999/delete").status_code == 404


def test_deleting_notes_from_the_board_asks_and_they_vanish_until_restored(client, login, db, evidence):
    study, finding, other, notes, sessions = evidence
    base = f"/studies/{study.id}"
    chosen = [notes[0].id, notes[1].id]  # both of P01's notes; notes[0] also backs "Other finding"
    login(study.owner)
    board = _page(client, f"{base}/notes")
    assert 'name="action" value="delete" class="button danger" data-confirm' in board

    html, form = ask(client, f"{base}/notes/act", {"action": "delete", "note": chosen, "query": ""})
    said = text(html)
    assert "Delete 2 notes?" in said and "2 notes go to Recently deleted for 30 days" in said
    assert "They are evidence for 2 findings (“Coupon field hidden”, “Other finding”)" in said
    assert all(n.deleted_at is None for n in db.session.scalars(sa.select(Note)))

    confirm(client, form)
    board = _page(client, f"{base}/notes")
    assert "2 notes" in board and "P01 says 0" not in board
    assert "P01 says 0" not in _page(client, f"{base}/exports/notes.csv")
    summary = next(f for f in results.ranked_findings(study.id) if f.id == finding.id)
    assert len(summary.evidence) == 2 and summary.frequency == 1
    assert "P01 says" not in str(build_report_data(study.id).findings)
    api = client.get(f"/api/v1/sessions/{sessions[0].id}/notes").get_json()
    assert api["items"] == []
    listed = text(_page(client, f"{base}/deleted"))
    assert "P01 says 0" in listed and "P01 says 1" in listed

    cursor = events.last_event_id(db.session, sessions[0].id)
    response = client.post(f"{base}/deleted/notes/{chosen[0]}/restore")
    assert response.status_code == 302
    assert "P01 says 0" in _page(client, f"{base}/notes")
    api = client.get(f"/api/v1/sessions/{sessions[0].id}/notes").get_json()
    assert [item["body"] for item in api["items"]] == ["P01 says 0"]
    summary = next(f for f in results.ranked_findings(study.id) if f.id == finding.id)
    assert len(summary.evidence) == 3 and summary.frequency == 2
    # Live consoles hear of it: the stream sends the note again, not deleted.
    streamed = events.read_events(db.session, sessions[0].id, cursor)
    assert [(e["kind"], e["note"]["deleted"], e["note"]["body"]) for e in streamed] == [
        ("note.restored", False, "P01 says 0")]


def test_deleting_notes_already_deleted_or_of_another_study_is_harmless(client, login, db, evidence,
                                                                        make_study, make_session,
                                                                        make_note):
    study, _finding, _other, notes, _sessions = evidence
    foreign = make_note(make_session(study=make_study(owner=study.owner)), study.owner, "not yours")
    login(study.owner)
    base = f"/studies/{study.id}"
    _html, form = ask(client, f"{base}/notes/act", {"action": "delete", "note": [notes[3].id]})
    confirm(client, form)
    again = confirm(client, form)
    assert again.status_code == 302 and again.headers["Location"] == f"{base}/deleted"
    refused = client.post(f"{base}/notes/act", data={"action": "delete", "note": [foreign.id]},
                          follow_redirects=True)
    assert refused.status_code == 200 and "not part of this study" in refused.get_data(as_text=True)
    nothing = client.post(f"{base}/notes/act", data={"action": "delete"}, follow_redirects=True)
    assert "Select at least one note first." in nothing.get_data(as_text=True)
    assert db.session.get(Note, foreign.id).deleted_at is None


def test_recently_deleted_is_only_for_the_studys_researchers(client, login, make_user, evidence):
    from usabtest.accounts.models import Role

    study, finding, _other, _notes, sessions = evidence
    observer = make_user(Role.OBSERVER)
    sessions[0].observers.append(observer)
    login(observer)
    assert client.get(f"/studies/{study.id}/deleted").status_code == 404
    assert client.post(f"/studies/{study.id}/deleted/findings/{finding.id}/restore").status_code == 404


def test_purge_deletes_for_good_after_30_days_only(runner, db, evidence):
    study, finding, other, notes, _sessions = evidence
    now = utcnow()
    finding.deleted_at = now - timedelta(days=31)
    notes[3].deleted_at = now - timedelta(days=30, minutes=1)
    other.deleted_at = now - timedelta(days=29)
    notes[2].deleted_at = now - timedelta(days=2)
    db.session.add(AuditEvent(action="note.delete", object_type="Note", object_id=notes[3].id,
                              details={"body": notes[3].body}))
    db.session.commit()
    finding_id, old_note, kept_note, other_id = finding.id, notes[3].id, notes[2].id, other.id

    result = runner.invoke(args=["purge-deleted"])
    assert result.exit_code == 0, result.output
    assert "Purged 1 finding (2 screenshots) and 1 note deleted before" in result.output
    db.session.expire_all()
    assert db.session.get(Finding, finding_id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Screenshot)) == 0
    assert db.session.get(Note, old_note) is None
    assert db.session.get(Note, kept_note) is not None and db.session.get(Finding, other_id) is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(finding_note).where(
        finding_note.c.finding_id == finding_id)) == 0
    scrubbed = db.session.scalars(sa.select(AuditEvent.details).where(
        AuditEvent.object_type == "Note", AuditEvent.object_id == old_note)).all()
    assert scrubbed == [{"purged": True}]

    again = runner.invoke(args=["purge-deleted"])
    assert "Purged 0 findings (0 screenshots) and 0 notes" in again.output


def test_purged_finding_cannot_be_restored(client, login, runner, db, evidence):
    study, finding, _other, _notes, _sessions = evidence
    finding.deleted_at = utcnow() - timedelta(days=40)
    db.session.commit()
    finding_id = finding.id
    assert runner.invoke(args=["purge-deleted"]).exit_code == 0
    login(study.owner)
    response = client.post(f"/studies/{study.id}/deleted/findings/{finding_id}/restore")
    assert response.status_code == 404 and "cannot be restored" in response.get_data(as_text=True)
