"""The report's other formats: the client's HTML view, the DOCX and the PPTX, drawn from the PDF's data."""

from __future__ import annotations

import html
import io
import re
import uuid
from dataclasses import replace

import docx
import pptx
import pytest
import sqlalchemy as sa
from PIL import Image

from tests.test_reports_narrative import HOSTILE_MARKDOWN, TEXTS
from tests.test_reports_pdf import logical_text, sample_report, squash
from usabtest.accounts.models import Role, User
from usabtest.reports import charts, formats, outline, raster, services
from usabtest.reports import docx as report_docx
from usabtest.reports import pptx as report_pptx
from usabtest.reports.models import PublishedReport

NARRATIVE = ("executive_summary", "product_description", "objectives", "participant_selection",
             "environment_facility", "environment_devices", "environment_software", "procedure",
             "participant_instructions", "administrator_tools", "contact_details")


def docx_text(data: bytes) -> str:
    """Every paragraph of a Word document, tables and headers included, as python-docx reads it back."""
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    parts += [p.text for section in document.sections for p in section.header.paragraphs]
    return "\n".join(parts)


def pptx_text(data: bytes) -> str:
    """Every text on the slides and in their speaker notes, as python-pptx reads it back."""
    deck = pptx.Presentation(io.BytesIO(data))
    parts = []
    for slide in deck.slides:
        parts += [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
        if slide.has_notes_slide:
            parts.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(parts)


def page_text(markup: str) -> str:
    """A page's visible text: tags dropped, entities read."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def plain_pieces(markdown_text: str) -> list[str]:
    """The words of a Markdown text as a reader sees them (markers, emphasis and link targets gone)."""
    pieces = (line.strip("- ").replace("**", "").replace("*", "") for line in markdown_text.split("\n"))
    return [re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", piece) for piece in pieces if piece.strip()]


# --- pure: the DOCX ------------------------------------------------------------------------------

def test_docx_uses_word_headings_tables_with_header_rows_and_charts_with_alt_text():
    report = sample_report()
    document = docx.Document(io.BytesIO(report_docx.render(report)))
    headings = [(p.style.name, p.text) for p in document.paragraphs
                if p.style.name.startswith(("Heading", "Title"))]
    assert ("Title", report.study_title) in headings
    assert ("Heading 1", "1 Executive summary") in headings and ("Heading 1", "6 Findings") in headings
    assert ("Heading 2", "1. Freeze option hidden in settings") in headings
    overview = next(t for t in document.tables if t.rows[0].cells[0].text == "Task")
    assert [c.text for c in overview.rows[0].cells] == list(outline.OVERVIEW_HEADER)
    assert overview._tbl.tr_lst[0].trPr.find(docx.oxml.ns.qn("w:tblHeader")) is not None
    assert [c.text for c in overview.rows[1].cells][:3] == ["1. Check the balance", "88% (51–99%)", "0:41"]
    descriptions = [shape._inline.docPr.get("descr") for shape in document.inline_shapes]
    assert len(descriptions) == 4  # two result charts, the SUS chart, one screenshot
    assert any("Task 1, Check the balance: 88% (51–99%)" in d for d in descriptions)
    assert "The card screen" in descriptions
    assert document.core_properties.created.replace(tzinfo=None) == report.generated_on.replace(tzinfo=None)


def test_docx_keeps_markdown_formatting_as_word_runs_and_only_safe_links():
    text = ("Plain, **bold**, *italic*.\n\n- one\n- two\n\n"
            "[site](https://example.com) [bad](javascript:alert(1))")
    data = report_docx.render(sample_report(executive_summary=text))
    document = docx.Document(io.BytesIO(data))
    runs = [run for p in document.paragraphs for run in p.runs]
    assert any(run.text == "bold" and run.bold for run in runs)
    assert any(run.text == "italic" and run.italic for run in runs)
    bullets = [p.text for p in document.paragraphs if p.style.name == "List Bullet"]
    assert bullets == ["one", "two"]
    links = list(document.part.rels.values())
    assert any(rel.is_external and rel.target_ref == "https://example.com" for rel in links)
    assert not any(rel.is_external and "javascript" in rel.target_ref for rel in links)
    assert squash("[bad](javascript:alert(1))") in squash(docx_text(data))


def test_draft_docx_says_draft_in_its_header():
    assert "DRAFT" in docx_text(report_docx.render(sample_report(version_label="Draft")))
    assert "DRAFT" not in docx_text(report_docx.render(sample_report()))


# --- pure: the PPTX ------------------------------------------------------------------------------

def test_pptx_has_title_headline_numbers_and_one_slide_per_finding_with_screenshot_and_recommendation():
    report = sample_report()
    deck = pptx.Presentation(io.BytesIO(report_pptx.render(report)))
    slides = list(deck.slides)
    assert slides[0].shapes.title.text == report.study_title
    assert slides[1].shapes.title.text == "Headline numbers"
    numbers = pptx_text_of(slides[1])
    assert all(stat.value in numbers and stat.label in numbers for stat in outline.headline(report))
    finding_slides = {s.shapes.title.text: s for s in slides if s.shapes.title is not None}
    for item in report.findings:
        slide = finding_slides[f"{item.rank}. {item.title}"]
        assert item.recommendation in pptx_text_of(slide)
        pictures = [shape for shape in slide.shapes if shape.shape_type == 13]
        assert len(pictures) == len(item.screenshots[:1])
    first = finding_slides["1. Freeze option hidden in settings"]
    picture = next(shape for shape in first.shapes if shape.shape_type == 13)
    assert picture._element.nvPicPr.cNvPr.get("descr") == "The card screen"


def pptx_text_of(slide) -> str:
    return "\n".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame)


def test_pptx_gives_long_texts_whole_in_the_notes_and_short_on_the_slide():
    long = "A sentence about payments. " * 400
    deck = pptx.Presentation(io.BytesIO(report_pptx.render(sample_report(executive_summary=long))))
    slide = next(s for s in deck.slides if s.shapes.title.text == "Executive summary")
    assert len(pptx_text_of(slide)) < 1100
    assert slide.notes_slide.notes_text_frame.text == long.strip()


# --- pure: charts as pictures --------------------------------------------------------------------

def test_charts_become_pngs_of_the_drawings_size():
    report = sample_report()
    for figure in outline.figures(report):
        image = Image.open(io.BytesIO(raster.png(figure.draw(400), scale=2)))
        drawing = figure.draw(400)
        assert image.size == (round(drawing.width * 2), round(drawing.height * 2))
        assert len(image.getcolors(1 << 20)) > 10  # bars, text and grid, not a blank picture


def test_chart_text_alternatives_give_every_number():
    report = sample_report()
    completion, time, sus = outline.figures(report)
    assert "Task 2, Pay a friend: 38% (13–71%)" in completion.alt
    assert "Task 3, Freeze a lost card: no attempts yet" in completion.alt
    assert "Task 2, Pay a friend: 3:32 (time limit 5:00)" in time.alt
    assert "8 SUS scores over the grade bands: 55, 65, 70, 72.5, 77.5, 80, 85, 90." in sus.alt
    summary = replace(sample_report().sus, summary_text="74.4 (95% CI 65.1–83.6, n = 8)")
    assert "Mean 74.4 (95% CI 65.1–83.6, n = 8), grade B." in outline.figures(
        sample_report(sus=summary))[2].alt


# --- hostile text in every format ----------------------------------------------------------------

@pytest.mark.parametrize("render, read", [(report_docx.render, docx_text), (report_pptx.render, pptx_text)])
def test_hostile_markdown_and_control_characters_read_back_as_typed(render, read):
    hostile = HOSTILE_MARKDOWN + "\n\nbell\x07 null\x00 escape\x1b lone\ud800 end"
    data = render(sample_report(**dict.fromkeys(NARRATIVE, hostile), study_title="Study <b>\x0b"))
    text = squash(read(data))
    for piece in ("<script>alert('x')</script>", "<fontcolor='red'>notred</font>", "&amp;&#169;",
                  "bellnullescapeloneend"):
        assert squash(piece) in text, piece
    assert b"javascript:" not in data


@pytest.mark.parametrize("render, read", [(report_docx.render, docx_text), (report_pptx.render, pptx_text)])
def test_a_hundred_thousand_character_text_gives_a_file_that_opens(render, read):
    huge = ("A long paragraph of findings, " * 3500)[:100_000]
    data = render(sample_report(executive_summary=huge, procedure="x" * 100_000))
    assert "A long paragraph of findings" in read(data)


# --- the pages -----------------------------------------------------------------------------------

@pytest.fixture
def study(make_study, make_org):
    return make_study(tasks=2, title="Payments", organisation=make_org("Northwind"))


@pytest.fixture
def published(db, study):
    report = services.publish(study, study.owner, "A4")
    db.session.commit()
    return report


def test_client_reads_the_version_as_a_page_with_headings_tables_and_described_charts(
        client, login, published, make_user, study):
    services.save_narrative(study, study.owner, version=1, executive_summary="Written *after* publishing.")
    reader = make_user(Role.CLIENT, organisation=study.organisation)
    login(reader)
    portal = client.get("/portal").get_data(as_text=True)
    assert f"/reports/{published.id}/view" in portal
    page = client.get(f"/reports/{published.id}/view")
    assert page.status_code == 200
    markup = page.get_data(as_text=True)
    assert "<h1 id=\"report-title\">Payments</h1>" in markup and "<h2 id=\"findings-title\">" in markup
    assert '<th scope="col">Completion</th>' in markup and '<th scope="row">Errors per attempt</th>' in markup
    chart = r'<img src="data:image/svg\+xml;base64,[^"]+" alt="Bar chart of the completion rate'
    assert re.search(chart, markup)
    assert "Written" not in markup  # the version as published, not today's texts
    # The Word and slide files are the researchers'.
    assert "/download.docx" not in markup and "/download.pptx" not in markup


def test_the_view_follows_the_pdfs_rules(client, login, published, make_user, make_org, study, db):
    outsider = make_user(Role.CLIENT, organisation=make_org("Contoso"))
    login(outsider)
    assert client.get(f"/reports/{published.id}/view").status_code == 404
    reader = make_user(Role.CLIENT, organisation=study.organisation)
    login(reader)
    assert client.get(f"/reports/{published.id}/download.docx").status_code == 404
    services.withdraw(published, study.owner, "Wrong client")
    db.session.commit()
    assert client.get(f"/reports/{published.id}/view").status_code == 404
    client.post("/logout")
    login(study.owner)  # researchers keep a withdrawn version, in every format
    assert client.get(f"/reports/{published.id}/view").status_code == 200


def test_researcher_downloads_draft_and_version_as_docx_and_pptx(client, login, published, study):
    login(study.owner)
    panel = client.get(f"/studies/{study.id}/report").get_data(as_text=True)
    for path in (f"/reports/{published.id}/download.docx", f"/reports/{published.id}/download.pptx",
                 f"/studies/{study.id}/report/draft.docx", f"/studies/{study.id}/report/draft.pptx",
                 f"/reports/{published.id}/view", f"/studies/{study.id}/report/draft/view"):
        assert path in panel, path
    word = client.get(f"/reports/{published.id}/download.docx")
    assert word.mimetype == formats.MIMETYPES["docx"]
    assert "payments-report-v1.docx" in word.headers["Content-Disposition"]
    assert "Version 1" in docx_text(word.data)
    slides = client.get(f"/studies/{study.id}/report/draft.pptx")
    assert slides.mimetype == formats.MIMETYPES["pptx"] and "payments-report-draft.pptx" in (
        slides.headers["Content-Disposition"])
    assert "DRAFT" in pptx_text(slides.data)
    draft_page = client.get(f"/studies/{study.id}/report/draft/view").get_data(as_text=True)
    assert "This report is not published" in draft_page
    assert client.get(f"/studies/{study.id}/report/draft.odt").status_code == 404


def test_a_version_from_before_snapshots_offers_its_pdf_only(client, login, published, study, db):
    published.document = None
    db.session.commit()
    login(study.owner)
    answer = client.get(f"/reports/{published.id}/download.docx")
    assert answer.status_code == 404 and "only its PDF exists" in answer.get_data(as_text=True)
    panel = client.get(f"/studies/{study.id}/report").get_data(as_text=True)
    assert f"/reports/{published.id}/view" not in panel


# --- end to end: pages and API only, every text in every format ----------------------------------

@pytest.fixture
def api(client, db):
    """Call the API as `user` with a bearer token; returns the JSON answer (asserting success)."""
    from usabtest.accounts import services as account_services

    def _call(user, method, path, **kwargs):
        token = account_services.issue_token(user, "formats")
        db.session.commit()
        answer = client.open("/api/v1" + path, method=method, headers={"Authorization": f"Bearer {token}"},
                             **kwargs)
        assert answer.status_code < 300, answer.get_json()
        return answer.get_json()

    return _call


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 110, 150)).save(buffer, "PNG")
    return buffer.getvalue()


def _build_study_through_pages_and_api(client, login, api, admin, rita) -> int:
    """A run study with a finding, its texts written and version 1 published; returns its id."""
    organisation = api(rita, "POST", "/organisations", json={"name": "Northwind"})
    as_admin = login(admin, on=client.application.test_client())
    created = as_admin.post(f"/organisations/{organisation['id']}/clients/new", data={
        "create-email": "cleo@northwind.example", "create-name": "Cleo Client",
        "create-password": "a long client password"})
    assert created.status_code == 302
    study = api(rita, "POST", "/studies", json={"title": "Payments study", "product": "Mobile app",
                                                "organisation_id": organisation["id"]})
    base = f"/studies/{study['id']}"
    task = api(rita, "POST", f"{base}/tasks", json={"title": "Pay a friend", "time_limit_s": 300})
    person = api(rita, "POST", f"{base}/participants", json={
        "name": "Ann Example", "consent_date": "2026-11-01", "consent_version": "v1"})
    visit = api(rita, "POST", f"{base}/sessions/walk-in",
                json={"participant": person["id"], "location": "Lab 1"})
    api(rita, "POST", f"/sessions/{visit['id']}/start")
    api(rita, "POST", f"/sessions/{visit['id']}/tasks/{task['id']}/start")
    api(rita, "POST", f"/sessions/{visit['id']}/notes", json={
        "id": str(uuid.uuid4()), "body": "Where is the pay button?", "kind": "quote"})
    api(rita, "POST", f"/sessions/{visit['id']}/tasks/{task['id']}/end",
        json={"outcome": "success", "seq": 6})
    api(rita, "POST", f"/sessions/{visit['id']}/end")
    login(rita)
    board = client.get(f"{base}/notes").get_data(as_text=True)
    assert "Where is the pay button?" in board
    note_id = re.search(r'name="note" value="(\d+)"', board).group(1)
    made = client.post(f"{base}/notes/act", data={"note": note_id, "title": "Pay button below the fold",
                                                  "severity": "3"})
    finding_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert client.post(f"{base}/findings/{finding_id}/edit", data={
        "title": "Pay button below the fold", "severity": "3", "description": "Ann scrolled twice.",
        "recommendation": "Move the pay button up.", "tasks": [str(task["id"])], "version": "1"}
    ).status_code == 302
    assert client.post(f"{base}/findings/{finding_id}/screenshots", content_type="multipart/form-data",
                       data={"image": (io.BytesIO(_png()), "pay.png"), "caption": "The payment screen"}
                       ).status_code == 302
    texts = api(rita, "GET", f"{base}/report/texts")
    api(rita, "PATCH", f"{base}/report/texts", json={"version": texts["version"], **TEXTS})
    assert client.post(f"{base}/report/publish", data={"page_size": "A4", "confirmed": "yes",
                                                       "gap_reason": "Pilot"}).status_code == 302
    return study["id"]


def test_a_study_built_through_pages_and_api_has_every_text_in_every_format(client, login, api, make_user,
                                                                              db):
    admin, rita = make_user(Role.ADMIN), make_user(name="Rita Researcher")
    study_id = _build_study_through_pages_and_api(client, login, api, admin, rita)
    report_id = db.session.scalar(sa.select(PublishedReport.id).where(PublishedReport.study_id == study_id))
    pdf_file = client.get(f"/reports/{report_id}/download").data
    word = client.get(f"/reports/{report_id}/download.docx").data
    slides = client.get(f"/reports/{report_id}/download.pptx").data
    cleo = db.session.scalar(sa.select(User).where(User.email == "cleo@northwind.example"))
    login(cleo, "a long client password")
    view = client.get(f"/reports/{report_id}/view")
    assert view.status_code == 200
    formats = {"pdf": logical_text(pdf_file), "docx": docx_text(word), "pptx": pptx_text(slides),
               "html": page_text(view.get_data(as_text=True))}
    for name, text in formats.items():
        flat = squash(text)
        for value in TEXTS.values():
            for piece in plain_pieces(value):
                assert squash(piece) in flat, (name, piece)
        for fact in ("Pay button below the fold", "Move the pay button up.", "Where is the pay button?"):
            assert squash(fact) in flat, (name, fact)
        assert "Noexecutivesummaryhasbeenwrittenyet" not in flat, name
    deck = pptx.Presentation(io.BytesIO(slides))
    finding_slide = next(s for s in deck.slides if s.shapes.title.text == "1. Pay button below the fold")
    assert any(shape.shape_type == 13 for shape in finding_slide.shapes)  # its screenshot
    assert "The payment screen" in view.get_data(as_text=True)


def test_time_limit_is_drawn_dashed_so_it_reads_in_grey():
    drawing = charts.time_chart(sample_report().tasks, 480)
    limits = [shape for shape in drawing.contents if getattr(shape, "strokeColor", None) == charts.LIMIT]
    assert limits and all(shape.strokeDashArray for shape in limits)


def test_legend_worked_well_priorities_and_counted_evidence_reach_every_format():
    from usabtest.reports.document import FindingItem, Quote, SeverityLevel

    base = sample_report()
    problem = replace(base.findings[0], priority="High", effort="Small", quotes=(
        Quote("Tapped settings", "P01, task 3, 1:00", quoted=False, kind="observation", count=2,
              attributions=("P01, task 3, 1:00", "P04, task 3, 2:10")),))
    report = replace(base, findings=(problem,), severity_legend=(
        SeverityLevel(4, "Catastrophe", "Imperative to fix before release."),),
        worked_well=(FindingItem(1, "Balance at a glance", 0, "", description="Everyone saw it.",
                                 positive=True),), next_steps="Fix freezing first.")
    expected = ["Imperative to fix before release.", "Balance at a glance", "Fix freezing first.",
                "Priority: High · Effort: Small", "Observed 2 times: in P01, task 3, 1:00; P04, task 3, 2:10"]
    for text in (docx_text(report_docx.render(report)), pptx_text(report_pptx.render(report))):
        for piece in expected:
            assert piece in text, piece


def test_hostile_texts_on_the_page_are_shown_as_typed_never_run(client, login, study, db):
    hostile = HOSTILE_MARKDOWN + "\n\n" + "x" * 19_000
    services.save_narrative(study, study.owner, version=1, **{
        name: hostile for name in ("executive_summary", "product_description", "procedure", "contact_details",
                                   "next_steps")})
    report = services.publish(study, study.owner, "A4")
    db.session.commit()
    login(study.owner)
    for path in (f"/reports/{report.id}/view", f"/studies/{study.id}/report/draft/view"):
        markup = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in markup and "<img src=x" not in markup
        assert "&lt;script&gt;alert('x')&lt;/script&gt;" in markup
        assert 'href="javascript:' not in markup and 'href="data:' not in markup
        safe = '<a href="https://example.com/?a=%22b\'&amp;c=%3Cd%3E" rel="nofollow noopener noreferrer">'
        assert safe in markup
