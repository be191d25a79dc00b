"""Bad input never gives a 500: it is refused with a clear message (a field error on pages, 422 in the
API) and nothing of it is stored. Runs on SQLite and, with USABTEST_TEST_DATABASE_URL, on PostgreSQL
(which refuses NUL characters and integers past its columns' range outright).

The route-wide checks walk `app.url_map`, so a new page or endpoint is covered the day it is added.
"""

from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa
from flask_wtf import FlaskForm
from PIL import Image
from pydantic import ValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart
from wtforms import StringField, TextAreaField
from wtforms.fields.core import UnboundField

from tests.conftest import shared_data
from usabtest.accounts.models import Role, User
from usabtest.analysis.models import Finding, Screenshot
from usabtest.core.forms import Form
from usabtest.core.schemas import InputModel, control_character_problem
from usabtest.core.urls import IdConverter
from usabtest.demo import demo_sign_in, load_demo
from usabtest.extensions import db as _db
from usabtest.observe.models import Note, TaskAttempt
from usabtest.planning import csv_import
from usabtest.planning.models import Participant, ParticipantPersonal, Study, StudySession

# A control character other than tab and line breaks, as text or as a JSON escape.
STORED_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\\u00(0[0-8bcef]|1[0-9a-f])")
BIG_IDS = [2**31, 2**63, 10**30]
# Endpoints that stream or serve files, checked elsewhere; the rest of the GETs take bad queries.
STREAMS = {"api.stream_session_events", "observe.events"}


def _sign_in(client, role: Role) -> None:
    email, password = demo_sign_in(role)
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302


@shared_data
def demo():
    """The demo data, and a value for every kind of URL argument it offers."""
    load_demo()
    study = _db.session.scalar(sa.select(Study))
    study_session = study.sessions[0]
    note = _db.session.scalar(sa.select(Note).where(Note.session_id == study_session.id))
    researcher = _db.session.scalar(sa.select(User).where(User.role == Role.RESEARCHER))
    return {
        "study_id": study.id, "session_id": study_session.id, "task_id": study.tasks[0].id,
        "finding_id": _db.session.scalar(sa.select(Finding.id)), "user_id": researcher.id,
        "participant_id": study_session.participant_id, "note_id": note.client_uuid,
        "org_id": study.organisation_id, "kind": "notes", "direction": "up", "filename": "css/app.css",
    }


def _path(rule, values: dict, **override) -> str | None:
    args = {}
    for name in rule.arguments:
        value = override.get(name, values.get(name))
        if value is None:
            return None
        args[name] = value
    return rule.build(args, append_unknown=False)[1]


def _stored_control_characters() -> list[tuple[str, str]]:
    """Every (table.column) whose stored text holds a control character other than tab and line breaks."""
    found = []
    for table in _db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                continue
            values = _db.session.execute(sa.select(column).where(column.is_not(None))).scalars()
            texts = (v if isinstance(v, str) else json.dumps(v) for v in values)
            if any(STORED_CONTROL.search(t) for t in texts):
                found.append((table.name, column.name))
    return found


# --- ids beyond the database's range -------------------------------------------------------------


@pytest.mark.parametrize("big", BIG_IDS)
def test_ids_beyond_the_databases_range_answer_404_on_every_route(app, client, demo, big):
    _sign_in(client, Role.ADMIN)
    checked = 0
    for rule in app.url_map.iter_rules():
        int_args = [name for name, conv in rule._converters.items() if isinstance(conv, IdConverter)]
        if not int_args:
            continue
        for name in int_args:
            path = _path(rule, demo, **{n: demo.get(n, 1) for n in int_args} | {name: big})
            if path is None:
                continue
            method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            response = client.open(path, method=method)
            assert response.status_code == 404, (rule.rule, path, response.status_code)
            if path.startswith("/api/"):
                assert response.get_json()["error"]["status"] == 404
            checked += 1
    assert checked > 100


def test_an_id_in_range_that_does_not_exist_is_still_a_plain_404(client, demo):
    _sign_in(client, Role.ADMIN)
    assert client.get(f"/studies/{2**31 - 1}").status_code == 404
    assert client.get(f"/api/v1/studies/{2**31 - 1}").status_code == 404


# --- page numbers and other query values --------------------------------------------------------


BAD_QUERIES = [
    "page=1e20&per_page=1e20", "page=-5&per_page=-1", "page=" + "9" * 30, "page=" + "9" * 5000,
    "q=%00&tag=%00&kind=%00&segment=a%00:b&task=" + "9" * 30 + "&participant=99999999999999999999",
    "finding=99999999999999999999&severity=%07&organisation=99999999999999999999&next=%00",
]


@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.2)
@pytest.mark.parametrize("query", BAD_QUERIES)
def test_every_get_route_answers_bad_query_values_without_error(app, client, demo, query):
    _sign_in(client, Role.ADMIN)
    visited = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in STREAMS:
            continue
        path = _path(rule, demo)
        if path is None:
            continue
        with client.get(f"{path}?{query}") as response:
            assert response.status_code < 500 or rule.endpoint == "operations.readyz", (path, query)
        visited += 1
    assert visited > 40


def test_a_page_number_past_the_end_shows_the_last_page(client, login, make_user, make_study):
    owner = make_user()
    titles = [make_study(owner, title=f"Study number {n:02d}").title for n in range(27)]
    login(owner)

    def shown(query: str) -> set[str]:
        response = client.get(f"/studies{query}")
        assert response.status_code == 200, query
        return {title for title in titles if title in response.get_data(as_text=True)}

    last, first = shown("?page=2"), shown("")
    assert len(last) == 2 and len(first) == 25
    for page in ("99", "9" * 40, "9" * 5000):
        assert shown(f"?page={page}") == last, page
    for page in ("1e20", "-3", "0", "two"):
        assert shown(f"?page={page}") == first, page


def test_api_page_numbers_out_of_range_are_field_errors(client, demo):
    _sign_in(client, Role.ADMIN)
    for query in ("page=1e20", "page=-1", "page=" + "9" * 30, "per_page=100000"):
        response = client.get(f"/api/v1/studies?{query}")
        assert response.status_code == 422, query
        assert set(response.get_json()["error"]["fields"]) & {"page", "per_page"}


# --- control characters in page forms ------------------------------------------------------------


def _form_classes(base=Form):
    for cls in base.__subclasses__():
        yield cls
        yield from _form_classes(cls)


def _text_field_names() -> dict[str, bool]:
    """Every text field name of every page form, and whether it takes several lines."""
    names: dict[str, bool] = {}
    for cls in _form_classes():
        for name in dir(cls):
            field = getattr(cls, name, None)
            if isinstance(field, UnboundField) and issubclass(field.field_class, StringField):
                names[name] = names.get(name, False) or issubclass(field.field_class, TextAreaField)
    return names


def test_every_page_form_has_the_central_text_check(app):
    ours = [cls for cls in _form_classes(FlaskForm) if cls.__module__.startswith("usabtest.")]
    assert len(ours) > 30
    assert [cls.__name__ for cls in ours if not issubclass(cls, Form)] == []
    assert {"title", "name", "body", "goals", "email"} <= set(_text_field_names())


@pytest.mark.parametrize("bad", ["with\x00nul", "bell\x07", "escape\x1b[31m", "line\nbreak"])
def test_every_page_form_refuses_control_characters_and_stores_none(app, client, demo, bad):
    _sign_in(client, Role.ADMIN)
    fields = _text_field_names()
    posted = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith(("/api/", "/login", "/logout")):
            continue
        path = _path(rule, demo)
        if path is None:
            continue
        data = dict.fromkeys(fields, bad)
        response = client.post(path, data=data)
        assert response.status_code < 500, (path, response.status_code)
        posted += 1
    assert posted > 30
    if "\n" not in bad:
        assert _stored_control_characters() == []


@pytest.mark.parametrize(("path", "data", "field_id"), [
    ("/studies/new", {"title": "Checkout\x00", "organisation": "{org_id}", "method": "in_person"}, "title"),
    ("/studies/new", {"title": "Checkout\nBcc: x@example.com", "organisation": "{org_id}",
                      "method": "in_person"}, "title"),
    ("/profile", {"profile-name": "Ada\r\nBcc: x@example.com", "profile-timezone": "UTC",
                  "profile-submit": "Save profile"}, "profile-name"),
    ("/studies/{study_id}/participants/new", {"name": "P\x1b[2J"}, "name"),
])
def test_a_page_form_shows_which_field_holds_a_control_character(client, demo, db, path, data, field_id):
    _sign_in(client, Role.ADMIN)
    studies = db.session.scalar(sa.select(sa.func.count(Study.id)))
    participants = db.session.scalar(sa.select(sa.func.count(Participant.id)))
    values = {key: value.format(**demo) for key, value in data.items()}
    response = client.post(path.format(**demo), data=values)
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:2000]
    assert ("must be a single line" in page) or ("must not contain" in page)
    assert f'id="{field_id}"' in page
    assert db.session.scalar(sa.select(sa.func.count(Study.id))) == studies
    assert db.session.scalar(sa.select(sa.func.count(Participant.id))) == participants
    assert _stored_control_characters() == []


def test_text_areas_keep_tabs_and_line_breaks_but_refuse_other_control_characters(client, demo, db):
    _sign_in(client, Role.ADMIN)
    base = f"/studies/{demo['study_id']}/tasks/new"
    kept = client.post(base, data={"title": "Find the branch", "scenario": "First\r\n\tthen"})
    assert kept.status_code == 302
    refused = client.post(base, data={"title": "Find the ATM", "scenario": "First\x07 bell"})
    assert refused.status_code == 400 and "U+0007" in refused.get_data(as_text=True)


# --- control characters in the API --------------------------------------------------------------


def _input_models(base=InputModel):
    for cls in base.__subclasses__():
        yield cls
        yield from _input_models(cls)


def test_every_text_field_of_every_api_body_refuses_control_characters(app):
    checked = 0
    for model in _input_models():
        for name, info in model.model_fields.items():
            if info.annotation is not str and "str" not in str(info.annotation):
                continue
            if "dict" in str(info.annotation) or "list" in str(info.annotation):
                continue
            for bad in ("a\x00b", "a\x07b"):
                with pytest.raises(ValidationError) as refused:
                    model.__pydantic_validator__.validate_assignment(
                        model.model_construct(), name, bad)
                assert any(problem["loc"][:1] == (name,) for problem in refused.value.errors()), (model, name)
            checked += 1
    assert checked > 20


@pytest.fixture
def api(client, demo):
    """The client signed in as the demo admin, sending JSON."""
    _sign_in(client, Role.ADMIN)
    return client


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "T\x00", "organisation_id": "{org_id}"}, "title"),
    ({"title": "Two\nlines", "organisation_id": "{org_id}"}, "title"),
    ({"title": "T", "organisation_id": "{org_id}", "goals": "bell \x07"}, "goals"),
])
def test_api_text_with_control_characters_is_a_422_naming_the_field(api, demo, db, body, field):
    studies = db.session.scalar(sa.select(sa.func.count(Study.id)))
    payload = {k: (int(v.format(**demo)) if v == "{org_id}" else v) for k, v in body.items()}
    response = api.post("/api/v1/studies", json=payload)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["error"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count(Study.id))) == studies


def test_a_note_with_nul_is_a_422_and_the_next_note_is_saved(api, demo, db):
    url = f"/api/v1/sessions/{demo['session_id']}/notes"
    notes = db.session.scalar(sa.select(sa.func.count(Note.id)))
    refused = api.post(url, json={"id": "7b0e6a53-4cf0-4d8a-9b51-3ad0d5b1a001", "elapsed_ms": 1000,
                                  "body": "Taps \x00 twice"})
    assert refused.status_code == 422 and "body" in refused.get_json()["error"]["fields"]
    assert "NUL" in refused.get_json()["error"]["fields"]["body"]
    saved = api.post(url, json={"id": "7b0e6a53-4cf0-4d8a-9b51-3ad0d5b1a002", "elapsed_ms": 2000,
                                "body": "Line one\nline two\twith a tab"})
    assert saved.status_code in (200, 201), saved.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Note.id))) == notes + 1


def test_a_participant_name_with_a_line_break_is_refused_in_the_api(api, demo, db):
    response = api.post(f"/api/v1/studies/{demo['study_id']}/participants",
                        json={"name": "Ann\r\nBcc: x@example.com"})
    assert response.status_code == 422 and "name" in response.get_json()["error"]["fields"]


# --- dates out of range --------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Pacific/Kiritimati", "America/New_York", "UTC"])
def test_a_session_at_the_end_of_the_calendar_is_a_field_error(client, demo, db, zone):
    _sign_in(client, Role.ADMIN)
    sessions = db.session.scalar(sa.select(sa.func.count(StudySession.id)))
    moderator = demo["user_id"]
    form = {"participant": demo["participant_id"], "day": "9999-12-31", "at": "23:30", "timezone": zone,
            "duration_min": "60", "moderator": moderator, "location": "Lab"}
    response = client.post(f"/studies/{demo['study_id']}/sessions/new", data=form)
    assert response.status_code in (400, 422), response.status_code
    assert "Choose a date before" in response.get_data(as_text=True)

    api = client.post(f"/api/v1/studies/{demo['study_id']}/sessions", json={
        "participant": demo["participant_id"], "day": "9999-12-31", "time": "23:30", "timezone": zone,
        "moderator": moderator, "location": "Lab"})
    assert api.status_code == 422 and "Choose a date before" in api.get_json()["error"]["message"]
    year_10000 = client.post(f"/api/v1/studies/{demo['study_id']}/sessions", json={
        "participant": demo["participant_id"], "day": "10000-01-01", "time": "10:00", "location": "Lab"})
    assert year_10000.status_code == 422 and "day" in year_10000.get_json()["error"]["fields"]
    first_day = client.post(f"/studies/{demo['study_id']}/sessions/new", data={**form, "day": "0001-01-01",
                                                                              "at": "00:10"})
    assert first_day.status_code in (400, 422)
    assert db.session.scalar(sa.select(sa.func.count(StudySession.id))) == sessions


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_an_attempt_corrected_to_the_ends_of_the_calendar_is_refused(api, demo, db, moment):
    attempt = db.session.scalars(sa.select(TaskAttempt).where(TaskAttempt.ended_at.is_not(None))).first()
    before = (attempt.started_at, attempt.ended_at)
    for name in ("started_at", "ended_at"):
        response = api.patch(f"/api/v1/sessions/{attempt.session_id}/attempts/{attempt.id}", json={
            "version": attempt.version, name: moment})
        assert response.status_code == 422, response.get_data(as_text=True)
    db.session.refresh(attempt)
    assert (attempt.started_at, attempt.ended_at) == before


# --- bodies: nesting, size -----------------------------------------------------------------------


@pytest.mark.parametrize("nested", ["[" * 10_000 + "]" * 10_000, '{"a":' * 10_000 + "1" + "}" * 10_000])
def test_deeply_nested_json_is_a_400(api, demo, nested):
    for path in ("/api/v1/studies", f"/api/v1/sessions/{demo['session_id']}/notes"):
        response = api.post(path, data=nested, content_type="application/json")
        assert response.status_code in (400, 422), (path, response.status_code)
        assert response.get_json()["error"]["message"]


@pytest.mark.config(MAX_CONTENT_LENGTH=50_000)
def test_a_body_over_the_limit_is_a_clear_413_on_pages_and_in_the_api(api, demo, db):
    studies = db.session.scalar(sa.select(sa.func.count(Study.id)))
    page = api.post("/studies/new", data={"title": "x", "goals": "g" * 60_000})
    assert page.status_code == 413
    assert "larger than this server accepts" in page.get_data(as_text=True)
    response = api.post("/api/v1/studies", json={"title": "x", "goals": "g" * 60_000})
    assert response.status_code == 413
    assert "larger than this server accepts" in response.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count(Study.id))) == studies


# --- CSV import ----------------------------------------------------------------------------------


def _import(client, study_id: int, content: bytes):
    # Encoded here in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), "people.csv")})
    return client.post(f"/studies/{study_id}/participants/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize(("content", "message"), [
    (b"name,notes\nAnn,\"" + b"x" * (128 * 1024 + 10) + b"\"\n", "longer than 131,072 characters"),
    (b"name," + b",".join(b"c%d" % i for i in range(100)) + b"\nAnn\n", "at most 60 are read"),
    (b"name\n" + b"Ann\n" * (csv_import.MAX_ROWS + 1), "more than 5000 participants"),
    (b"name,ag\x00e\nAnn,1\n", "NUL"),
])
def test_a_csv_file_past_the_limits_is_refused_with_a_message(client, demo, db, content, message):
    _sign_in(client, Role.ADMIN)
    participants = db.session.scalar(sa.select(sa.func.count(Participant.id)))
    response = _import(client, demo["study_id"], content)
    assert response.status_code == 400, response.status_code
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Participant.id))) == participants


def test_a_csv_file_over_the_size_limit_is_refused(client, demo, monkeypatch):
    _sign_in(client, Role.ADMIN)
    assert csv_import.MAX_BYTES == 2 * 1024 * 1024
    monkeypatch.setattr(csv_import, "MAX_BYTES", 10 * 1024)
    response = _import(client, demo["study_id"], b"name\n" + b"Ann\n" * 3000)
    assert response.status_code == 400 and "larger than 10 KB" in response.get_data(as_text=True)


def test_csv_rows_with_control_characters_are_left_out_and_the_rest_imported(client, demo, db):
    _sign_in(client, Role.ADMIN)
    content = "name,email,age band\nQuill\x07,,25-34\nRook,,18\x00\nSable,,\"two\nlines\"\nTeal,,40-49\n"
    preview = _import(client, demo["study_id"], content.encode())
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "<strong>3</strong> rows will be left out" in page
    assert "name value must not contain control characters (U+0007 found)" in page
    assert "age band value must not contain NUL characters" in page
    assert "age band value must be a single line" in page
    payload = page.split('name="payload" type="hidden" value="')[1].split('"')[0]
    done = client.post(f"/studies/{demo['study_id']}/participants/import/confirm", data={"payload": payload})
    assert done.status_code == 302
    names = db.session.scalars(sa.select(ParticipantPersonal.name)).all()
    assert "Teal" in names and not any(name.startswith(("Quill", "Rook", "Sable")) for name in names)
    assert _stored_control_characters() == []


def test_refused_values_are_quoted_shortly_in_the_preview():
    preview = csv_import.parse_participants("name,email\nAnn," + "x" * 10_000 + "\n", set())
    (bad,) = preview.bad
    assert len(" ".join(bad.reasons)) < 200 and len(bad.email) <= 254


# --- screenshots ---------------------------------------------------------------------------------


def _png(width: int, height: int, trailer: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue() + trailer


@pytest.mark.config(SCREENSHOT_MAX_PIXELS=10_000)
def test_a_screenshot_over_the_pixel_cap_is_refused_and_others_re_encoded(client, demo, db):
    _sign_in(client, Role.ADMIN)
    url = f"/studies/{demo['study_id']}/findings/{demo['finding_id']}/screenshots"
    before = db.session.scalar(sa.select(sa.func.count(Screenshot.id)))
    refused = client.post(url, data={"image": (io.BytesIO(_png(200, 100)), "big.png"), "caption": "Big"},
                          content_type="multipart/form-data")
    assert refused.status_code == 400
    assert "more than 0.01 million pixels" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Screenshot.id))) == before

    kept = client.post(url, data={"image": (io.BytesIO(_png(100, 50, b"<script>trailing</script>")),
                                            "small.png"), "caption": "Small"},
                       content_type="multipart/form-data")
    assert kept.status_code == 302
    shot = db.session.scalars(sa.select(Screenshot).order_by(Screenshot.id.desc())).first()
    assert (shot.width, shot.height) == (100, 50) and b"trailing" not in shot.data
    assert Image.open(io.BytesIO(shot.data)).size == (100, 50)


@pytest.mark.parametrize("size", [(10_000, 10_000), (8_000, 5_500)])
def test_a_giant_image_is_refused_with_the_pixel_message(client, demo, db, size):
    """100 and 44 million pixels in a few kilobytes: the first trips Pillow's own bomb check, the
    second (once accepted, and blowing the draft PDF up) the screenshot cap of 40 million."""
    _sign_in(client, Role.ADMIN)
    url = f"/studies/{demo['study_id']}/findings/{demo['finding_id']}/screenshots"
    bomb = io.BytesIO()
    Image.new("1", size).save(bomb, "PNG")
    response = client.post(url, data={"image": (io.BytesIO(bomb.getvalue()), "bomb.png"), "caption": "x"},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "more than 40 million pixels" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Screenshot.id))) == 0 or all(
        shot.width * shot.height <= 40_000_000 for shot in db.session.scalars(sa.select(Screenshot)))


def test_the_control_character_message_names_the_character():
    assert control_character_problem("a\x1bb", multiline=True) == \
        "must not contain control characters (U+001B found)"
    assert control_character_problem("a\nb", multiline=False) == "must be a single line (no line breaks)"
    assert control_character_problem("a\n\tb\r\n", multiline=True) is None
    assert control_character_problem("a\tb", multiline=False) is None
    assert control_character_problem("\ud800", multiline=True) == "must be valid Unicode"


def test_a_page_query_with_control_characters_is_a_clear_400(client, demo):
    _sign_in(client, Role.ADMIN)
    response = client.get(f"/studies/{demo['study_id']}/notes?q=a%00b")
    assert response.status_code == 400
    assert "“q” value must not contain NUL" in response.get_data(as_text=True)


def test_the_preview_of_the_largest_file_accepted_stays_small(client, demo):
    """5,000 rows of 60 columns: every row counted and imported, the first rows listed."""
    _sign_in(client, Role.ADMIN)
    columns = ["name", "email", *(f"attribute {n}" for n in range(58))]
    lines = [",".join(columns)] + [",".join([f"Person {i}", f"p{i}@example.org", *["abc"] * 58])
                                   for i in range(csv_import.MAX_ROWS)]
    content = "\n".join(lines).encode()
    assert len(content) <= csv_import.MAX_BYTES
    preview = _import(client, demo["study_id"], content)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<strong>5000</strong> rows can be imported" in page
    assert "4800 more rows will be imported too" in page
    assert page.count('<td class="num">') == csv_import.PREVIEW_ROWS
    assert len(page) < 3 * 1024 * 1024  # the file itself rides along, signed, for the confirmation
