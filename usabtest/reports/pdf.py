"""Lay a `ReportData` out as a PDF with reportlab's platypus. Pure: no Flask, no database.

Structure follows the Common Industry Format for usability test reports (ISO/IEC 25062):
title page (with contact details), contents, executive summary, introduction (product and test
objectives), method, results, SUS, findings, appendix. Researchers' texts are Markdown, laid out
from `reports.markdown`'s blocks: their characters are always escaped, never read as markup.
"""

from __future__ import annotations

import functools
import re
from ast import literal_eval
from collections.abc import Iterable
from datetime import UTC, datetime
from io import BytesIO
from xml.sax.saxutils import escape

from fontTools.pens.basePen import BasePen
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfgen.canvas import FILL_EVEN_ODD, Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from usabtest.reports import bidi, charts, fonts, markdown, outline
from usabtest.reports.document import FindingItem, ReportData, TaskSection

PAGE_SIZES = {"A4": A4, "Letter": LETTER}
MARGIN = 20 * mm
ACCENT = colors.HexColor("#1f4e6b")
SOFT = colors.HexColor("#eef3f7")
RULE = colors.HexColor("#c9d3dc")
# Light enough to read the page through, dark enough to survive a grey printout.
DRAFT_MARK = colors.HexColor("#dde2e8")
SEVERITY_COLOURS = {
    0: colors.HexColor("#2f7d4f"),
    1: colors.HexColor("#5b6b7a"),
    2: colors.HexColor("#a86a00"),
    3: colors.HexColor("#c2410c"),
    4: colors.HexColor("#9b1c1c"),
}
# Control characters other than tab and newline are not text; PDF viewers show them as boxes.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
TABLE_CELL_LIMIT = 600
# A chapter starts on the page in hand when this much of it is left (its heading and a first
# table or paragraphs), else on the next: forced page breaks left pages half empty.
CHAPTER_ROOM = 90 * mm


def markup(text: str | None) -> str:
    """User text made safe for reportlab's paragraph markup: escaped, line breaks kept,
    Arabic letters joined."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return escape(bidi.shape(_CONTROL.sub("", text))).replace("\n", "<br/>")


class Para(Paragraph):
    """A paragraph that lays right-to-left scripts out in reading order, line by line.

    Lines are broken in logical order (so splitting across pages stays correct) and only reordered
    for display when drawn; a paragraph that starts in a right-to-left script is right-aligned.
    """

    def __init__(self, text: str | None, style: ParagraphStyle, *args, **kwargs) -> None:
        text = text or ""  # reportlab passes None when it splits a paragraph
        self._rtl = bidi.has_rtl(text)
        self._rtl_base = self._rtl and bidi.starts_rtl(re.sub(r"<[^>]*>", "", text))
        if self._rtl_base and style.alignment == TA_LEFT:
            style = ParagraphStyle(f"{style.name}-rtl", style, alignment=TA_RIGHT)
        super().__init__(text, style, *args, **kwargs)

    def split(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        """Split as usual; the parts keep the right-to-left handling."""
        parts = super().split(availWidth, availHeight)
        for part in parts:
            if isinstance(part, Para):
                part._rtl, part._rtl_base = self._rtl, self._rtl_base
        return parts

    def draw(self) -> None:
        """Draw with each line of a right-to-left paragraph in display order."""
        logical = self.blPara
        if not self._rtl or logical.kind != 0:
            super().draw()
            return
        direction = "R" if self._rtl_base else "L"
        self.blPara = logical.clone(lines=[
            (extra, bidi.display(" ".join(words), direction).split(" ")) for extra, words in logical.lines
        ])
        try:
            super().draw()
        finally:
            self.blPara = logical


def _cell_text(text: str | None) -> str:
    # A table row cannot break across pages, so very long values are shortened in tables only.
    text = text or ""
    if len(text) > TABLE_CELL_LIMIT:
        text = text[:TABLE_CELL_LIMIT].rstrip() + "…"
    return markup(text)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=fonts.REGULAR, fontSize=9.5, leading=13.5,
                          textColor=charts.INK, spaceAfter=6, splitLongWords=1)
    s = {"body": base}
    s["small"] = ParagraphStyle("small", base, fontSize=8, leading=10.5, textColor=charts.MUTED)
    s["cell"] = ParagraphStyle("cell", base, fontSize=8.5, leading=11, spaceAfter=0)
    s["cell_head"] = ParagraphStyle("cell_head", s["cell"], fontName=fonts.BOLD, textColor=colors.white)
    s["h1"] = ParagraphStyle("h1", base, fontName=fonts.BOLD, fontSize=17, leading=21,
                             textColor=ACCENT, spaceBefore=4, spaceAfter=10, keepWithNext=1)
    s["h2"] = ParagraphStyle("h2", base, fontName=fonts.BOLD, fontSize=12, leading=15,
                             textColor=ACCENT, spaceBefore=10, spaceAfter=5, keepWithNext=1)
    s["h3"] = ParagraphStyle("h3", base, fontName=fonts.BOLD, fontSize=10, leading=13,
                             spaceBefore=6, spaceAfter=3, keepWithNext=1)
    s["label"] = ParagraphStyle("label", base, fontName=fonts.BOLD, fontSize=8, leading=10,
                                textColor=charts.MUTED, spaceAfter=1, keepWithNext=1)
    s["quote"] = ParagraphStyle("quote", base, leftIndent=14, borderColor=RULE, borderWidth=0,
                                # Upright: DejaVu's oblique face has no Arabic letters.
                                textColor=colors.HexColor("#323f4b"), spaceAfter=1)
    s["attribution"] = ParagraphStyle("attribution", s["small"], leftIndent=14, spaceAfter=7)
    s["recommendation"] = ParagraphStyle("recommendation", base, backColor=SOFT, borderColor=SOFT,
                                         borderPadding=(5, 8, 5, 8), borderWidth=0.5,
                                         spaceBefore=4, spaceAfter=12, leftIndent=8, rightIndent=8)
    s["title"] = ParagraphStyle("title", base, fontName=fonts.BOLD, fontSize=28, leading=34,
                                textColor=ACCENT, spaceAfter=12)
    s["kicker"] = ParagraphStyle("kicker", base, fontName=fonts.BOLD, fontSize=10, leading=13,
                                 textColor=charts.MUTED, spaceAfter=14)
    s["subtitle"] = ParagraphStyle("subtitle", base, fontSize=14, leading=19, textColor=charts.INK,
                                   spaceAfter=30)
    s["figure"] = ParagraphStyle("figure", base, fontSize=9, leading=12, textColor=charts.INK,
                                 alignment=TA_CENTER, fontName=fonts.BOLD, spaceAfter=2)
    s["stat"] = ParagraphStyle("stat", base, fontName=fonts.BOLD, fontSize=18, leading=22,
                               textColor=ACCENT, alignment=TA_CENTER, spaceAfter=0)
    s["stat_label"] = ParagraphStyle("stat_label", s["small"], alignment=TA_CENTER, spaceAfter=0)
    s["toc1"] = ParagraphStyle("toc1", base, fontName=fonts.BOLD, fontSize=10.5, leading=14,
                               spaceBefore=3, spaceAfter=3, alignment=TA_LEFT)
    s["toc2"] = ParagraphStyle("toc2", base, fontSize=9.5, leading=12.5, leftIndent=16, spaceAfter=2.5)
    return s


class Heading(Paragraph):
    """A heading that lands in the table of contents and the PDF outline under its `key`."""

    def __init__(self, text: str, style: ParagraphStyle, level: int, number: str = "", *,
                 key: str) -> None:
        self.plain = f"{number} {text}".strip() if number else text
        self.level = level
        self.key = key
        super().__init__(markup(self.plain), style)


class _NumberedCanvas(Canvas):
    """Holds pages back until the end, so that page numbers known only then can be written:
    every footer's "Page n of N" and the contents' page numbers (the layout runs once)."""

    def __init__(self, *args, created: datetime | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if created is not None:
            # The file's creation date is the report's own date (a version's publication time),
            # never the clock: re-rendering a version gives the same bytes.
            self._doc._timeStamp = _timestamp(created)
        self._pages: list[dict] = []
        self.heading_pages: dict[str, int] = {}
        self._number_slots: list[tuple[int, str, float, float, ParagraphStyle]] = []

    def add_page_number_slot(self, key: str, x: float, y: float, style: ParagraphStyle) -> None:
        """Write the page of heading `key` right-aligned at (x, y) of the current page when saving."""
        self._number_slots.append((len(self._pages) + 1, key, *self.absolutePosition(x, y), style))

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        """Write every held page with its numbers, then the file."""
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            for page, key, x, y, style in self._number_slots:
                if page == number:
                    self.setFont(style.fontName, style.fontSize)
                    self.setFillColor(style.textColor)
                    self.drawRightString(x, y, str(self.heading_pages[key]))
            if number > 1:
                self.setFont(fonts.REGULAR, 8)
                self.setFillColor(charts.MUTED)
                self.drawRightString(self._pagesize[0] - MARGIN, MARGIN - 10 * mm,
                                     f"Page {number} of {total}")
            super().showPage()
        super().save()


class _Contents(TableOfContents):
    """The table of contents, laid out in the document's one pass.

    Its entries are the story's headings, known before the layout; each line's dot leaders stop
    short of a fixed room on the right, where the canvas writes the page number when saving.
    reportlab's own contents would need the whole document laid out again to learn the pages.
    """

    NUMBER_ROOM = 24

    def __init__(self, headings: list[Heading], level_styles: list[ParagraphStyle]) -> None:
        super().__init__(dotsMinLevel=0)
        self.levelStyles = level_styles
        self._lastEntries = [(h.level, markup(h.plain), 0, h.key) for h in headings]

    def isSatisfied(self) -> bool:  # noqa: N802 (reportlab's name)
        """Complete from the start: no second pass needed."""
        return True

    def wrap(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        """Lay the entries out, each ending with leaders and a slot for its page number."""
        size = super().wrap(availWidth, availHeight)

        def entry_end(canvas: _NumberedCanvas, _kind, label: str) -> None:
            _page, level, key = label.split(",", 2)
            style = self.getLevelStyle(int(level))
            x, y = canvas._curr_tx_info["cur_x"], canvas._curr_tx_info["cur_y"]
            dot = " . "
            dot_width = canvas.stringWidth(dot, style.fontName, style.fontSize)
            dots = int((availWidth - self.NUMBER_ROOM - x) / dot_width)
            if dots > 0:
                canvas.setFont(style.fontName, style.fontSize)
                canvas.setFillColor(style.textColor)
                canvas.drawString(availWidth - self.NUMBER_ROOM - dots * dot_width, y, dot * dots)
            canvas.add_page_number_slot(literal_eval(key), availWidth, y, style)

        # Replaces the callback reportlab's wrap registered under the name its entries call.
        self.canv.setNamedCB("drawTOCEntryEnd", entry_end)
        return size


class _ReportDocument(BaseDocTemplate):
    def __init__(self, buffer: BytesIO, report: ReportData, pagesize) -> None:
        super().__init__(
            buffer, pagesize=pagesize, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 4 * mm,
            bottomMargin=MARGIN, title=report.study_title, author=report.author,
            subject=f"Usability test report, {report.version_label}", creator="usabtest",
            invariant=1,
        )
        self.report = report
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="main")
        self.addPageTemplates([
            PageTemplate("title", frames=[frame], onPage=self._title_page),
            PageTemplate("body", frames=[frame], onPage=self._body_page),
        ])

    def afterFlowable(self, flowable: Flowable) -> None:  # noqa: N802 (reportlab's name)
        """Register headings with the outline, and their pages for the contents."""
        if not isinstance(flowable, Heading):
            return
        self.canv.bookmarkPage(flowable.key)
        self.canv.addOutlineEntry(flowable.plain, flowable.key, level=flowable.level,
                                  closed=flowable.level > 0)
        self.canv.heading_pages[flowable.key] = self.page

    def _draft_mark(self, canv: Canvas, width: float, height: float) -> None:
        """A large diagonal DRAFT under the page's content, so no draft passes for a published version.

        Drawn as letter outlines, not text: copying, searching and screen readers get the page's
        words only (the header still says "Draft" in words).
        """
        if not self.report.is_draft:
            return
        outlines = _draft_outlines()
        xs = [x for outline in outlines for x, _ in outline]
        ys = [y for outline in outlines for _, y in outline]
        canv.saveState()
        canv.setFillColor(DRAFT_MARK)
        canv.translate(width / 2, height / 2)
        canv.rotate(52)
        canv.translate(-(min(xs) + max(xs)) / 2, -(min(ys) + max(ys)) / 2)
        path = canv.beginPath()
        for glyph in outlines:
            path.moveTo(*glyph[0])
            for point in glyph[1:]:
                path.lineTo(*point)
            path.close()
        canv.drawPath(path, stroke=0, fill=1, fillMode=FILL_EVEN_ODD)
        canv.restoreState()

    def _title_page(self, canv: Canvas, doc) -> None:
        width, height = doc.pagesize
        self._draft_mark(canv, width, height)
        canv.saveState()
        canv.setFillColor(ACCENT)
        canv.rect(0, height - 18 * mm, width, 18 * mm, stroke=0, fill=1)
        canv.setFillColor(colors.white)
        canv.setFont(fonts.BOLD, 10)
        canv.drawString(MARGIN, height - 11 * mm, "USABILITY TEST REPORT")
        canv.setFillColor(charts.MUTED)
        canv.setFont(fonts.REGULAR, 8)
        footer = "Confidential: prepared for " + self.report.client
        canv.drawString(MARGIN, MARGIN - 10 * mm, charts.fit_text(footer, width - 2 * MARGIN, 8))
        canv.restoreState()

    def _body_page(self, canv: Canvas, doc) -> None:
        width, height = doc.pagesize
        self._draft_mark(canv, width, height)
        report = self.report
        canv.saveState()
        canv.setFont(fonts.REGULAR, 8)
        canv.setFillColor(charts.MUTED)
        right = f"{report.version_label}"
        canv.drawRightString(width - MARGIN, height - MARGIN + 2 * mm, right)
        title_room = width - 2 * MARGIN - canv.stringWidth(right, fonts.REGULAR, 8) - 20
        canv.drawString(MARGIN, height - MARGIN + 2 * mm, charts.fit_text(report.study_title, title_room, 8))
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.5)
        canv.line(MARGIN, height - MARGIN, width - MARGIN, height - MARGIN)
        canv.line(MARGIN, MARGIN - 6 * mm, width - MARGIN, MARGIN - 6 * mm)
        footer = f"{report.client} · Participants are identified by pseudonym only"
        canv.drawString(MARGIN, MARGIN - 10 * mm, charts.fit_text(footer, width - 2 * MARGIN - 80, 8))
        canv.restoreState()


@functools.cache
def _draft_outlines() -> tuple[tuple[tuple[float, float], ...], ...]:
    """The outlines of "DRAFT" in DejaVu Sans Bold at 110 points, curves flattened (read once)."""
    from fontTools.ttLib import TTFont as FontFile

    with FontFile(str(fonts.find_source().directory / "DejaVuSans-Bold.ttf"), lazy=True) as font:
        glyphs, names = font.getGlyphSet(), font.getBestCmap()
        pen = _PolygonPen(glyphs, scale=110 / font["head"].unitsPerEm)
        for char in "DRAFT":
            glyph = glyphs[names[ord(char)]]
            glyph.draw(pen)
            pen.advance(glyph.width)
    return tuple(tuple(polygon) for polygon in pen.polygons)


class _PolygonPen(BasePen):
    """A fontTools pen that collects glyph outlines as polygons, moved along by each glyph's width."""

    STEPS = 8  # straight pieces per curve: smooth at the mark's size

    def __init__(self, glyph_set, scale: float):
        super().__init__(glyph_set)
        self.scale, self.x = scale, 0.0
        self.polygons: list[list[tuple[float, float]]] = []

    def advance(self, width: float) -> None:
        self.x += width

    def _point(self, point) -> tuple[float, float]:
        return ((self.x + point[0]) * self.scale, point[1] * self.scale)

    def _moveTo(self, point) -> None:  # noqa: N802 (fontTools' names)
        self.polygons.append([self._point(point)])

    def _lineTo(self, point) -> None:  # noqa: N802
        self.polygons[-1].append(self._point(point))

    def _curveToOne(self, first, second, third) -> None:  # noqa: N802
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (
            self._current(), self._point(first), self._point(second), self._point(third))
        for step in range(1, self.STEPS + 1):
            t = step / self.STEPS
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
            self.polygons[-1].append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))

    def _current(self) -> tuple[float, float]:
        return self.polygons[-1][-1]

    def _closePath(self) -> None:  # noqa: N802
        pass


def _timestamp(moment: datetime) -> TimeStamp:
    """reportlab's time stamp (the file's CreationDate and ModDate) for `moment`, in UTC."""
    stamp = TimeStamp(invariant=1)
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    stamp.t = utc.timestamp()
    stamp.lt = utc.timetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    return stamp


def _unbroken(text: str) -> str:
    """`text` as markup in which "n = 5" and "5 of 5" never break across lines."""
    return markup(text).replace(" = ", "\u00a0=\u00a0").replace(" of ", "\u00a0of\u00a0")


def _hex(colour: colors.Color) -> str:
    return "#" + colour.hexval()[2:]


def render(report: ReportData, page_size: str = "A4") -> bytes:
    """The report as PDF bytes, on A4 or US Letter paper."""
    if page_size not in PAGE_SIZES:
        raise ValueError(f"unknown page size {page_size!r}; use A4 or Letter")
    fonts.register()
    buffer = BytesIO()
    doc = _ReportDocument(buffer, report, PAGE_SIZES[page_size])
    story = _Story(report, doc.width, doc.height).build()
    doc.build(story, canvasmaker=functools.partial(_NumberedCanvas, created=report.generated_on))
    return buffer.getvalue()


def _paragraphs(text: str, style: ParagraphStyle, opening: str = "", closing: str = "") -> list[Paragraph]:
    """User text as flowables: one per line, blank lines separating paragraphs.

    Separate flowables (rather than line breaks inside one) let long texts flow across pages and
    give each line its own writing direction. `opening` and `closing` wrap the whole text.
    """
    normalised = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip("\n") for b in re.split(r"\n[ \t]*\n", normalised.strip())]
    lines = [(line, index == len(block_lines) - 1)
             for block_lines in (b.split("\n") for b in blocks if b.strip())
             for index, line in enumerate(block_lines)]
    tight = ParagraphStyle(f"{style.name}-line", style, spaceAfter=0, spaceBefore=0)
    flowables = []
    for number, (line, ends_block) in enumerate(lines):
        before = opening if number == 0 else ""
        after = closing if number == len(lines) - 1 else ""
        flowables.append(Para(before + markup(line) + after, style if ends_block else tight))
    return flowables


def _span(span: markdown.Span) -> str:
    text = markup(span.text)
    if span.bold:
        text = f"<b>{text}</b>"
    if span.italic:
        text = f"<i>{text}</i>"
    if span.href:
        href = escape(span.href, {'"': "&quot;"})
        text = f'<a href="{href}" color="{_hex(ACCENT)}"><u>{text}</u></a>'
    return text


def rich(text: str | None, style: ParagraphStyle) -> list[Paragraph]:
    """A researcher's Markdown text as paragraphs and indented, marked list items."""
    flowables: list[Paragraph] = []
    for block in markdown.blocks(text):
        inline = "".join(_span(span) for span in block.spans)
        if not block.depth:
            flowables.append(Para(inline, style))
            continue
        indent = 16 * block.depth
        item = ParagraphStyle(f"{style.name}-item{block.depth}", style, leftIndent=indent,
                              bulletIndent=indent - 12, bulletFontName=fonts.REGULAR, spaceAfter=2)
        flowables.append(Para(inline, item, bulletText=block.marker or None))
    return flowables


class _Story:
    """Builds the list of flowables, section by section."""

    def __init__(self, report: ReportData, width: float, height: float) -> None:
        self.r = report
        self.width = width
        self.height = height
        self.s = _styles()
        self.headings: list[Heading] = []

    def build(self) -> list[Flowable]:
        """All sections in report order; the contents list the headings made on the way."""
        body: list[Flowable] = []
        for section in (self.summary, self.introduction, self.method, self.results, self.sus, self.findings,
                        self.worked_well, self.next_steps, self.appendix):
            body.extend(section())
        return self.title_page() + self.contents() + body

    def _heading(self, text: str, style: ParagraphStyle, level: int, number: str = "") -> Heading:
        heading = Heading(text, style, level, number, key=f"section-{len(self.headings) + 1}")
        self.headings.append(heading)
        return heading

    def _p(self, text: str, style: str = "body") -> Paragraph:
        return Para(markup(text), self.s[style])

    def _or_none(self, text: str, style: str = "body", empty: str = "Not recorded.") -> list[Flowable]:
        return _paragraphs(text, self.s[style]) or [Para(empty, self.s["small"])]

    def _written(self, text: str, empty: str = "Not written yet.") -> list[Flowable]:
        """A researcher's Markdown text, or a quiet note that it is missing."""
        return rich(text, self.s["body"]) or [Para(markup(empty), self.s["small"])]

    def _table(self, rows: list[list], widths: list[float], header: bool = True,
               zebra: bool = True) -> Table:
        table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
        commands = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ]
        if header:
            commands.append(("BACKGROUND", (0, 0), (-1, 0), ACCENT))
        if zebra:
            commands.append(("ROWBACKGROUNDS", (0, 1 if header else 0), (-1, -1), [colors.white, SOFT]))
        table.setStyle(TableStyle(commands))
        return table

    def _head_row(self, *labels: str) -> list[Paragraph]:
        return [Para(markup(label), self.s["cell_head"]) for label in labels]

    # Sections -----------------------------------------------------------------------------------

    def title_page(self) -> list[Flowable]:
        """Study, client, product, test dates, version and author."""
        r = self.r
        meta = [
            ("Client", r.client), ("Product", r.product or "Not specified"),
            ("Test dates", r.test_dates_text), ("Version", r.version_label),
            ("Author", r.author), ("Issued", f"{r.generated_on.day} {r.generated_on:%B %Y}"),
        ]
        rows = [[Para(label, self.s["label"]), Para(_cell_text(value), self.s["cell"])]
                for label, value in meta]
        table = Table(rows, colWidths=[32 * mm, self.width - 32 * mm], hAlign="LEFT")
        table.setStyle(TableStyle([
            ("LINEABOVE", (0, 0), (-1, 0), 1.2, ACCENT),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        contact: list[Flowable] = rich(r.contact_details, self.s["body"])
        if contact:
            contact = [Spacer(1, 14), Para("Contact", self.s["label"]), *contact]
        return [
            Spacer(1, self.height * 0.18),
            Para("Usability test report", self.s["kicker"]),
            Para(_cell_text(r.study_title), self.s["title"]),
            Para(_cell_text(r.product or r.client), self.s["subtitle"]),
            table,
            *contact,
            NextPageTemplate("body"),
            PageBreak(),
        ]

    def contents(self) -> list[Flowable]:
        """Table of contents of every heading made so far."""
        contents = _Contents(self.headings, [self.s["toc1"], self.s["toc2"]])
        return [Para("Contents", self.s["h1"]), contents, PageBreak()]

    def _headline_numbers(self) -> Table:
        # The same four numbers as the HTML view, the DOCX and the slides (`outline.headline`).
        cells = [[Para(markup(stat.value), self.s["stat"]), Para(markup(stat.label), self.s["stat_label"])]
                 for stat in outline.headline(self.r)]
        table = Table([cells], colWidths=[self.width / 4] * 4)
        table.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, -1), SOFT),
            ("LINEAFTER", (0, 0), (-2, -1), 1.5, colors.white),
            ("TOPPADDING", (0, 0), (-1, -1), 10), ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return table

    def summary(self) -> list[Flowable]:
        """Researcher-written summary plus the headline numbers and the top findings."""
        story: list[Flowable] = [self._heading("Executive summary", self.s["h1"], 0, "1"),
                                 self._headline_numbers(), Spacer(1, 10)]
        story += self._written(self.r.executive_summary, empty="No executive summary has been written yet.")
        top = self.r.findings[:5]
        if top:
            story.append(Para("Most important findings", self.s["h3"]))
            for item in top:
                story.append(Para(
                    f"{item.rank}. {markup(item.title)} "
                    f"<font color='{_hex(SEVERITY_COLOURS[item.severity])}'>"
                    f"({markup(item.severity_label)})</font>", self.s["body"]))
        return story

    def introduction(self) -> list[Flowable]:
        """The product tested and what the test set out to learn."""
        r = self.r
        story: list[Flowable] = [CondPageBreak(60 * mm), self._heading("Introduction", self.s["h1"], 0, "2")]
        story += [self._heading("Product", self.s["h2"], 1, "2.1")]
        story += self._written(r.product_description, empty="No product description recorded.")
        story += [self._heading("Test objectives", self.s["h2"], 1, "2.2")]
        story += self._written(r.objectives, empty="No objectives recorded.")
        return story

    def method(self) -> list[Flowable]:
        """Participants, tasks, environment, tools, procedure and measures."""
        r = self.r
        story: list[Flowable] = [CondPageBreak(CHAPTER_ROOM), self._heading("Method", self.s["h1"], 0, "3")]
        story += [self._heading("Participants", self.s["h2"], 1, "3.1")]
        story += rich(r.participant_selection, self.s["body"])
        story += self._participants()
        story += [self._heading("Tasks", self.s["h2"], 1, "3.2")]
        if not r.tasks:
            story.append(Para("No tasks were defined.", self.s["small"]))
        for task in r.tasks:
            story.append(Para(f"<b>Task {task.number}.</b> {markup(task.title)}", self.s["body"]))
        if r.tasks:
            story.append(self._p("The full task scripts, with success criteria and time limits, are in "
                                 "appendix A.", "small"))
        story += [self._heading("Test environment", self.s["h2"], 1, "3.3")]
        environment = (("Facility", r.environment_facility), ("Devices", r.environment_devices),
                       ("Software", r.environment_software))
        if not any(rich(text, self.s["body"]) for _, text in environment):
            story.append(Para("No environment recorded.", self.s["small"]))
        for label, text in environment:
            if rich(text, self.s["body"]):
                story += [Para(label, self.s["label"]), *rich(text, self.s["body"])]
        story += [self._heading("Test administrator tools", self.s["h2"], 1, "3.4")]
        story += self._written(r.administrator_tools, empty="No tools recorded.")
        story += [self._heading("Procedure", self.s["h2"], 1, "3.5")]
        story += self._or_none(r.moderation)
        story += rich(r.procedure, self.s["body"])
        if rich(r.participant_instructions, self.s["body"]):
            story += [Para("Instructions to participants", self.s["label"]),
                      *rich(r.participant_instructions, self.s["body"])]
        story += [self._heading("Measures", self.s["h2"], 1, "3.6")]
        story += _paragraphs(r.measures_text, self.s["body"])
        return story

    def _participants(self) -> list[Flowable]:
        r = self.r
        if not r.participants:
            lead = ("No participant's results can be reported." if r.participants_withdrawn
                    else "No participants have been recruited yet.")
            return [Para(" ".join(filter(None, [lead, r.withdrawn_text])), self.s["small"])]
        keys = r.segment_keys
        code_w, sessions_w = 26 * mm, 20 * mm
        seg_w = (self.width - code_w - sessions_w) / max(len(keys), 1)
        headers = [k[:1].upper() + k[1:] for k in keys] or ["Segment"]
        rows = [self._head_row("Participant", *headers, "Sessions")]
        for row in r.participants:
            values = [row.segments.get(k, "–") for k in keys] or ["–"]
            rows.append([Para(markup(row.code), self.s["cell"]),
                         *(Para(_cell_text(str(v)), self.s["cell"]) for v in values),
                         Para(str(row.sessions), self.s["cell"])])
        widths = [code_w, *([seg_w] * max(len(keys), 1)), sessions_w]
        return [self._p(f"{r.participants_text} They are identified by pseudonym only."
                        + (f" {r.withdrawn_text}" if r.withdrawn_text else ""), "body"),
                self._table(rows, widths)]

    def results(self) -> list[Flowable]:
        """Overview table, the two charts, then one block per task."""
        r = self.r
        story: list[Flowable] = [CondPageBreak(CHAPTER_ROOM), self._heading("Results", self.s["h1"], 0, "4")]
        if not r.tasks:
            return story + [Para("No tasks were defined.", self.s["small"])]
        story += [self._heading("Task overview", self.s["h2"], 1, "4.1"), self._metrics_table()]
        story += [Spacer(1, 12), KeepTogether([
            Para("Figure 1. Completion rate per task", self.s["figure"]),
            charts.completion_chart(r.tasks, self.width)]), Spacer(1, 14), KeepTogether([
            Para("Figure 2. Time on task", self.s["figure"]),
            charts.time_chart(r.tasks, self.width)])]
        for task in r.tasks:
            story += self._task_block(task)
        return story

    def _metrics_table(self) -> Table:
        rows = [self._head_row("Task", "Completion", "Time on task", "Errors", "SEQ (1–7)")]
        for task in self.r.tasks:
            m = task.metrics
            completion = (self._figure(m.completion_estimate_text, m.completion_interval_text,
                                       f"{m.completion_observed_text} observed")
                          if m.attempts else self._figure("–"))
            time = (self._figure(m.time_value_text, m.time_interval_text, f"n = {m.time_n}")
                    if m.time_n else self._figure("–"))
            seq = (self._figure(m.seq_value_text, m.seq_interval_text, f"n = {m.seq_n}")
                   if m.seq_n else self._figure("–"))
            rows.append([Para(f"{task.number}. {_cell_text(task.title)}", self.s["cell"]),
                         completion, time, Para(_unbroken(m.errors_text), self.s["cell"]), seq])
        fixed = [44 * mm, 36 * mm, 22 * mm, 34 * mm]
        return self._table(rows, [self.width - sum(fixed), *fixed])

    def _figure(self, value: str, *details: str) -> Paragraph:
        """A table cell: the figure, then its interval and n in small print below it."""
        below = " · ".join(_unbroken(detail) for detail in details if detail)
        small = f"<br/><font size='7.5' color='{_hex(charts.MUTED)}'>{below}</font>" if below else ""
        return Para(f"<b>{markup(value)}</b>{small}", self.s["cell"])

    def _task_block(self, task: TaskSection) -> list[Flowable]:
        m = task.metrics
        linked = outline.related_findings(self.r, task)
        rows = [[Para(markup(label), self.s["cell"]), Para(markup(value), self.s["cell"])]
                for label, value in outline.task_facts(task)]
        table = self._table(rows, [60 * mm, self.width - 60 * mm], header=False, zebra=False)
        block: list[Flowable] = [self._heading(f"Task {task.number}: {task.title}", self.s["h2"], 1,
                                               f"4.{task.number + 1}"), self._p(m.attempts_text), table]
        if linked:
            block.append(Para(
                "Related findings: " + "; ".join(f"{f.rank}. {markup(f.title)}" for f in linked),
                self.s["small"]))
        # A task's block moves to the next page only when it does not fit: no page ends with a
        # reserved gap larger than the block itself.
        return [KeepTogether(block), Spacer(1, 6)]

    def sus(self) -> list[Flowable]:
        """System Usability Scale: mean, interval, grade, distribution."""
        sus = self.r.sus
        story: list[Flowable] = [CondPageBreak(90 * mm),
                                 self._heading("System Usability Scale", self.s["h1"], 0, "5")]
        if sus is None or not sus.scores:
            return story + [Para("No SUS questionnaires have been recorded.", self.s["small"])]
        story.append(self._p(sus.sentence))
        story += [Spacer(1, 6), KeepTogether([
            Para("Figure 3. Distribution of SUS scores", self.s["figure"]),
            charts.sus_chart(sus, self.width)])]
        return story

    def findings(self) -> list[Flowable]:
        """Findings ranked by severity and frequency, with recommendation and evidence."""
        story: list[Flowable] = [CondPageBreak(CHAPTER_ROOM), self._heading("Findings", self.s["h1"], 0, "6")]
        if not self.r.findings:
            return story + [Para("No findings have been recorded.", self.s["small"])]
        story.append(self._p("Findings are ranked by severity on Nielsen's scale, then by how many "
                             "participants met them."))
        story += self._severity_legend()
        for item in self.r.findings:
            story += self._finding(item)
        return story

    def _severity_legend(self) -> list[Flowable]:
        if not self.r.severity_legend:
            return []
        rows = [self._head_row("Severity", "What it means")]
        for level in self.r.severity_legend:
            colour = _hex(SEVERITY_COLOURS.get(level.level, ACCENT))
            rows.append([Para(f"<font color='{colour}'><b>{level.level} {markup(level.label)}</b></font>",
                              self.s["cell"]), Para(markup(level.definition), self.s["cell"])])
        return [KeepTogether([Para("Severity scale", self.s["label"]),
                              self._table(rows, [38 * mm, self.width - 38 * mm])]), Spacer(1, 8)]

    def worked_well(self) -> list[Flowable]:
        """Positive findings: what the product does well and should keep."""
        story: list[Flowable] = [CondPageBreak(60 * mm),
                                 self._heading("What worked well", self.s["h1"], 0, "7")]
        if not self.r.worked_well:
            return story + [Para("No positive findings have been recorded.", self.s["small"])]
        for item in self.r.worked_well:
            story += self._finding(item)
        return story

    def next_steps(self) -> list[Flowable]:
        """The researchers' next steps."""
        return [CondPageBreak(40 * mm), self._heading("Next steps", self.s["h1"], 0, "8"),
                *self._written(self.r.next_steps, empty="No next steps have been written yet.")]

    def _finding(self, item: FindingItem) -> list[Flowable]:
        colour = SEVERITY_COLOURS.get(item.severity, ACCENT)
        meta = [f"<font color='{_hex(colour)}'><b>{markup(item.severity_text)}</b></font>"] \
            if item.severity_text else []
        if item.frequency_text:
            meta.append(markup(item.frequency_text))
        if item.tasks:
            meta.append(markup(item.tasks_text))
        title = f"{item.rank}. {item.title}"
        # Strengths are short and many: the contents list the section, not each one.
        heading = (Para(markup(title), self.s["h2"]) if item.positive
                   else self._heading(title, self.s["h2"], 1))
        story: list[Flowable] = [CondPageBreak(45 * mm), heading, Para(" · ".join(meta), self.s["body"])]
        story += _paragraphs(item.description, self.s["body"])
        if item.recommendation.strip():
            label = " · ".join(filter(None, ["Recommendation", item.priority_text]))
            story.append(Para(markup(label), self.s["label"]))
            story += _paragraphs(item.recommendation.strip(), self.s["recommendation"])
        for shot in item.screenshots:
            story += self._screenshot(shot)
        if item.quotes:
            story.append(Para("Evidence", self.s["label"]))
        for quote in item.quotes:
            story += _paragraphs(quote.display_text, self.s["quote"])
            story.append(Para(("— " if quote.quoted else "") + markup(quote.attribution_text),
                              self.s["attribution"]))
        return story

    def _screenshot(self, shot) -> list[Flowable]:
        max_w, max_h = self.width, self.height * 0.45
        scale = min(max_w / max(shot.width, 1), max_h / max(shot.height, 1), 1.0)
        image = Image(BytesIO(shot.data), width=shot.width * scale, height=shot.height * scale)
        image.hAlign = "LEFT"
        parts: list[Flowable] = [Spacer(1, 4), image]
        if shot.caption_text or shot.caption:
            parts.append(Para(_cell_text(shot.caption_text or shot.caption), self.s["small"]))
        return [KeepTogether(parts), Spacer(1, 6)]

    def appendix(self) -> list[Flowable]:
        """Full task scripts and the ten SUS statements."""
        story: list[Flowable] = [CondPageBreak(CHAPTER_ROOM), self._heading("Appendix", self.s["h1"], 0, "9"),
                                 self._heading("A. Task scripts", self.s["h2"], 1)]
        if not self.r.tasks:
            story.append(Para("No tasks were defined.", self.s["small"]))
        for task in self.r.tasks:
            story += [Para(f"Task {task.number}. {markup(task.title)}", self.s["h3"])]
            story += self._labelled("Scenario read to the participant", task.scenario)
            story += self._labelled("Success criteria", task.success_criteria)
            if task.time_limit_s:
                story += self._labelled("Time limit", charts.format_seconds(task.time_limit_s))
        story.append(self._heading("B. System Usability Scale statements", self.s["h2"], 1))
        story.append(self._p("Participants rated each statement from 1 (strongly disagree) to 5 "
                             "(strongly agree)."))
        for number, statement in enumerate(self.r.sus_statements, start=1):
            story.append(Para(f"{number}. {markup(statement)}", self.s["body"]))
        return story

    def _labelled(self, label: str, text: str) -> Iterable[Flowable]:
        return [Para(label, self.s["label"]), *self._or_none(text, empty="Not specified.")]

