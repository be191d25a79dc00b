"""Per-study tag sets: the tag set page, renaming and merging through the notes' history, deleting a
used tag, new studies from the default set or another study's, and the console's shortcuts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest import builders
from usabtest.accounts.models import Role
from usabtest.observe.models import NoteRevision
from usabtest.planning.models import SessionStatus, Study, StudyTag
from usabtest.planning.tagset import DEFAULT_TAGS


@pytest.fixture
def coded(db, make_user, make_study, make_session, make_note, make_tag):
    """A study with two tags of its own and three notes carrying them."""
    owner = make_user(Role.RESEARCHER, name="Rita Owner")
    observer = make_user(Role.OBSERVER, name="Olga Observer")
    study = make_study(owner, tasks=1)
    nav = make_tag(study, "navigation", colour="#1f618d", shortcut="G")
    way = make_tag(study, "wayfinding", colour="#117a65")
    study_session = make_session(study=study, observers=[observer], status=SessionStatus.COMPLETED)
    notes = [make_note(study_session, observer, "Menu first", tags=["navigation", "problem"]),
             make_note(study_session, observer, "Lost after search", tags=["navigation", "wayfinding"]),
             make_note(study_session, observer, "Back button", tags=["wayfinding"])]
    return study, {"navigation": nav, "wayfinding": way}, notes, owner


def _tags(study: Study) -> list[str]:
    return [tag.name for tag in study.tags]


def _fields(**changes) -> dict:
    return {"name": "checkout", "description": "", "colour": "#884ea0", "shortcut": "", **changes}


def test_the_tag_page_lists_each_tag_with_colour_name_shortcut_and_use(db, client, login, coded):
    study, tags, notes, owner = coded
    login(owner)
    html = client.get(f"/studies/{study.id}/tags").get_data(as_text=True)
    assert 'style="--tag-colour: #1f618d">navigation</span>' in html and "<kbd>Alt+G</kbd>" in html
    assert f'href="/studies/{study.id}/notes?tag=navigation">2<' in html
    assert "Something got in the participant&#39;s way." in html  # the default set's descriptions


def test_a_researcher_adds_a_tag(db, client, login, coded):
    study, _, _, owner = coded
    login(owner)
    response = client.post(f"/studies/{study.id}/tags", data=_fields(
        name="  Check out ", description="Paying for the basket", colour="#ABC", shortcut="alt+shift+3"))
    assert response.status_code == 302
    db.session.refresh(study)
    tag = study.tags[-1]
    assert (tag.name, tag.description, tag.colour, tag.shortcut) == (
        "Check out", "Paying for the basket", "#aabbcc", "Shift+3")


@pytest.mark.parametrize("fields, errors", [
    ({"name": "NAVIGATION"}, {"name": "already has the tag “navigation” (names are compared ignoring case)"}),
    ({"name": "  "}, {"name": "Give the tag a name."}),
    ({"colour": "red"}, {"colour": "Give the colour as # and six hexadecimal digits"}),
    ({"shortcut": "g"}, {"shortcut": "Alt+G is already the shortcut of “navigation”."}),
    ({"shortcut": "Alt+N"}, {"shortcut": "Alt+N is the console's own shortcut (go to the note input)"}),
    ({"shortcut": "2"}, {"shortcut": "Alt+2 is the console's own shortcut (severity 2)"}),
    ({"shortcut": "Ctrl+X"}, {"shortcut": "Use one letter or digit, optionally with Shift"}),
    ({"name": "Problem", "colour": "#12", "shortcut": "P"},
     {"name": "already has the tag “problem”", "colour": "hexadecimal digits",
      "shortcut": "Alt+P is already the shortcut of “problem”."}),
])
def test_bad_tags_are_refused_next_to_each_field_and_nothing_is_saved(db, client, login, coded, fields,
                                                                     errors):
    study, _, _, owner = coded
    login(owner)
    before = _tags(study)
    response = client.post(f"/studies/{study.id}/tags", data=_fields(**fields))
    assert response.status_code == 400
    html = response.get_data(as_text=True).replace("&#39;", "'")
    for field, message in errors.items():
        start = html.index(f'id="{field}-error"')
        assert message in html[start:start + 300], (field, html[start:start + 300])
    db.session.expire_all()
    assert _tags(study) == before


def test_the_api_refuses_a_tag_the_study_does_not_have(db, client, login, coded):
    study, _, notes, owner = coded
    login(owner)
    url = f"/api/v1/sessions/{notes[0].session_id}/notes/{notes[0].client_uuid}"
    response = client.patch(url, json={"tags": ["checkout"], "version": notes[0].version})
    assert response.status_code == 422 and "tags" in response.get_json()["error"]["fields"]
    assert "navigation, wayfinding" in response.get_json()["error"]["message"]


def test_renaming_a_tag_renames_it_on_every_note_and_in_their_history(db, client, login, coded):
    study, tags, notes, owner = coded
    login(owner)
    nav = tags["navigation"]
    response = client.post(f"/studies/{study.id}/tags/{nav.id}/edit", data=_fields(
        name="Navigation menu", colour="#1f618d", shortcut="G"))
    assert response.status_code == 302
    db.session.expire_all()
    assert [n.tags for n in notes] == [["Navigation menu", "problem"], ["Navigation menu", "wayfinding"],
                                       ["wayfinding"]]
    revisions = db.session.scalars(sa.select(NoteRevision).order_by(NoteRevision.id)).all()
    assert [(r.note_id, r.action, r.actor_id) for r in revisions] == [
        (notes[0].id, "tag.rename", owner.id), (notes[1].id, "tag.rename", owner.id)]
    assert revisions[0].before == {"tags": ["navigation", "problem"]}
    html = client.get(f"/studies/{study.id}/notes/{notes[0].id}").get_data(as_text=True)
    assert "Rita Owner</strong> renamed a tag" in html and "navigation, problem" in html
    # The console offers the new name, on the same key.
    console = client.get(f"/sessions/{notes[0].session_id}/observe").get_data(as_text=True)
    assert 'data-tag="Navigation menu"' in console and 'aria-keyshortcuts="Alt+G"' in console


def test_changing_only_a_tags_colour_touches_no_note(db, client, login, coded):
    study, tags, notes, owner = coded
    login(owner)
    way = tags["wayfinding"]
    assert client.post(f"/studies/{study.id}/tags/{way.id}/edit",
                       data=_fields(name="wayfinding", colour="#000000")).status_code == 302
    db.session.expire_all()
    assert way.colour == "#000000" and db.session.scalars(sa.select(NoteRevision)).all() == []


def test_renaming_into_another_tags_name_is_refused(db, client, login, coded):
    study, tags, notes, owner = coded
    login(owner)
    response = client.post(f"/studies/{study.id}/tags/{tags['wayfinding'].id}/edit",
                           data=_fields(name="Navigation"))
    assert response.status_code == 400 and "merge" not in response.headers.get("Location", "")
    db.session.expire_all()
    assert notes[2].tags == ["wayfinding"] and db.session.scalars(sa.select(NoteRevision)).all() == []


def test_merging_a_tag_moves_its_notes_to_the_other_and_removes_it(db, client, login, coded):
    study, tags, notes, owner = coded
    login(owner)
    way, nav = tags["wayfinding"], tags["navigation"]
    response = client.post(f"/studies/{study.id}/tags/{way.id}/merge", data={"target": str(nav.id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert "wayfinding" not in _tags(study)
    assert [n.tags for n in notes] == [["navigation", "problem"], ["navigation"], ["navigation"]]
    actions = db.session.scalars(sa.select(NoteRevision.action)).all()
    assert actions == ["tag.merge", "tag.merge"]
    assert client.post(f"/studies/{study.id}/tags/{nav.id}/merge", data={"target": ""}).status_code == 400


def test_deleting_a_used_tag_asks_what_becomes_of_its_notes(db, client, login, coded):
    study, tags, notes, owner = coded
    login(owner)
    way = tags["wayfinding"]
    page = client.get(f"/studies/{study.id}/tags/{way.id}/delete").get_data(as_text=True)
    assert "2 notes carry this tag." in page
    assert "Remove the tag from those notes" in page and "Give those notes another tag instead" in page
    # Choosing "another tag" without naming one deletes nothing.
    refused = client.post(f"/studies/{study.id}/tags/{way.id}/delete", data={"fate": "merge", "target": ""})
    assert refused.status_code == 400
    db.session.expire_all()
    assert "wayfinding" in _tags(study)
    removed = client.post(f"/studies/{study.id}/tags/{way.id}/delete", data={"fate": "remove"})
    assert removed.status_code == 302
    db.session.expire_all()
    assert "wayfinding" not in _tags(study)
    assert [n.tags for n in notes] == [["navigation", "problem"], ["navigation"], []]
    assert db.session.scalars(sa.select(NoteRevision.action)).all() == ["tag.remove", "tag.remove"]


def test_deleting_a_tag_into_another_merges(db, client, login, coded):
    study, tags, notes, owner = coded
    login(owner)
    response = client.post(f"/studies/{study.id}/tags/{tags['navigation'].id}/delete",
                           data={"fate": "merge", "target": str(tags["wayfinding"].id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert [n.tags for n in notes] == [["wayfinding", "problem"], ["wayfinding"], ["wayfinding"]]


def test_only_the_studys_researchers_reach_the_tag_pages(db, client, login, coded, make_user):
    study, tags, notes, owner = coded
    nav = tags["navigation"]
    for user in (notes[0].author, make_user(Role.RESEARCHER)):
        login(user)
        assert client.get(f"/studies/{study.id}/tags").status_code == 404
        assert client.post(f"/studies/{study.id}/tags", data=_fields()).status_code == 404
        delete = client.post(f"/studies/{study.id}/tags/{nav.id}/delete", data={"fate": "remove"})
        assert delete.status_code == 404
    login(owner)
    other = Study(owner=owner, organisation=study.organisation, title="Other")
    db.session.add(other)
    db.session.commit()
    assert client.get(f"/studies/{other.id}/tags/{nav.id}/edit").status_code == 404


# --- new studies ---------------------------------------------------------------------------------


def test_a_new_study_starts_with_the_default_set(db, client, login, make_user):
    researcher = make_user(Role.RESEARCHER)
    acme = builders.make_organisation("Acme", created_by=researcher)
    login(researcher)
    form = client.get("/studies/new").get_data(as_text=True)
    assert "The default set (problem, quote, positive, idea, bug)" in form
    response = client.post("/studies/new", data={"title": "Fresh", "organisation": acme.id,
                                                 "method": "in_person", "tags_from": ""})
    assert response.status_code == 302
    study = db.session.scalar(sa.select(Study).where(Study.title == "Fresh"))
    assert [(t.name, t.shortcut, t.colour) for t in study.tags] == [
        (spec.name, spec.shortcut, spec.colour) for spec in DEFAULT_TAGS]


def test_a_new_study_copies_another_studys_set(db, client, login, coded):
    study, _, _, owner = coded
    login(owner)
    form = client.get("/studies/new").get_data(as_text=True)
    assert f'<option value="{study.id}">Copy the tags of “Checkout study” (7 tags)</option>' in form
    response = client.post("/studies/new", data={
        "title": "Second round", "organisation": study.organisation_id, "method": "in_person",
        "tags_from": str(study.id)})
    assert response.status_code == 302
    copy = db.session.scalar(sa.select(Study).where(Study.title == "Second round"))
    assert [(t.name, t.colour, t.shortcut) for t in copy.tags] == [
        (t.name, t.colour, t.shortcut) for t in study.tags]
    assert {t.id for t in copy.tags}.isdisjoint({t.id for t in study.tags})


def test_a_study_the_user_cannot_open_is_not_offered_as_a_source(db, client, login, coded, make_user):
    study, _, _, _ = coded
    stranger = make_user(Role.RESEARCHER)
    login(stranger)
    assert f'value="{study.id}"' not in client.get("/studies/new").get_data(as_text=True)
    response = client.post("/studies/new", data={"title": "Sneaky", "organisation": "Acme",
                                                 "method": "in_person", "tags_from": str(study.id)})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(Study).where(Study.title == "Sneaky")) is None


def test_the_api_creates_a_study_from_another_studys_set_and_lists_tags(db, client, login, coded, make_user):
    study, _, _, owner = coded
    login(owner)
    created = client.post("/api/v1/studies",
                          json={"title": "Via API", "client": "Acme", "tags_from": study.id})
    assert created.status_code == 201
    tags = client.get(f"/api/v1/studies/{created.get_json()['id']}/tags").get_json()["items"]
    assert [t["name"] for t in tags] == _tags(study)
    assert tags[-2] == {"id": tags[-2]["id"], "name": "navigation", "description": "", "colour": "#1f618d",
                        "shortcut": "G"}
    login(make_user(Role.RESEARCHER))
    hidden = client.post("/api/v1/studies", json={"title": "X", "client": "Acme", "tags_from": study.id})
    assert hidden.status_code == 422 and "tags_from" in hidden.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/studies/{study.id}/tags").status_code == 404


def test_tags_can_be_reordered(db, client, login, coded):
    study, tags, _, owner = coded
    login(owner)
    way = tags["wayfinding"]
    assert client.post(f"/studies/{study.id}/tags/{way.id}/move/up").status_code == 302
    db.session.expire_all()
    assert _tags(study)[-2:] == ["wayfinding", "navigation"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StudyTag)) == 7
