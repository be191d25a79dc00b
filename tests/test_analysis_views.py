"""Analysis pages: who may open them, the notes board actions, findings, screenshots and the matrix."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from usabtest.accounts.models import Role
from usabtest.analysis.models import Finding, Screenshot
from usabtest.core.models import AuditEvent
from usabtest.observe.models import SusResponse
from usabtest.planning.models import SessionStatus

PAGES = ["results", "notes", "findings", "findings/new", "matrix", "exports", "exports/notes.csv"]


@pytest.fixture
def study_with_notes(db, make_study, make_participant, make_session, make_note):
    """A study with three completed sessions (P01-P03) and two notes each on task 1."""
    study = make_study(tasks=2, custom_tags=["delight"])
    notes = []
    for index in range(3):
        participant = make_participant(study, segments={"device": "mobile" if index else "desktop"})
        study_session = make_session(study=study, participant=participant, status=SessionStatus.COMPLETED)
        for k in range(2):
            notes.append(make_note(study_session, study.owner, body=f"P{index + 1} note {k}",
                                   task=study.tasks[0], tags=["navigation"] if k else ["search"],
                                   severity=k + 2, elapsed_ms=60_000 * (k + 1)))
    return study, notes


def _png(width=4, height=3, fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


def test_pages_are_404_for_people_who_do_not_manage_the_study(client, login, db, make_user, make_study,
                                                              make_session):
    study = make_study(tasks=1)
    finding = Finding(study=study, title="Hidden")
    db.session.add(finding)
    db.session.commit()
    observer = make_user(Role.OBSERVER)
    make_session(study=study, observers=[observer])
    pages = PAGES + [f"findings/{finding.id}", f"findings/{finding.id}/edit"]
    for user in (make_user(Role.RESEARCHER), observer, make_user(Role.CLIENT,
                                                                 organisation=study.organisation)):
        login(user)
        for page in pages:
            assert client.get(f"/studies/{study.id}/{page}").status_code == 404, (user.role, page)
        assert client.post(f"/studies/{study.id}/findings/{finding.id}/delete").status_code == 404
        assert client.post(f"/studies/{study.id}/notes/act", data={"title": "x"}).status_code == 404
        client.post("/logout")


def test_pages_open_for_team_members_and_admins(client, login, make_user, make_study):
    member = make_user(Role.RESEARCHER)
    study = make_study(tasks=1, team=[member])
    for user in (member, make_user(Role.ADMIN)):
        login(user)
        for page in PAGES:
            assert client.get(f"/studies/{study.id}/{page}").status_code == 200, (user.role, page)
        client.post("/logout")


def test_signed_out_visitors_are_sent_to_sign_in(client, make_study):
    study = make_study()
    response = client.get(f"/studies/{study.id}/results")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_study_is_404(client, login, make_user):
    login(make_user(Role.ADMIN))
    assert client.get("/studies/999/notes").status_code == 404


def test_notes_board_filters(client, login, study_with_notes):
    study, notes = study_with_notes
    login(study.owner)
    url = f"/studies/{study.id}/notes"
    assert "6 notes" in client.get(url).get_data(as_text=True)
    by_tag = client.get(url, query_string={"tag": "navigation"}).get_data(as_text=True)
    assert "3 notes match" in by_tag and "P1 note 1" in by_tag and "P1 note 0" not in by_tag
    participant_id = notes[2].study_session.participant_id
    by_person = client.get(url, query_string={"participant": participant_id}).get_data(as_text=True)
    assert "2 notes match" in by_person and "P2 note 0" in by_person
    by_text = client.get(url, query_string={"q": "p3 NOTE 1"}).get_data(as_text=True)
    assert "1 note match" in by_text
    by_severity = client.get(url, query_string={"severity": "3", "session": notes[0].session_id})
    assert "1 note match" in by_severity.get_data(as_text=True)
    assert "0 notes match" in client.get(url, query_string={"task": study.tasks[1].id}).get_data(as_text=True)
    odd = client.get(url, query_string={"severity": "9", "task": "abc"}).get_data(as_text=True)
    assert "not valid and was ignored" in odd and "6 notes" in odd


def test_create_finding_from_selected_notes(client, login, db, study_with_notes):
    study, notes = study_with_notes
    login(study.owner)
    chosen = [notes[0].id, notes[1].id, notes[2].id]  # two participants
    response = client.post(f"/studies/{study.id}/notes/act", data={
        "action": "create", "title": "Search results hide the filter", "severity": "3",
        "note": [str(n) for n in chosen], "query": "tag=search"})
    assert response.status_code == 302
    finding = db.session.scalar(sa.select(Finding))
    assert sorted(n.id for n in finding.notes) == sorted(chosen)
    assert [t.id for t in finding.tasks] == [study.tasks[0].id]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 of 3 participants" in page and "Finding created from 3 notes." in page
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "finding.create"))


def test_attach_notes_to_an_existing_finding(client, login, db, study_with_notes):
    study, notes = study_with_notes
    finding = Finding(study=study, title="Slow search", notes=[notes[0]])
    db.session.add(finding)
    db.session.commit()
    login(study.owner)
    response = client.post(f"/studies/{study.id}/notes/act", data={
        "action": "attach", "finding": str(finding.id), "note": [str(notes[0].id), str(notes[5].id)]})
    assert response.status_code == 302
    assert "1 note added" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert {n.id for n in db.session.get(Finding, finding.id).notes} == {notes[0].id, notes[5].id}


def test_board_actions_refuse_bad_selections_without_losing_anything(client, login, db, study_with_notes,
                                                                      make_study, make_session, make_note):
    study, notes = study_with_notes
    other = make_study()
    foreign = make_note(make_session(study=other), other.owner)
    login(study.owner)
    url = f"/studies/{study.id}/notes/act"
    cases = [
        ({"action": "create", "title": "No notes"}, "Select at least one note"),
        ({"action": "create", "title": "", "note": [str(notes[0].id)]}, "needs a title"),
        ({"action": "create", "title": "Foreign", "note": [str(foreign.id)]}, "no longer exist"),
        ({"action": "attach", "finding": "", "note": [str(notes[0].id)]}, "Choose the finding"),
        ({"action": "create", "title": "x", "note": ["abc"]}, "not understood"),
    ]
    for data, message in cases:
        response = client.post(url, data=data)
        assert response.status_code == 302
        assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Finding)) == 0


def test_finding_form_creates_edits_and_shows_errors(client, login, db, make_study):
    study = make_study(tasks=2)
    login(study.owner)
    url = f"/studies/{study.id}/findings/new"
    bad = client.post(url, data={"title": "", "severity": "7"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Give the finding a title." in text and "Not a valid choice" in text
    ok = client.post(url, data={"title": "Jargon in labels", "severity": "1", "description": "Users hesitate",
                                "recommendation": "Plain words", "tasks": [str(study.tasks[1].id)]})
    assert ok.status_code == 302
    finding = db.session.scalar(sa.select(Finding))
    assert (finding.severity, [t.id for t in finding.tasks]) == (1, [study.tasks[1].id])
    edit = client.post(f"/studies/{study.id}/findings/{finding.id}/edit",
                       data={"title": "Jargon everywhere", "severity": "4", "tasks": [], "version": 1})
    assert edit.status_code == 302
    db.session.refresh(finding)
    assert (finding.title, finding.severity, finding.tasks) == ("Jargon everywhere", 4, [])
    page = client.get(f"/studies/{study.id}/findings/{finding.id}").get_data(as_text=True)
    assert "4 – Catastrophe" in page


def test_findings_order_by_severity_and_by_hand(client, login, db, make_study):
    study = make_study()
    low = Finding(study=study, title="Low one", severity=1)
    high = Finding(study=study, title="High one", severity=4)
    db.session.add_all([low, high])
    db.session.commit()
    login(study.owner)
    url = f"/studies/{study.id}/findings"
    page = client.get(url).get_data(as_text=True)
    assert page.index("High one") < page.index("Low one")
    client.post(f"{url}/{low.id}/move/up")
    page = client.get(url).get_data(as_text=True)
    assert page.index("Low one") < page.index("High one") and "Ordered by hand" in page
    client.post(f"{url}/reset-order", data={"confirmed": "yes"})
    page = client.get(url).get_data(as_text=True)
    assert page.index("High one") < page.index("Low one")
    assert client.post(f"{url}/{low.id}/move/sideways").status_code == 400


def test_merge_moves_evidence_and_keeps_the_higher_severity(client, login, db, study_with_notes):
    study, notes = study_with_notes
    target = Finding(study=study, title="Target", severity=2, notes=[notes[0]], description="A")
    source = Finding(study=study, title="Source", severity=3, notes=[notes[0], notes[4]], description="B")
    source.screenshots.append(Screenshot(filename="s.png", content_type="image/png", width=4, height=3,
                                         data=_png()))
    db.session.add_all([target, source])
    db.session.commit()
    target_id, source_id = target.id, source.id
    login(study.owner)
    url = f"/studies/{study.id}/findings/{target_id}/merge"
    assert client.post(url, data={"source": str(target_id)}).status_code == 400
    assert client.post(url, data={"source": ""}).status_code == 400
    response = client.post(url, data={"source": str(source_id), "confirmed": "yes"})
    assert response.status_code == 302
    merged = db.session.get(Finding, target_id)
    assert {n.id for n in merged.notes} == {notes[0].id, notes[4].id}
    assert merged.severity == 3 and merged.description == "A\n\nB" and len(merged.screenshots) == 1
    assert db.session.get(Finding, source_id) is None
    assert "2 of 3 participants" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_unlink_and_delete_keep_the_notes(client, login, db, study_with_notes):
    study, notes = study_with_notes
    finding = Finding(study=study, title="Temp", notes=notes[:2])
    db.session.add(finding)
    db.session.commit()
    login(study.owner)
    base = f"/studies/{study.id}/findings/{finding.id}"
    client.post(f"{base}/notes/{notes[0].id}/unlink")
    assert [n.id for n in db.session.get(Finding, finding.id).notes] == [notes[1].id]
    finding_id = finding.id
    client.post(f"{base}/delete", data={"confirmed": "yes"})
    assert db.session.get(Finding, finding_id).deleted_at is not None  # in Recently deleted
    assert client.get(base).status_code == 404
    assert "6 notes" in client.get(f"/studies/{study.id}/notes").get_data(as_text=True)


@pytest.mark.config(SCREENSHOT_MAX_BYTES=2000)
def test_screenshot_upload_is_verified_stored_and_served(client, login, db, make_study):
    study = make_study()
    finding = Finding(study=study, title="Hidden button")
    db.session.add(finding)
    db.session.commit()
    login(study.owner)
    url = f"/studies/{study.id}/findings/{finding.id}/screenshots"

    def upload(data: bytes, name: str):
        return client.post(url, data={"image": (io.BytesIO(data), name), "caption": "Checkout page"},
                           content_type="multipart/form-data")

    assert "not a readable PNG or JPEG" in upload(b"not an image at all", "x.png").get_data(as_text=True)
    assert "Only PNG and JPEG" in upload(_png(fmt="GIF"), "x.gif").get_data(as_text=True)
    assert "larger than" in upload(_png(200, 200, "BMP"), "big.png").get_data(as_text=True)
    assert "not a readable" in upload(_png()[:-30], "cut.png").get_data(as_text=True)
    assert upload(b"", "empty.png").status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Screenshot)) == 0

    assert upload(_png(), "shot.png").status_code == 302
    assert upload(_png(fmt="JPEG"), "shot.jpg").status_code == 302
    shots = db.session.scalars(sa.select(Screenshot).order_by(Screenshot.id)).all()
    assert [(s.content_type, s.width, s.height) for s in shots] == [("image/png", 4, 3), ("image/jpeg", 4, 3)]
    page = client.get(f"/studies/{study.id}/findings/{finding.id}").get_data(as_text=True)
    assert 'alt="Checkout page"' in page
    image = client.get(f"{url}/{shots[0].id}")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == shots[0].data
    first_id = shots[0].id
    question = client.post(f"{url}/{first_id}/delete").get_data(as_text=True)
    assert "Delete the screenshot “Checkout page” (shot.png)?" in question
    assert client.get(f"{url}/{first_id}").status_code == 200
    client.post(f"{url}/{first_id}/delete", data={"confirmed": "yes"})
    assert client.get(f"{url}/{first_id}").status_code == 404


def test_screenshot_of_another_study_is_404(client, login, db, make_study):
    study, other = make_study(), make_study()
    foreign = Finding(study=other, title="Other")
    foreign.screenshots.append(Screenshot(filename="a.png", content_type="image/png", width=4, height=3,
                                          data=_png()))
    mine = Finding(study=study, title="Mine")
    db.session.add_all([foreign, mine])
    db.session.commit()
    login(study.owner)
    shot_id = foreign.screenshots[0].id
    assert client.get(f"/studies/{study.id}/findings/{mine.id}/screenshots/{shot_id}").status_code == 404
    assert client.get(f"/studies/{study.id}/findings/{foreign.id}").status_code == 404


def test_matrix_shows_cells_totals_and_the_notes_of_a_cell(client, login, db, study_with_notes):
    study, notes = study_with_notes
    finding = Finding(study=study, title="Lost in menus", severity=3, notes=[notes[0], notes[1], notes[4]])
    db.session.add(finding)
    db.session.commit()
    login(study.owner)
    page = client.get(f"/studies/{study.id}/matrix").get_data(as_text=True)
    assert len(re.findall(r'class="num cell filled', page)) == 2
    assert 'aria-label="P01: 2 notes backing “Lost in menus”"' in page
    assert '<td class="num total">2</td>' in page
    participant = notes[4].study_session.participant_id
    cell = client.get(f"/studies/{study.id}/matrix",
                      query_string={"finding": finding.id, "participant": participant}).get_data(as_text=True)
    panel = cell.split('id="cell-notes"')[1]
    assert "P3 note 0" in panel and "P1 note 0" not in panel


def test_results_page_shows_tables_charts_and_segment_filter(client, login, db, study_with_notes):
    study, notes = study_with_notes
    login(study.owner)
    page = client.get(f"/studies/{study.id}/results").get_data(as_text=True)
    assert page.count('role="img"') == 2 and "No complete SUS questionnaire yet" in page
    db.session.add(SusResponse(study_session=notes[0].study_session, answers=[4, 2] * 5))
    db.session.commit()
    page = client.get(f"/studies/{study.id}/results").get_data(as_text=True)
    assert page.count('role="img"') == 3 and "<title id=\"completion-title\">" in page
    assert "75.0" in page and "<strong>B</strong>" in page
    assert 'id="task-results"' in page and "3 participants observed" in page
    mobile = client.get(f"/studies/{study.id}/results", query_string={"segment": "device=mobile"})
    assert "2 participants observed" in mobile.get_data(as_text=True)
    nobody = client.get(f"/studies/{study.id}/results", query_string={"segment": "device=tablet"})
    assert "No observed participant has device = tablet" in nobody.get_data(as_text=True)


def test_study_panel_is_offered_to_managers_only(app, make_user, make_study):
    from flask import render_template
    from flask_login import login_user

    from usabtest.analysis.views import study_panel

    study = make_study()
    with app.test_request_context():
        login_user(study.owner)
        template, panel = study_panel(study)
        html = render_template(template, study=study, panel=panel)
        assert f"/studies/{study.id}/results" in html and f"/studies/{study.id}/exports" in html
    with app.test_request_context():
        login_user(make_user(Role.OBSERVER))
        assert study_panel(study) is None
