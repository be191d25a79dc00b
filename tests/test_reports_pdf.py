"""The PDF layout on hand-made report data: sections, numbers, ranking, hostile text, fonts."""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime

import pdfplumber
import pytest
from PIL import Image as PILImage

from usabtest.reports import fonts, pdf
from usabtest.reports.document import (
    FindingItem,
    ParticipantRow,
    Quote,
    ReportData,
    Screenshot,
    SusSummary,
    TaskMetrics,
    TaskSection,
)

SUS_STATEMENTS = tuple(f"SUS statement number {n}" for n in range(1, 11))


def _png(width: int = 640, height: int = 360) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (40, 110, 150)).save(buffer, "PNG")
    return buffer.getvalue()


def sample_report(**changes) -> ReportData:
    """A small but complete report."""
    tasks = (
        TaskSection(1, "Check the balance", "Find out how much money you have.", "Reads the balance.", 120,
                    TaskMetrics(8, 7, 0.875, 0.51, 0.99, 41.0, 30.2, 55.7, 0.3, 6.4,
                                "88% (51–99%)", "0:41", "0.3", "6.4")),
        TaskSection(2, "Pay a friend", "Send Sam 25 pounds.", "Transfer confirmed.", 300,
                    TaskMetrics(8, 3, 0.375, 0.13, 0.71, 212.0, 150.0, 290.0, 1.9, 3.1,
                                "38% (13–71%)", "3:32", "1.9", "3.1")),
        TaskSection(3, "Freeze a lost card", "Make sure nobody can use your card.", "Card frozen.", None),
    )
    findings = (
        FindingItem(1, "Freeze option hidden in settings", 4, "Catastrophe", 5, 8,
                    "Five participants could not find how to freeze the card.",
                    "Put 'Freeze card' on the card screen.", ("3. Freeze a lost card",),
                    (Quote("I'd call the bank instead.", "P03, task 3, 12:41"),),
                    (Screenshot(_png(), 640, 360, "The card screen"),)),
        FindingItem(2, "Payee list forgets recent payees", 3, "Major", 4, 8,
                    "Participants retyped Sam's details.", "Remember recent payees.", ("2. Pay a friend",),
                    (Quote("Why doesn't it remember Sam?", "P01, task 2, 03:05"),)),
        FindingItem(3, "Balance is easy to find", 0, "Not a problem", 7, 8, "Everyone saw it at once."),
    )
    data = ReportData(
        study_title="Mobile banking app: payments and savings", client="Northwind Savings Bank",
        product="Northwind mobile app 4.2", author="Riley Researcher", version_label="Version 2",
        generated_on=datetime(2025, 3, 10, 9, 0, tzinfo=UTC),
        first_test_date=date(2025, 3, 3), last_test_date=date(2025, 3, 7),
        executive_summary="Customers manage everyday payments well.\n\nFreezing a card is the big problem.",
        objectives="Learn whether customers can pay and save without help.",
        method="In person", environment_facility="Lab 2, iPhone 13, screen recording.",
        moderation="Sessions were run in person by one moderator.", session_count=8,
        participants=tuple(ParticipantRow(f"P{n:02d}", {"Age": "25-34", "Usage": "Daily app user"}, 1)
                           for n in range(1, 9)),
        tasks=tasks,
        sus=SusSummary((72.5, 65.0, 80.0, 90.0, 55.0, 77.5, 70.0, 85.0), 74.4, 65.1, 83.6, "B", "Good",
                       "74.4", "95% CI 65.1–83.6", "74.4 (95% CI 65.1–83.6, n = 8)"),
        sus_statements=SUS_STATEMENTS,
        findings=findings,
    )
    return replace(data, **changes)


@functools.cache
def sample_pdf(page_size: str = "A4") -> bytes:
    """The sample report rendered once per test run (the layout is pure, so sharing is safe)."""
    return pdf.render(sample_report(), page_size)


# poppler's readers where installed (CI installs them): many times faster than pdfplumber, which
# reads the text where they are missing.
POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdfinfo"))


def poppler(tool: str, data: bytes, *options: str) -> str:
    """What poppler's `tool` prints for the PDF `data`."""
    result = subprocess.run([tool, *options, "-", "-"] if tool == "pdftotext" else [tool, "-"],
                            input=data, capture_output=True, check=True)
    return result.stdout.decode()


@functools.cache
def pdf_text(data: bytes) -> str:
    """All text of the PDF, pages joined."""
    if POPPLER:
        return poppler("pdftotext", data, "-layout")
    with pdfplumber.open(io.BytesIO(data)) as document:
        return "\n".join(page.extract_text() or "" for page in document.pages)


def body_text(data: bytes) -> str:
    """Text of the pages without their running header and footer, so text flowing across a page
    break reads as one piece."""
    top, bottom = 62, 45  # points of the running header and footer
    if POPPLER:
        size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", poppler("pdfinfo", data))
        width, height = float(size[1]), float(size[2])
        return poppler("pdftotext", data, "-layout", "-x", "0", "-y", str(top), "-W", str(round(width)),
                       "-H", str(round(height) - top - bottom))
    with pdfplumber.open(io.BytesIO(data)) as document:
        return "\n".join(page.crop((0, top, page.width, page.height - bottom)).extract_text() or ""
                         for page in document.pages)


def logical_text(data: bytes) -> str:
    """Text as pdftotext reads it: right-to-left runs back in reading order, bidi marks removed."""
    if not POPPLER:
        pytest.skip("pdftotext not installed")
    return re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", poppler("pdftotext", data))


def page_count(data: bytes) -> int:
    """Number of pages."""
    if POPPLER:
        return int(re.search(r"Pages:\s+(\d+)", poppler("pdfinfo", data))[1])
    with pdfplumber.open(io.BytesIO(data)) as document:
        return len(document.pages)


def squash(text: str) -> str:
    """Text without any whitespace: line wrapping must not matter when looking for a string."""
    return re.sub(r"\s+", "", text)


def qpdf_check(data: bytes, tmp_path) -> None:
    """Fail unless qpdf finds the file structurally valid."""
    if shutil.which("qpdf") is None:
        pytest.skip("qpdf not installed")
    path = tmp_path / "check.pdf"
    path.write_bytes(data)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_report_has_every_section_in_order():
    text = pdf_text(sample_pdf())
    headings = ["Contents", "1 Executive summary", "2 Introduction", "2.1 Product", "2.2 Test objectives",
                "3 Method", "3.1 Participants", "3.2 Tasks", "3.3 Test environment",
                "3.4 Test administrator tools", "3.5 Procedure", "3.6 Measures", "4 Results",
                "5 System Usability Scale", "6 Findings", "7 What worked well", "8 Next steps", "9 Appendix",
                "A. Task scripts",
                "B. System Usability Scale statements"]
    body = text.split("Contents", 1)[1].split("1 Executive summary")[-1]
    position = 0
    for heading in headings[2:]:
        found = body.find(heading, position)
        assert found >= 0, heading
        position = found
    for heading in headings[:2]:
        assert heading in text


def test_contents_give_the_page_each_heading_starts_on():
    with pdfplumber.open(io.BytesIO(sample_pdf())) as document:
        pages = [(page.extract_text() or "").splitlines() for page in document.pages]
    entries = [re.fullmatch(r"(\S.*?)[ .]+ (\d+)", line) for line in pages[1][1:]]
    entries = [(m[1], int(m[2])) for m in entries if m and m[1] != "Contents"]
    assert len(entries) >= 15
    for title, page in entries:
        first = next(number for number, lines in enumerate(pages[2:], start=3)
                     if title in lines)
        assert first == page, title
    assert [page for _, page in entries] == sorted(page for _, page in entries)


def test_title_page_names_study_client_product_dates_version_author():
    first_page = pdf_text(sample_pdf()).split("Contents")[0]
    for expected in ("Mobile banking app: payments and savings", "Northwind Savings Bank",
                     "Northwind mobile app 4.2", "3–7 March 2025", "Version 2", "Riley Researcher"):
        assert expected in first_page


def test_contents_lists_sections_with_page_numbers():
    data = sample_pdf()
    with pdfplumber.open(io.BytesIO(data)) as document:
        contents = document.pages[1].extract_text()
    assert re.search(r"6 Findings\W*\d+", contents)
    assert "1. Freeze option hidden in settings" in contents


def test_every_page_but_the_title_says_page_n_of_total():
    data = sample_pdf()
    with pdfplumber.open(io.BytesIO(data)) as document:
        pages = [page.extract_text() for page in document.pages]
    total = len(pages)
    assert "Page 1 of" not in pages[0]
    for number, text in enumerate(pages[1:], start=2):
        assert f"Page {number} of {total}" in text


def test_task_metrics_and_sus_appear_as_formatted():
    text = pdf_text(sample_pdf())
    for expected in ("88% (51–99%)", "0:41", "38% (13–71%)", "3:32", "6.4", "3.1", "74.4", "65.1–83.6",
                     "grade B"):
        assert expected in text


def test_findings_appear_in_rank_order_with_recommendation_and_attributed_quotes():
    text = pdf_text(sample_pdf()).split("5 Findings")[-1]
    order = [text.index(title) for title in ("1. Freeze option hidden in settings",
                                             "2. Payee list forgets recent payees",
                                             "3. Balance is easy to find")]
    assert order == sorted(order)
    assert "Put 'Freeze card' on the card screen." in text
    assert "P03, task 3, 12:41" in text
    assert "5 of 8 participants" in text


def test_appendix_holds_full_scripts_and_the_ten_sus_statements():
    appendix = pdf_text(sample_pdf()).split("6 Appendix")[-1]
    assert "Send Sam 25 pounds." in appendix and "Transfer confirmed." in appendix
    for statement in SUS_STATEMENTS:
        assert statement in appendix


def test_letter_and_a4_have_their_paper_sizes():
    for size, expected in (("A4", (595, 842)), ("Letter", (612, 792))):
        with pdfplumber.open(io.BytesIO(sample_pdf(size))) as document:
            page = document.pages[0]
            assert (round(page.width), round(page.height)) == expected


def test_unknown_page_size_is_refused():
    with pytest.raises(ValueError, match="A4 or Letter"):
        pdf.render(sample_report(), "A3")


def test_empty_study_still_renders_every_section():
    data = pdf.render(sample_report(tasks=(), findings=(), participants=(), sus=None, executive_summary="",
                                    first_test_date=None, last_test_date=None))
    text = pdf_text(data)
    assert "Not yet tested" in text
    assert "No SUS questionnaires have been recorded." in text
    assert "No findings have been recorded." in text


HOSTILE = {
    "bold": "<b>not bold</b> & <i>still plain",
    "entity": "Fish &amp; chips &lt;script&gt; &#169; & &",
    "unclosed": "<font color='red'>unclosed <para> <br> </b>",
    "emoji": "Loved it 😀👍🏽 — great ✓",
    "rtl": "المستخدم لم يجد الزر שלום עולם",
    "long_word": "x" * 300,
}


def _hostile_report() -> ReportData:
    long_note = " ".join(f"word{n:04d}" for n in range(1, 1112))[:10_000]
    quotes = tuple(Quote(text, f"P01, task 1, 0{n}:00") for n, text in enumerate(HOSTILE.values()))
    quotes += (Quote(long_note, "P02, task 1, 10:00"),)
    finding = FindingItem(1, HOSTILE["bold"] + " " + HOSTILE["unclosed"], 3, "Major", 1, 2,
                          HOSTILE["entity"], HOSTILE["rtl"], ("1. " + HOSTILE["emoji"],), quotes)
    base = sample_report()
    task = replace(base.tasks[0], title=HOSTILE["unclosed"], scenario=HOSTILE["long_word"])
    return replace(base, study_title=HOSTILE["bold"], executive_summary=HOSTILE["entity"],
                   findings=(finding,), tasks=(task,),
                   participants=(ParticipantRow("P01", {"Note": HOSTILE["unclosed"]}, 1),))


def test_hostile_text_renders_verbatim_in_a_valid_pdf(tmp_path):
    data = pdf.render(_hostile_report())
    qpdf_check(data, tmp_path)
    text = squash(body_text(data))
    for name, value in HOSTILE.items():
        if name != "rtl":
            assert squash(value) in text, name
    # Right-to-left text is drawn in display order; readers that apply bidi get it back verbatim.
    assert HOSTILE["rtl"] in logical_text(data)
    with pdfplumber.open(io.BytesIO(data)) as document:  # the characters in the order drawn
        assert any("םלוע םולש" in (page.extract_text() or "") for page in document.pages)
    long_note = " ".join(f"word{n:04d}" for n in range(1, 1112))[:10_000]
    assert squash(long_note) in text


def test_ten_thousand_character_note_flows_across_pages():
    long_note = "Lorem ipsum dolor sit amet. " * 360
    quote = Quote(long_note, "P01, task 1, 01:00")
    short = sample_report()
    long = replace(short, findings=(replace(short.findings[0], quotes=(quote,)),))
    assert page_count(pdf.render(long)) >= page_count(pdf.render(short)) + 2


def test_markup_escapes_and_keeps_line_breaks():
    assert pdf.markup("a < b & c > d\nnext") == "a &lt; b &amp; c &gt; d<br/>next"
    assert pdf.markup("bell\x07 and nul\x00") == "bell and nul"


def test_font_is_dejavu_and_embedded():
    source = fonts.register()
    assert source.family == "DejaVu Sans"
    data = sample_pdf()
    assert b"DejaVuSans" in data and b"FontFile2" in data


def test_right_to_left_paragraph_is_right_aligned_and_reordered():
    hebrew = "המשתמש לא מצא את הכפתור"
    arabic = "المستخدم لم يجد الزر"
    report = sample_report(executive_summary=f"{hebrew}\n\n{arabic}\n\nLeft to right stays put.")
    data = pdf.render(report)
    logical = logical_text(data)
    assert hebrew in logical and arabic in logical
    with pdfplumber.open(io.BytesIO(data)) as document:
        page = next(p for p in document.pages if "Left to right stays put." in (p.extract_text() or ""))
        words = page.extract_words()
    hebrew_word = next(w for w in words if w["text"] == "שמתשמה")  # first word, drawn rightmost
    latin_word = next(w for w in words if w["text"] == "Left")
    assert hebrew_word["x1"] > page.width * 0.8 > latin_word["x0"]


def test_emoji_outside_the_font_still_reads_back():
    data = pdf.render(sample_report(executive_summary="Thumbs 👍🏽 and a rocket 🚀 and ✓"))
    assert "Thumbs 👍🏽 and a rocket 🚀 and ✓" in pdf_text(data)


def test_font_falls_back_to_system_dejavu_then_vera(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts, "_package_dir", lambda name, *parts: None if name == "matplotlib"
                        else fonts.Path(__import__(name).__file__).parent.joinpath(*parts))
    system = fonts.find_source()
    if system.family == "DejaVu Sans":
        assert system.directory in fonts.SYSTEM_DIRS
    monkeypatch.setattr(fonts, "SYSTEM_DIRS", (tmp_path,))
    assert fonts.find_source().family == "Bitstream Vera Sans"
