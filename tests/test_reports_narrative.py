"""The report texts researchers write: Markdown kept safe in pages and PDF, the page, the API."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.test_reports_pdf import body_text, logical_text, pdf_text, qpdf_check, sample_report, squash
from usabtest.accounts.models import Role
from usabtest.reports import markdown, narrative, pdf, services
from usabtest.reports.models import PublishedReport, ReportNarrative

TEXTS = {
    "executive_summary": "Payments work; **freezing a card** fails.",
    "product_description": "Northwind Mobile 4.2 for *iOS* and Android.",
    "test_objectives": "- Can customers pay a friend?\n- Do they find the freeze button?",
    "participant_selection": "Eight weekly users from the research panel.",
    "environment_facility": "Leeds usability lab.",
    "environment_devices": "iPhone 13 mini and Pixel 7.",
    "environment_software": "iOS 17, Android 14, build 4210.",
    "procedure": "Think-aloud; the moderator helped after two minutes stuck.",
    "participant_instructions": "We are testing the app, not you.",
    "administrator_tools": "usabtest and Lookback.",
    "contact_details": "Riley Researcher, [riley@example.com](mailto:riley@example.com)",
    "next_steps": "Fix the freeze button first, then test payees again.",
}
HOSTILE_MARKDOWN = (
    "<script>alert('x')</script> and <img src=x onerror=alert(1)>\n\n"
    "[click me](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    "<font color='red'>not red</font> <para> </para> <b>not bold</b> &amp; &#169;\n\n"
    "- item with <br/> inside\n- [fine](https://example.com/?a=\"b'&c=<d>)"
)


# --- Markdown, pure ------------------------------------------------------------------------------

def test_markdown_html_escapes_raw_html_and_drops_unsafe_links():
    html = markdown.to_html(HOSTILE_MARKDOWN)
    assert "<script" not in html and "<img" not in html and "<font" not in html and "<para>" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html
    assert "javascript:" not in re.findall(r'href="([^"]*)"', html)[0]
    assert re.findall(r'href="([^"]*)"', html) == ["https://example.com/?a=%22b'&amp;c=%3Cd%3E"]
    assert "[click me](javascript:alert(1))" in html  # shown as typed, not a link
    assert 'rel="nofollow noopener noreferrer"' in html
    assert "&amp;amp; &amp;#169;" in html  # entities read as typed


def test_markdown_blocks_give_paragraphs_lists_emphasis_and_links():
    blocks = markdown.blocks("Intro with **bold**, *em* and [a link](https://x.example).\n\n"
                             "1. first\n2. second\n   - nested\n\nEnd\nnext line")
    assert [(b.marker, b.depth) for b in blocks] == [("", 0), ("1.", 1), ("2.", 1), ("•", 2), ("", 0)]
    spans = blocks[0].spans
    assert any(s.text == "bold" and s.bold for s in spans) and any(s.text == "em" and s.italic for s in spans)
    assert any(s.text == "a link" and s.href == "https://x.example" for s in spans)
    assert blocks[-1].plain == "End\nnext line"
    assert markdown.blocks("  \n\n ") == []


@pytest.mark.parametrize("url, allowed", [
    ("https://example.com", True), ("http://example.com", True), ("mailto:a@example.com", True),
    ("javascript:alert(1)", False), (" JaVaScRiPt:alert(1)", False), ("data:text/html,x", False),
    ("vbscript:x", False), ("file:///etc/passwd", False), ("/relative", False),
])
def test_only_http_https_and_mailto_links_are_kept(url, allowed):
    assert markdown.link_allowed(url) is allowed
    assert bool(markdown.blocks(f"[x]({url.strip()})")[0].spans[0].href) is allowed


# --- PDF, pure -----------------------------------------------------------------------------------

def test_every_written_text_is_in_the_pdf_with_its_formatting_as_text():
    fields = {("objectives" if k == "test_objectives" else k): v for k, v in TEXTS.items()}
    text = squash(pdf_text(pdf.render(sample_report(**fields))))
    for expected in ("Payments work; freezing a card fails.", "Northwind Mobile 4.2 for iOS and Android.",
                     "•Can customers pay a friend?", "Eight weekly users", "Leeds usability lab.",
                     "iPhone 13 mini", "build 4210", "helped after two minutes", "not you",
                     "usabtest and Lookback", "riley@example.com"):
        assert squash(expected) in text, expected
    assert "**" not in text and "[riley" not in text
    assert "Noexecutivesummaryhasbeenwrittenyet" not in text


def test_links_become_pdf_links_only_for_allowed_schemes():
    data = pdf.render(sample_report(contact_details="[mail](mailto:r@example.com) [web](https://ex.example) "
                                                    "[bad](javascript:alert(1))"))
    assert b"mailto:r@example.com" in data and b"https://ex.example" in data
    assert b"javascript" not in data
    assert squash("[bad](javascript:alert(1))") in squash(pdf_text(data))


def test_hostile_markdown_in_every_text_prints_as_typed_in_a_valid_pdf(tmp_path):
    fields = {name: HOSTILE_MARKDOWN for name in (
        "executive_summary", "product_description", "objectives", "participant_selection",
        "environment_facility", "environment_devices", "environment_software", "procedure",
        "participant_instructions", "administrator_tools", "contact_details")}
    data = pdf.render(sample_report(**fields))
    qpdf_check(data, tmp_path)
    text = squash(body_text(data))
    for piece in ("<script>alert('x')</script>", "<fontcolor='red'>notred</font><para></para><b>notbold</b>",
                  "&amp;&#169;", "itemwith<br/>inside"):
        assert squash(piece) in text, piece


def test_a_hundred_thousand_character_text_still_gives_a_valid_pdf(tmp_path):
    huge = ("A long paragraph of findings, " * 3500)[:100_000]
    data = pdf.render(sample_report(executive_summary=huge, procedure="x" * 100_000))
    qpdf_check(data, tmp_path)
    assert data.startswith(b"%PDF")


# --- the Report texts page -----------------------------------------------------------------------

@pytest.fixture
def study(make_study):
    """A study with two tasks."""
    return make_study(tasks=2, title="Banking study")


def _form(**texts) -> dict:
    return {**dict.fromkeys(narrative.NAMES, ""), **texts}


def test_researcher_writes_every_text_and_the_draft_pdf_prints_them(client, login, study, db):
    login(study.owner)
    page = client.get(f"/studies/{study.id}/report/texts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for field in narrative.FIELDS:
        assert field.label in html
    saved = client.post(f"/studies/{study.id}/report/texts", data=_form(version="1", **TEXTS))
    assert saved.status_code == 302
    record = db.session.scalar(sa.select(ReportNarrative).where(ReportNarrative.study_id == study.id))
    assert record.texts() == TEXTS and record.version == 2
    text = squash(pdf_text(client.get(f"/studies/{study.id}/report/draft?page_size=A4").data))
    assert squash("Payments work; freezing a card fails.") in text
    assert squash("Leeds usability lab.") in text and squash("Think-aloud; the moderator") in text
    assert "Noexecutivesummaryhasbeenwrittenyet" not in text


def test_saved_texts_show_rendered_on_the_page_with_html_as_text(client, login, study):
    login(study.owner)
    client.post(f"/studies/{study.id}/report/texts",
                data=_form(version="1", executive_summary=HOSTILE_MARKDOWN))
    html = client.get(f"/studies/{study.id}/report/texts").get_data(as_text=True)
    preview = html.split('class="rendered-text"', 1)[1].split("</details>", 1)[0]
    assert "<script" not in preview and "<img" not in preview and "javascript:" not in re.sub(
        r"\[click me\]\(javascript:alert\(1\)\)", "", preview)
    assert "&lt;script&gt;" in preview and '<a href="https://example.com' in preview


def test_too_long_text_is_refused_with_a_message_and_nothing_saved(client, login, study, db):
    login(study.owner)
    response = client.post(f"/studies/{study.id}/report/texts",
                           data=_form(version="1", procedure="x" * 100_000, executive_summary="kept?"))
    assert response.status_code == 400
    assert "under 20,000 characters (this text has 100000)" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportNarrative)) == 0


def test_saving_from_an_old_version_is_refused_with_the_saved_text_beside(client, login, make_user,
                                                                          make_study, db):
    colleague = make_user(name="Casey Colleague")
    study = make_study(researchers=[colleague])
    login(study.owner)
    assert client.post(f"/studies/{study.id}/report/texts",
                       data=_form(version="1", executive_summary="Mine")).status_code == 302
    login(colleague)
    response = client.post(f"/studies/{study.id}/report/texts",
                           data=_form(version="1", executive_summary="Theirs"))
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Saved now:" in html and "Mine" in html and "Theirs" in html
    assert 'name="version" type="hidden" value="2"' in html
    db.session.expire_all()
    assert services.narrative_of(study).executive_summary == "Mine"


def test_only_the_studys_researchers_open_the_texts(client, login, make_user, make_study):
    observer = make_user(Role.OBSERVER)
    study = make_study(observers=[observer])
    for user in (observer, make_user(), make_user(Role.CLIENT, organisation=study.organisation)):
        login(user)
        assert client.get(f"/studies/{study.id}/report/texts").status_code in (403, 404)
        assert client.post(f"/studies/{study.id}/report/texts",
                           data=_form(version="1", executive_summary="x")).status_code in (403, 404)


def test_study_overview_and_report_page_link_to_the_texts(client, login, study):
    login(study.owner)
    for url in (f"/studies/{study.id}", f"/studies/{study.id}/report"):
        html = client.get(url).get_data(as_text=True)
        assert f"/studies/{study.id}/report/texts" in html and "0 of 12 written" in html


# --- the API -------------------------------------------------------------------------------------

@pytest.fixture
def api(client, db):
    """Call the API as `user` with a bearer token."""
    from usabtest.accounts import services as account_services

    def _call(user, method, path, **kwargs):
        token = account_services.issue_token(user, "narrative")
        db.session.commit()
        return client.open("/api/v1" + path, method=method, headers={"Authorization": f"Bearer {token}"},
                           **kwargs)

    return _call


def test_api_reads_and_writes_every_text_with_versions(api, study):
    path = f"/studies/{study.id}/report/texts"
    blank = api(study.owner, "GET", path).get_json()
    assert blank["version"] == 1 and blank["executive_summary"] == ""
    written = api(study.owner, "PATCH", path, json={"version": 1, **TEXTS})
    assert written.status_code == 200, written.get_json()
    assert written.get_json() == {"study_id": study.id, "version": 2, **TEXTS}
    again = api(study.owner, "PATCH", path, json={"version": 2, "procedure": "Changed."}).get_json()
    assert again["version"] == 3 and again["procedure"] == "Changed." and again["contact_details"]
    stale = api(study.owner, "PATCH", path, json={"version": 2, "procedure": "Lost?"})
    assert stale.status_code == 409
    assert stale.get_json()["current"]["procedure"] == "Changed."


@pytest.mark.parametrize("body", [
    {"executive_summary": "no version"},
    {"version": 1, "executive_summary": "x" * 20_001},
    {"version": 1, "executive_summary": "nul \x00"},
    {"version": 1, "executive_summary": None},
    {"version": 1, "unknown_text": "x"},
    {"version": 1},
])
def test_api_bad_texts_are_a_422(api, study, body):
    response = api(study.owner, "PATCH", f"/studies/{study.id}/report/texts", json=body)
    assert response.status_code == 422


def test_api_first_save_from_a_version_never_read_is_a_409(api, study):
    response = api(study.owner, "PATCH", f"/studies/{study.id}/report/texts",
                   json={"version": 7, "executive_summary": "x"})
    assert response.status_code == 409


def test_api_hides_the_texts_from_people_outside_the_study(api, study, make_user):
    for user in (make_user(), make_user(Role.CLIENT, organisation=study.organisation)):
        assert api(user, "GET", f"/studies/{study.id}/report/texts").status_code in (403, 404)
        assert api(user, "PATCH", f"/studies/{study.id}/report/texts",
                   json={"version": 1, "executive_summary": "x"}).status_code in (403, 404)


# --- upgrading -----------------------------------------------------------------------------------

OLD_ROWS = [
    "INSERT INTO organisation (id, name, name_key, created_by_id, created_at, updated_at) "
    "VALUES (1, 'Acme', 'acme', NULL, :now, :now)",
    'INSERT INTO "user" (id, email, name, password_hash, role, active, session_version, timezone, '
    "created_at, updated_at) VALUES (1, 'r@x.example', 'Rita', 'x', 'researcher', true, 1, 'UTC', "
    ":now, :now)",
    *(f"INSERT INTO study (id, organisation_id, title, product, goals, method, status, owner_id, "
      f"last_participant_number, welcome_text, show_task_word, executive_summary, environment, created_at, "
      f"updated_at) VALUES ({number}, 1, 'S', '', '', 'in_person', 'active', 1, 0, '', true, {texts}, "
      ":now, :now)"
      for number, texts in ((1, "'Summary one', 'Lab 2'"), (2, "'', ''"))),
]


def test_upgrade_moves_the_summary_and_environment_written_on_studies_into_the_report_texts(tmp_path):
    from flask_migrate import downgrade, upgrade

    from usabtest import create_app
    from usabtest.extensions import db

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'texts.sqlite'}", "SECRET_KEY": "k"})
    with app.app_context():
        upgrade(revision="c3a1d2e4f5b6")
        with db.engine.begin() as conn:
            for statement in OLD_ROWS:
                conn.execute(sa.text(statement), {"now": "2026-11-30 10:00:00"})
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT study_id, executive_summary, environment_facility, version "
                                        "FROM report_narrative")).all()
        downgrade(revision="c3a1d2e4f5b6")
        with db.engine.connect() as conn:
            back = conn.execute(sa.text("SELECT id, executive_summary, environment FROM study")).all()
        db.engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "Summary one", "Lab 2", 1)]
    assert sorted(tuple(r) for r in back) == [(1, "Summary one", "Lab 2"), (2, "", "")]


# --- end to end: pages and API only --------------------------------------------------------------

def test_a_study_made_through_the_api_and_pages_publishes_every_text(client, login, api, make_user, db):
    rita = make_user(name="Rita Researcher")
    organisation = api(rita, "POST", "/organisations", json={"name": "Northwind"}).get_json()
    study = api(rita, "POST", "/studies", json={
        "title": "Payments study", "organisation_id": organisation["id"], "product": "Mobile app"}).get_json()
    api(rita, "POST", f"/studies/{study['id']}/tasks", json={"title": "Pay a friend"})
    texts = api(rita, "GET", f"/studies/{study['id']}/report/texts").get_json()
    written = api(rita, "PATCH", f"/studies/{study['id']}/report/texts",
                  json={"version": texts["version"], **TEXTS})
    assert written.status_code == 200
    login(rita)
    published = client.post(f"/studies/{study['id']}/report/publish",
                            data={"page_size": "A4", "confirmed": "yes", "gap_reason": "No sessions yet"})
    assert published.status_code == 302
    report_id = db.session.scalar(sa.select(PublishedReport.id))
    text = squash(logical_text(client.get(f"/reports/{report_id}/download").data))
    for value in TEXTS.values():
        for piece in (line.strip("- ").replace("**", "").replace("*", "") for line in value.split("\n")):
            plain = re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", piece)
            assert squash(plain) in text, plain
    assert "Noexecutivesummaryhasbeenwrittenyet" not in text
