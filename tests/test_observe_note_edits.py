"""Shared analysis of notes: researchers change any note of their study, observers only their own,
every change is kept in the note's history, and a note has a kind."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest.accounts.models import Role
from usabtest.observe.models import Note, NoteKind, NoteRevision, SessionEvent
from usabtest.planning.models import SessionStatus


@pytest.fixture
def analysed(db, make_user, make_study, make_session, make_note, make_tag):
    """A completed session of a study with a second researcher on its team and an observer's note."""
    owner = make_user(Role.RESEARCHER, name="Rita Owner")
    colleague = make_user(Role.RESEARCHER, name="Carl Colleague")
    observer = make_user(Role.OBSERVER, name="Olga Observer")
    study = make_study(owner, tasks=2, researchers=[colleague])
    make_tag(study, "navigation", colour="#1f618d", shortcut="G")
    study_session = make_session(study=study, observers=[observer], status=SessionStatus.COMPLETED)
    note = make_note(study_session, observer, "Looks for the basket in the menu", tags=["problem"],
                     severity=2, task=study.tasks[0], elapsed_ms=61_000)
    return study, note, {"owner": owner, "colleague": colleague, "observer": observer}


def _page(study, note) -> str:
    return f"/studies/{study.id}/notes/{note.id}"


def _form(note, **changes) -> dict:
    data = {"body": note.body, "kind": note.kind.value, "tags": list(note.tags),
            "severity": "" if note.severity is None else str(note.severity),
            "task": "" if note.task_id is None else str(note.task_id), "version": str(note.version)}
    data.update(changes)
    return data


def test_researcher_retags_an_observers_note_and_its_history_shows_both_and_who(
        db, client, login, analysed):
    study, note, people = analysed
    login(people["colleague"])
    board = client.get(f"/studies/{study.id}/notes").get_data(as_text=True)
    assert f'aria-label="Edit note {note.id} by' in board and f'href="{_page(study, note)}"' in board

    response = client.post(_page(study, note), data=_form(note, tags=["navigation", "problem"], severity="3",
                                                          kind="quote"))
    assert response.status_code == 302 and response.headers["Location"].endswith(_page(study, note))

    db.session.refresh(note)
    assert note.tags == ["navigation", "problem"] and note.severity == 3 and note.kind == NoteKind.QUOTE
    assert note.author_id == people["observer"].id  # the author stays the observer
    (revision,) = db.session.scalars(sa.select(NoteRevision)).all()
    assert revision.actor_id == people["colleague"].id and revision.action == "edit"
    assert revision.before == {"tags": ["problem"], "severity": 2, "kind": "observation"}
    assert revision.after == {"tags": ["navigation", "problem"], "severity": 3, "kind": "quote"}

    html = client.get(_page(study, note)).get_data(as_text=True)
    history = html[html.index('id="history"'):]
    assert "Carl Colleague</strong> edited the note" in history
    assert "<td class=\"prose\">problem</td><td class=\"prose\">navigation, problem</td>" in history
    assert "2 – Minor" in history and "3 – Major" in history
    assert "Observation" in history and "Participant quote" in history
    assert "Olga Observer</strong> wrote the note" in history
    # The live consoles hear of the change.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionEvent)
                             .where(SessionEvent.kind == "note.updated")) == 1


def test_the_board_shows_kind_colour_and_a_link_to_the_history(db, client, login, analysed):
    study, note, people = analysed
    login(people["owner"])
    client.post(_page(study, note), data=_form(note, kind="quote", tags=["navigation"]))
    html = client.get(f"/studies/{study.id}/notes").get_data(as_text=True)
    assert '<span class="kind-badge kind-quote">Participant quote</span>' in html
    assert '<blockquote class="note-quote">Looks for the basket in the menu</blockquote>' in html
    assert 'style="--tag-colour: #1f618d">navigation</span>' in html  # the colour, with the name
    assert f'{_page(study, note)}#history">edited' in html
    assert "Participant quote" in client.get(f"/studies/{study.id}/notes?kind=quote").get_data(as_text=True)
    assert "0 notes match" in client.get(f"/studies/{study.id}/notes?kind=question").get_data(as_text=True)


def test_saving_an_unchanged_note_writes_no_history(db, client, login, analysed):
    study, note, people = analysed
    login(people["owner"])
    assert client.post(_page(study, note), data=_form(note)).status_code == 302
    assert db.session.scalars(sa.select(NoteRevision)).all() == []
    html = client.get(_page(study, note)).get_data(as_text=True)
    assert "Not changed since Olga Observer wrote it." in html


@pytest.mark.parametrize("changes, field, message", [
    ({"body": "   "}, "body", "A note needs some text."),
    ({"kind": "rumour"}, "kind", "Not a valid choice"),
    ({"tags": ["no-such-tag"]}, "tags", "is not a valid choice"),
    ({"severity": "9"}, "severity", "Not a valid choice"),
    ({"task": "999999"}, "task", "Not a valid choice"),
])
def test_bad_note_changes_are_refused_next_to_the_field_and_nothing_is_saved(
        db, client, login, analysed, changes, field, message):
    study, note, people = analysed
    login(people["colleague"])
    response = client.post(_page(study, note), data=_form(note, **{"body": "New text", **changes}))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    db.session.refresh(note)
    assert note.body == "Looks for the basket in the menu" and note.edited_at is None
    assert db.session.scalars(sa.select(NoteRevision)).all() == []


def test_another_studys_task_is_refused(db, client, login, analysed, make_study):
    study, note, people = analysed
    login(people["owner"])
    other = make_study(people["owner"], tasks=1)
    response = client.post(_page(study, note), data=_form(note, task=str(other.tasks[0].id)))
    assert response.status_code == 400
    db.session.refresh(note)
    assert note.task_id == study.tasks[0].id


def test_observers_and_other_researchers_cannot_open_the_note_page(db, client, login, analysed, make_user):
    study, note, people = analysed
    for user in (people["observer"], make_user(Role.RESEARCHER)):
        login(user)
        assert client.get(_page(study, note)).status_code == 404
        assert client.post(_page(study, note), data=_form(note, body="Hijacked")).status_code == 404
    db.session.refresh(note)
    assert note.body == "Looks for the basket in the menu"


def test_a_note_of_another_study_is_not_found_through_this_study(db, client, login, analysed, make_study):
    study, note, people = analysed
    other = make_study(people["owner"])
    login(people["owner"])
    assert client.get(f"/studies/{other.id}/notes/{note.id}").status_code == 404


# --- the API -------------------------------------------------------------------------------------


def _api_note(study_session, note) -> str:
    return f"/api/v1/sessions/{study_session.id}/notes/{note.client_uuid}"


def test_researcher_changes_any_note_through_the_api_and_reads_its_history(db, client, login, analysed):
    study, note, people = analysed
    login(people["colleague"])
    url = _api_note(note.study_session, note)
    response = client.patch(url, json={"tags": ["Navigation"], "kind": "question", "version": note.version})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tags"] == ["navigation"] and response.get_json()["kind"] == "question"

    history = client.get(f"{url}/history").get_json()
    assert history["note_id"] == str(note.client_uuid)
    (item,) = history["items"]
    assert item["actor"] == {"id": people["colleague"].id, "name": "Carl Colleague"}
    assert item["action"] == "edit"
    assert item["before"] == {"tags": ["problem"], "kind": "observation"}
    assert item["after"] == {"tags": ["navigation"], "kind": "question"}


def test_observer_edits_only_their_own_note_through_the_api(db, client, login, analysed, make_user,
                                                            make_note, make_member):
    study, note, people = analysed
    second = make_user(Role.OBSERVER)
    make_member(study, second)
    note.study_session.observers.append(second)
    own = make_note(note.study_session, second, "My own note")
    login(second)
    refused = client.patch(_api_note(note.study_session, note),
                           json={"body": "Rewritten", "version": note.version})
    assert refused.status_code == 403
    assert "author or the study's researchers" in refused.get_json()["error"]["message"]
    assert client.patch(_api_note(note.study_session, own), json={"kind": "positive", "version": own.version}
                        ).status_code == 200
    # Deleting stays with the author, even for researchers.
    login(people["colleague"])
    assert client.delete(_api_note(note.study_session, note)).status_code == 403
    db.session.refresh(note)
    assert note.body == "Looks for the basket in the menu" and note.deleted_at is None


def test_history_keeps_the_authors_own_edits_and_the_deletion(db, client, login, analysed):
    study, note, people = analysed
    login(people["observer"])
    url = _api_note(note.study_session, note)
    edit = {"body": "Looks for the basket in the top menu", "version": note.version}
    assert client.patch(url, json=edit).status_code == 200
    assert client.delete(url).status_code == 200
    items = client.get(f"{url}/history").get_json()["items"]
    assert [i["action"] for i in items] == ["edit", "delete"]
    assert items[0]["before"] == {"body": "Looks for the basket in the menu"}
    assert items[0]["after"] == {"body": "Looks for the basket in the top menu"}
    assert list(items[1]["after"]) == ["deleted_at"]
    login(people["owner"])
    html = client.get(_page(study, note)).get_data(as_text=True)
    assert "deleted by its author" in html and "Olga Observer</strong> deleted the note" in html
    assert client.post(_page(study, note), data=_form(note, body="Too late")).status_code == 200
    db.session.refresh(note)
    assert note.body == "Looks for the basket in the top menu"


def test_history_is_hidden_from_people_who_cannot_observe_the_session(db, client, login, analysed, make_user):
    study, note, _ = analysed
    login(make_user(Role.OBSERVER))
    assert client.get(f"{_api_note(note.study_session, note)}/history").status_code == 404


def test_notes_have_a_kind_set_when_written_and_observation_by_default(db, client, login, analysed):
    study, note, people = analysed
    study_session = note.study_session
    login(people["observer"])
    url = f"/api/v1/sessions/{study_session.id}/notes"
    plain = client.post(url, json={"id": str(uuid.uuid4()), "body": "Scrolls"})
    quote = client.post(url, json={"id": str(uuid.uuid4()), "body": "I'd never find this", "kind": "quote"})
    assert plain.get_json()["kind"] == "observation" and quote.get_json()["kind"] == "quote"
    bad = client.post(url, json={"id": str(uuid.uuid4()), "body": "x", "kind": "rumour"})
    assert bad.status_code == 422 and "kind" in bad.get_json()["error"]["fields"]
    null = client.patch(f"{url}/{quote.get_json()['id']}",
                        json={"kind": None, "version": quote.get_json()["version"]})
    assert null.status_code == 422
    kinds = {n.body: n.kind for n in db.session.scalars(sa.select(Note))}
    assert kinds["I'd never find this"] == NoteKind.QUOTE and kinds["Scrolls"] == NoteKind.OBSERVATION


def test_exports_findings_and_report_show_the_kind(db, client, login, analysed, make_note):
    from usabtest.builders import make_finding
    from usabtest.reports.data import build_report_data

    study, note, people = analysed
    note.kind = NoteKind.QUOTE
    said = note
    seen = make_note(note.study_session, people["observer"], "Gives up on the menu")
    finding = make_finding(study, "Basket hard to find", notes=[said, seen])
    db.session.commit()
    login(people["owner"])
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/studies/{study.id}/exports/notes.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert {r["note"]: r["kind"] for r in rows} == {said.body: "quote", seen.body: "observation"}
    html = client.get(f"/studies/{study.id}/findings/{finding.id}").get_data(as_text=True)
    assert f'<blockquote class="note-quote">{said.body}</blockquote>' in html
    assert '<span class="kind-badge">Observation</span> Gives up on the menu' in html
    (item,) = build_report_data(study.id).findings
    quotes = {q.text: (q.quoted, q.label) for q in item.quotes}
    assert quotes == {said.body: (True, "Participant quote"), seen.body: (False, "Observation")}
