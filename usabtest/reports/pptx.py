"""A findings deck for the read-out meeting, made with python-pptx from a `ReportData`. Pure.

A title slide, the headline numbers, the summary and method in short, the charts, one slide per
finding with its screenshot and recommendation, and the contact details. Long texts are shortened
on the slide and given whole in the slide's speaker notes, so nothing written is lost and no text
runs off a slide. Pictures carry their numbers or captions as alternative text.
"""

from __future__ import annotations

from io import BytesIO

import pptx
from PIL import Image
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from usabtest.reports import fonts, markdown, outline, raster
from usabtest.reports.document import FindingItem, ReportData
from usabtest.reports.outline import clean, shorten

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.6)
ACCENT = RGBColor(0x1F, 0x4E, 0x6B)
MUTED = RGBColor(0x61, 0x6E, 0x7C)
TITLE_ONLY, TITLE_SLIDE = 5, 0  # layouts of python-pptx's default template
CHART_WIDTH_PT = 640


def render(report: ReportData) -> bytes:
    """The deck as PPTX bytes."""
    fonts.register()
    deck = pptx.Presentation()
    deck.slide_width, deck.slide_height = WIDTH, HEIGHT
    props = deck.core_properties
    props.title, props.author = clean(report.study_title)[:255], clean(report.author)[:255]
    props.created = props.modified = report.generated_on.replace(tzinfo=None)
    props.revision = 1
    builder = _Deck(deck, report)
    for slide in (builder.title, builder.headline, builder.summary, builder.about, builder.method,
                  builder.results, builder.sus, builder.findings, builder.worked_well, builder.next_steps,
                  builder.contact):
        slide()
    buffer = BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def _markdown_lines(text: str) -> list[tuple[markdown.Block, str]]:
    """A researcher's Markdown as (block, line prefix) pairs: list items keep their marker."""
    return [(block, f"{block.marker} " if block.marker else ("• " if block.depth else ""))
            for block in markdown.blocks(clean(text))]


class _Deck:
    """Adds the slides to a python-pptx presentation."""

    def __init__(self, deck, report: ReportData) -> None:
        self.deck = deck
        self.r = report

    # Building blocks ----------------------------------------------------------------------------

    def slide(self, title: str, notes: str = ""):
        slide = self.deck.slides.add_slide(self.deck.slide_layouts[TITLE_ONLY])
        shape = slide.shapes.title
        shape.left, shape.top, shape.width, shape.height = MARGIN, Inches(0.35), WIDTH - 2 * MARGIN, Inches(1)
        shape.text = shorten(clean(title), 110)
        paragraph = shape.text_frame.paragraphs[0]
        paragraph.alignment = PP_ALIGN.LEFT
        paragraph.runs[0].font.size, paragraph.runs[0].font.bold = Pt(30), True
        paragraph.runs[0].font.color.rgb = ACCENT
        if notes.strip():
            slide.notes_slide.notes_text_frame.text = clean(notes).strip()
        if self.r.is_draft:
            self.box(slide, WIDTH - MARGIN - Inches(1.6), Inches(0.05), Inches(1.6), Inches(0.35),
                     size=12).paragraphs[0].add_run().text = "DRAFT"
        return slide

    def box(self, slide, left, top, width, height, size: int = 16):
        frame = slide.shapes.add_textbox(left, top, width, height).text_frame
        frame.word_wrap = True
        frame.paragraphs[0].font.size = Pt(size)
        return frame

    def add(self, frame, text: str, size: int = 16, bold: bool = False, colour=None, space: int = 6):
        paragraph = frame.paragraphs[0] if not frame.paragraphs[0].runs and len(frame.paragraphs) == 1 \
            else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = clean(text)
        run.font.size, run.font.bold = Pt(size), bold
        if colour is not None:
            run.font.color.rgb = colour
        paragraph.space_after = Pt(space)
        return paragraph

    def written(self, frame, text: str, limit: int, size: int = 16) -> None:
        """A researcher's Markdown, shortened to about `limit` characters on the slide."""
        left = limit
        for block, prefix in _markdown_lines(text):
            if left <= 0:
                self.add(frame, "… (continued in the notes)", size - 2, colour=MUTED)
                return
            paragraph = self.add(frame, prefix, size)
            for span in block.spans:
                if left <= 0:
                    break
                piece = " " if span.text == "\n" else shorten(span.text, left) if len(span.text) > left \
                    else span.text
                left -= len(piece)
                run = paragraph.add_run()
                run.text = piece
                run.font.size, run.font.bold, run.font.italic = Pt(size), span.bold, span.italic
                if span.href:
                    run.hyperlink.address = span.href

    def picture(self, slide, data: bytes, alt: str, left, top, max_width, max_height) -> None:
        try:
            image = Image.open(BytesIO(data))
            width, height = image.size
        except Exception:  # noqa: BLE001 (unreadable image: the slide keeps its text)
            return
        scale = min(max_width / width, max_height / height)
        picture = slide.shapes.add_picture(BytesIO(data), left, top, Emu(int(width * scale)),
                                           Emu(int(height * scale)))
        picture._element.nvPicPr.cNvPr.set("descr", clean(alt))

    # Slides ---------------------------------------------------------------------------------------

    def title(self) -> None:
        r = self.r
        slide = self.deck.slides.add_slide(self.deck.slide_layouts[TITLE_SLIDE])
        title, subtitle = slide.shapes.title, slide.placeholders[1]
        # The template's placeholders sit on a 4:3 slide: spread them over the wide one.
        title.left, title.top, title.width, title.height = MARGIN, Inches(1.6), WIDTH - 2 * MARGIN, Inches(2)
        subtitle.left, subtitle.top, subtitle.width, subtitle.height = (MARGIN, Inches(4.1),
                                                                        WIDTH - 2 * MARGIN, Inches(2.6))
        title.text = shorten(clean(r.study_title), 140)
        title.text_frame.paragraphs[0].runs[0].font.color.rgb = ACCENT
        lines = [f"Usability test report · {r.product or r.client}",
                 f"{r.test_dates_text} · {r.version_label}{' (not published)' if r.is_draft else ''}",
                 f"{r.author} · for {r.client}"]
        subtitle.text = clean("\n".join(lines))
        for paragraph in subtitle.text_frame.paragraphs:
            paragraph.runs[0].font.size = Pt(22)

    def headline(self) -> None:
        slide = self.slide("Headline numbers")
        stats = outline.headline(self.r)
        width = (WIDTH - 2 * MARGIN) / len(stats)
        for index, stat in enumerate(stats):
            frame = self.box(slide, MARGIN + int(width * index), Inches(2.2), int(width) - Inches(0.2),
                             Inches(3))
            self.add(frame, stat.value, 48, bold=True, colour=ACCENT).alignment = PP_ALIGN.CENTER
            self.add(frame, stat.label, 16, colour=MUTED).alignment = PP_ALIGN.CENTER

    def summary(self) -> None:
        r = self.r
        slide = self.slide("Executive summary", notes=r.executive_summary)
        frame = self.box(slide, MARGIN, Inches(1.5), WIDTH - 2 * MARGIN, Inches(5.5), size=18)
        if r.executive_summary.strip():
            self.written(frame, r.executive_summary, 900, size=18)
        else:
            self.add(frame, "No executive summary has been written yet.", 18, colour=MUTED)

    def _labelled_slide(self, title: str, parts: list[tuple[str, str]], limit: int) -> None:
        written = [(label, text) for label, text in parts if text.strip()]
        if not written:
            return
        notes = "\n\n".join(f"{label}\n{text}" for label, text in written)
        slide = self.slide(title, notes=notes)
        frame = self.box(slide, MARGIN, Inches(1.4), WIDTH - 2 * MARGIN, Inches(5.7))
        for label, text in written:
            self.add(frame, label, 16, bold=True, colour=ACCENT, space=2)
            self.written(frame, text, limit, size=16)

    def about(self) -> None:
        r = self.r
        self._labelled_slide("What we tested and why", [("Product", r.product_description),
                                                        ("Test objectives", r.objectives)], 600)

    def method(self) -> None:
        r = self.r
        self._labelled_slide("Who took part and where", [
            ("Participant selection and recruitment", r.participant_selection),
            ("Test facility", r.environment_facility), ("Devices", r.environment_devices),
            ("Software", r.environment_software)], 260)
        self._labelled_slide("How the sessions ran", [
            ("Moderation", r.moderation), ("Procedure", r.procedure),
            ("Instructions to participants", r.participant_instructions),
            ("Test administrator tools", r.administrator_tools)], 260)

    def results(self) -> None:
        charts_ = [figure for figure in outline.figures(self.r) if figure.number in (1, 2)]
        if not charts_:
            return
        slide = self.slide("Task results", notes="\n\n".join(figure.alt for figure in charts_))
        top = Inches(1.4)
        room = (HEIGHT - top - Inches(0.3)) / len(charts_)
        for figure in charts_:
            self.picture(slide, raster.png(figure.draw(CHART_WIDTH_PT)), figure.alt, MARGIN, int(top),
                         WIDTH - 2 * MARGIN, int(room) - Inches(0.1))
            top += room

    def sus(self) -> None:
        sus = self.r.sus
        figure = next((f for f in outline.figures(self.r) if f.number == 3), None)
        if sus is None or figure is None:
            return
        slide = self.slide("System Usability Scale", notes=figure.alt)
        frame = self.box(slide, MARGIN, Inches(1.4), WIDTH - 2 * MARGIN, Inches(0.8))
        self.add(frame, sus.sentence, 16)
        self.picture(slide, raster.png(figure.draw(CHART_WIDTH_PT)), figure.alt, MARGIN, Inches(2.4),
                     WIDTH - 2 * MARGIN, Inches(4.6))

    def findings(self) -> None:
        legend = self.r.severity_legend
        if legend and self.r.findings:
            slide = self.slide("Severity scale")
            frame = self.box(slide, MARGIN, Inches(1.5), WIDTH - 2 * MARGIN, Inches(5.6))
            for level in legend:
                paragraph = self.add(frame, f"{level.level} {level.label}: ", 18, bold=True, colour=ACCENT)
                run = paragraph.add_run()
                run.text = clean(level.definition)
                run.font.size = Pt(18)
        for item in self.r.findings:
            self._finding(item)

    def worked_well(self) -> None:
        items = self.r.worked_well
        if not items:
            return
        notes = "\n\n".join(f"{item.title}\n{item.description}" for item in items)
        slide = self.slide("What worked well", notes=notes)
        frame = self.box(slide, MARGIN, Inches(1.4), WIDTH - 2 * MARGIN, Inches(5.7))
        for item in items[:6]:
            self.add(frame, f"{item.title}", 18, bold=True, colour=ACCENT, space=2)
            if item.description.strip():
                self.add(frame, shorten(item.description, 200), 14)
        if len(items) > 6:
            self.add(frame, f"… and {len(items) - 6} more in the report", 14, colour=MUTED)

    def next_steps(self) -> None:
        text = self.r.next_steps
        if not text.strip():
            return
        slide = self.slide("Next steps", notes=text)
        frame = self.box(slide, MARGIN, Inches(1.5), WIDTH - 2 * MARGIN, Inches(5.6), size=18)
        self.written(frame, text, 900, size=18)

    def _finding(self, item: FindingItem) -> None:
        evidence = [outline.evidence_text(q) for q in item.quotes]
        recommendation = f"{outline.recommendation_label(item)}: {item.recommendation}"
        notes = "\n\n".join(filter(None, [item.description, recommendation if item.recommendation.strip()
                                          else "", *evidence]))
        slide = self.slide(f"{item.rank}. {item.title}", notes=notes)
        shot = item.screenshots[0] if item.screenshots else None
        text_width = (WIDTH - 2 * MARGIN) * (0.55 if shot else 1)
        frame = self.box(slide, MARGIN, Inches(1.4), int(text_width), Inches(5.7))
        if outline.finding_meta(item):
            self.add(frame, " · ".join(outline.finding_meta(item)), 16, bold=True, colour=ACCENT)
        if item.description.strip():
            self.add(frame, shorten(item.description, 380), 18, space=12)
        if item.recommendation.strip():
            self.add(frame, outline.recommendation_label(item), 16, bold=True, colour=ACCENT, space=2)
            self.add(frame, shorten(item.recommendation, 300), 18, space=12)
        for line in evidence[:2]:
            self.add(frame, shorten(line, 160), 14, colour=MUTED, space=4)
        if shot is not None:
            left = MARGIN + int(text_width) + Inches(0.3)
            alt = shot.caption or f"Screenshot for finding {item.rank}: {item.title}"
            self.picture(slide, shot.data, alt, left, Inches(1.5), WIDTH - MARGIN - left, Inches(5))
            if outline.screenshot_caption(shot):
                caption = self.box(slide, left, Inches(6.6), WIDTH - MARGIN - left, Inches(0.6), size=12)
                self.add(caption, shorten(outline.screenshot_caption(shot), 150), 12, colour=MUTED)

    def contact(self) -> None:
        r = self.r
        slide = self.slide("Questions and contact", notes=r.contact_details)
        frame = self.box(slide, MARGIN, Inches(1.6), WIDTH - 2 * MARGIN, Inches(5))
        if r.contact_details.strip():
            self.written(frame, r.contact_details, 600, size=20)
        else:
            self.add(frame, f"{r.author}, for {r.client}", 20)
