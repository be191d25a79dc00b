"""Participants answer the SEQ and the SUS on their own screen; the answers count like typed ones."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from tests.test_planning_pages import _form_values
from usabtest import paths
from usabtest.accounts.models import Role
from usabtest.analysis import results
from usabtest.observe import sus
from usabtest.observe.models import ScreenQuestion, SessionEvent, SusResponse, TaskAttempt
from usabtest.planning.models import ScreenLanguage

SUS = [4, 2, 4, 1, 5, 2, 4, 2, 4, 1]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def between_tasks(db, client, login, make_session):
    """A running session whose first task ended as a success (SEQ not asked); the moderator signed in."""
    study_session = make_session()
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    client.post(f"{base}/start")
    task = study_session.study.tasks[0]
    client.post(f"{base}/tasks/{task.id}/start")
    client.post(f"{base}/tasks/{task.id}/end", json={"outcome": "success"})
    db.session.refresh(study_session)
    return study_session


def _ask(client, study_session, kind):
    return client.post(f"/api/v1/sessions/{study_session.id}/screen/question", json={"kind": kind})


def _answer(client, study_session, question_id, **fields):
    form = {"question": str(question_id), **{k: str(v) for k, v in fields.items()}}
    return client.post(f"/screen/{study_session.screen_token}/answer", data=form)


def _sus_form(answers):
    return {f"sus{n}": a for n, a in enumerate(answers, start=1)}


def _attempt(db):
    db.session.expire_all()
    return db.session.scalars(sa.select(TaskAttempt)).one()


def test_participant_answers_the_seq_and_it_is_the_attempts_seq(db, client, between_tasks):
    study_session = between_tasks
    asked = _ask(client, study_session, "seq")
    assert asked.status_code == 201
    question = asked.get_json()
    assert question["task_id"] == study_session.study.tasks[0].id and question["answered"] is False
    page = client.get(f"/screen/{study_session.screen_token}").get_data(as_text=True)
    assert "Overall, how difficult or easy was this task to complete?" in page
    assert page.count('type="radio" name="seq"') == 7 and "<fieldset" in page and "<legend" in page
    response = _answer(client, study_session, question["id"], seq=6)
    assert response.status_code == 303
    attempt = _attempt(db)
    assert attempt.seq == 6 and attempt.revisions[-1].action == "participant"
    assert attempt.revisions[-1].actor_id is None
    history = client.get(f"/sessions/{study_session.id}/attempts/{attempt.id}").get_data(as_text=True)
    assert "The participant, on their screen" in history  # its history says who gave the SEQ
    event = db.session.scalars(sa.select(SessionEvent).order_by(SessionEvent.id.desc())).first()
    assert event.kind == "seq.answered" and event.payload["seq"] == 6 and event.payload["by_participant"]
    assert db.session.get(ScreenQuestion, question["id"]).answered
    # The analysis reads it like a typed SEQ.
    assert client.post(f"/api/v1/sessions/{study_session.id}/end").status_code == 200
    row = results.compute_study_results(study_session.study_id).tasks[0]
    assert row.seq_n == 1 and row.seq.value == 6


def test_an_seq_of_8_is_refused_and_nothing_changes(db, client, between_tasks):
    study_session = between_tasks
    question = _ask(client, study_session, "seq").get_json()
    for bad in (8, 0, "six", ""):
        response = _answer(client, study_session, question["id"], seq=bad)
        assert response.status_code == 422
        assert "Choose a number from 1 to 7." in response.get_data(as_text=True)
    assert _answer(client, study_session, question["id"]).status_code == 422  # no choice at all
    assert _attempt(db).seq is None
    assert db.session.get(ScreenQuestion, question["id"]).closed_at is None  # still asked


def test_participant_answers_the_sus_and_it_counts_like_typed_answers(db, client, between_tasks):
    study_session = between_tasks
    question = _ask(client, study_session, "sus").get_json()
    page = client.get(f"/screen/{study_session.screen_token}").get_data(as_text=True)
    assert page.count("<fieldset") == 10 and all(statement in page for statement in sus.STATEMENTS)
    assert _answer(client, study_session, question["id"], **_sus_form(SUS)).status_code == 303
    stored = db.session.scalars(sa.select(SusResponse)).one()
    assert stored.answers == SUS and stored.entered_by_id is None
    got = client.get(f"/api/v1/sessions/{study_session.id}/sus").get_json()
    assert got["score"] == sus.score(SUS) == 82.5
    base = f"/api/v1/sessions/{study_session.id}"
    assert client.post(f"{base}/end").status_code == 200
    assert results.compute_study_results(study_session.study_id).sus.n == 1  # counted like typed ones
    # The moderator may still type (correct) them after the session.
    assert client.post(f"{base}/sus", json={"answers": [3] * 10}).get_json()["score"] == 50.0


def test_a_sus_with_nine_answers_is_refused_and_nothing_is_stored(db, client, between_tasks):
    study_session = between_tasks
    question = _ask(client, study_session, "sus").get_json()
    response = _answer(client, study_session, question["id"], **_sus_form(SUS[:9]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please answer every statement." in page and 'id="sus10-error"' in page
    assert 'value="4" checked' in page  # what was chosen stays chosen
    assert _answer(client, study_session, question["id"], **_sus_form([*SUS[:9], 6])).status_code == 422
    assert db.session.scalars(sa.select(SusResponse)).all() == []


def test_an_answer_after_the_session_ended_is_refused_and_nothing_is_stored(db, client, between_tasks):
    study_session = between_tasks
    token = study_session.screen_token
    question = _ask(client, study_session, "sus").get_json()
    assert client.post(f"/api/v1/sessions/{study_session.id}/end").status_code == 200
    response = client.post(f"/screen/{token}/answer", data={"question": question["id"], **_sus_form(SUS)})
    assert response.status_code in (404, 410)
    assert "This screen has closed" in response.get_data(as_text=True)
    assert db.session.scalars(sa.select(SusResponse)).all() == []


def test_a_withdrawn_or_replaced_question_cannot_be_answered(db, client, between_tasks):
    study_session = between_tasks
    seq_question = _ask(client, study_session, "seq").get_json()
    sus_question = _ask(client, study_session, "sus").get_json()  # replaces the SEQ
    refused = _answer(client, study_session, seq_question["id"], seq=5)
    assert refused.status_code == 409 and "no longer asked" in refused.get_data(as_text=True)
    assert client.delete(f"/api/v1/sessions/{study_session.id}/screen/question").status_code == 200
    assert _answer(client, study_session, sus_question["id"], **_sus_form(SUS)).status_code == 409
    assert client.delete(f"/api/v1/sessions/{study_session.id}/screen/question").status_code == 409
    assert _attempt(db).seq is None and db.session.scalars(sa.select(SusResponse)).all() == []


def test_questions_are_asked_only_between_tasks_of_a_running_session(db, client, login, make_session,
                                                                    make_user):
    observer = make_user(Role.OBSERVER)
    study_session = make_session(observers=[observer])
    login(study_session.moderator)
    base = f"/api/v1/sessions/{study_session.id}"
    assert _ask(client, study_session, "sus").status_code == 409  # not started
    client.post(f"{base}/start")
    assert _ask(client, study_session, "seq").status_code == 409  # no task ended yet
    task = study_session.study.tasks[0]
    client.post(f"{base}/tasks/{task.id}/start")
    assert _ask(client, study_session, "sus").status_code == 409  # a task runs
    assert _ask(client, study_session, "nps").status_code == 422
    client.post(f"{base}/tasks/{task.id}/end", json={"outcome": "success"})
    login(observer)
    assert _ask(client, study_session, "sus").status_code == 403
    assert db.session.scalars(sa.select(ScreenQuestion)).all() == []


@pytest.mark.parametrize("language, words", [
    ("de", ["Wie schwierig oder einfach war es insgesamt", "Sehr schwierig", "Meine Antwort senden"]),
    ("fr", ["Dans l’ensemble, cette tâche", "Très facile", "Envoyer ma réponse"]),
    ("es", ["¿qué tan difícil o fácil", "Muy fácil", "Enviar mi respuesta"]),
])
def test_the_participant_screen_speaks_the_studys_language(db, client, between_tasks, language, words):
    study_session = between_tasks
    study_session.study.language = ScreenLanguage(language)
    db.session.commit()
    question = _ask(client, study_session, "seq").get_json()
    page = client.get(f"/screen/{study_session.screen_token}").get_data(as_text=True)
    assert f'<html lang="{language}">' in page
    for word in words:
        assert word in page
    assert "Overall, how difficult" not in page
    refused = _answer(client, study_session, question["id"], seq=9).get_data(as_text=True)
    assert "Choose a number from 1 to 7." not in refused  # the error too
    client.delete(f"/api/v1/sessions/{study_session.id}/screen/question")
    state = client.get(f"/screen/{study_session.screen_token}/state").get_json()
    assert state["language"] == language and state["heading"] != "Thank you"


def test_the_sus_statements_are_translated_in_every_language(db, client, between_tasks):
    study_session = between_tasks
    study_session.study.language = ScreenLanguage.DE
    db.session.commit()
    _ask(client, study_session, "sus")
    page = client.get(f"/screen/{study_session.screen_token}").get_data(as_text=True)
    assert "Ich fand das System einfach zu benutzen." in page and "Stimme voll und ganz zu" in page
    assert not any(statement in page for statement in sus.STATEMENTS)


def _catalogue_ids() -> set[str]:
    """Every text the participant screen translates: extracted from its code and templates, and the SUS."""
    mapping = [("usabtest/observe/screen.py", "python"), ("usabtest/observe/views.py", "python"),
               ("templates/observe/*screen*.html", "jinja2")]
    found = {message for _file, _line, message, _comments, _context in
             extract_from_dir(str(REPO), method_map=mapping)}
    return {m for m in found if isinstance(m, str)} | set(sus.STATEMENTS) | set(sus.SCALE_LABELS.values())


@pytest.mark.parametrize("language", [lang.value for lang in ScreenLanguage if lang != ScreenLanguage.EN])
def test_every_catalogue_translates_every_text_and_its_mo_is_compiled_from_its_po(language):
    folder = paths.TRANSLATIONS / language / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as po_file:
        po = read_po(po_file)
    with open(folder / "messages.mo", "rb") as mo_file:
        mo = read_mo(mo_file)
    wanted = _catalogue_ids()
    translated = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
    assert wanted - set(translated) == set(), f"untranslated in {language}"
    compiled = {m.id: m.string for m in mo if m.id}
    assert compiled == translated, f"{folder}/messages.mo is stale: pybabel compile -d usabtest/translations"


def test_the_studys_screen_language_is_set_on_its_form_and_through_the_api(db, client, login, make_study):
    study = make_study()
    login(study.owner)
    page = client.get(f"/studies/{study.id}/edit").get_data(as_text=True)
    assert "Language of the participant screen" in page and "Deutsch" in page and "Español" in page
    form = _form_values(page)
    assert client.post(f"/studies/{study.id}/edit", data={**form, "language": "es"}).status_code == 302
    assert study.language == ScreenLanguage.ES
    form = _form_values(client.get(f"/studies/{study.id}/edit").get_data(as_text=True))
    assert client.post(f"/studies/{study.id}/edit", data={**form, "language": "it"}).status_code in (400, 422)
    db.session.refresh(study)
    assert study.language == ScreenLanguage.ES
    detail = client.get(f"/api/v1/studies/{study.id}").get_json()
    assert detail["language"] == "es"
    url = f"/api/v1/studies/{study.id}"
    patched = client.patch(url, json={"version": detail["version"], "language": "fr"})
    assert patched.status_code == 200 and patched.get_json()["language"] == "fr"
    refused = client.patch(f"/api/v1/studies/{study.id}",
                           json={"version": patched.get_json()["version"], "language": "xx"})
    assert refused.status_code == 422 and "language" in refused.get_json()["error"]["fields"]
    org = study.organisation_id
    created = client.post("/api/v1/studies", json={"title": "Neu", "organisation_id": org, "language": "de"})
    assert created.status_code == 201 and created.get_json()["language"] == "de"
    assert client.post("/api/v1/studies", json={"title": "Default", "organisation_id": org}
                       ).get_json()["language"] == "en"
