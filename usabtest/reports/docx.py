"""Lay a `ReportData` out as a Word document with python-docx. Pure: no Flask, no database.

For teams who finish a report in Word: the same sections as the PDF, with Word's own heading
styles (so Word's navigation pane and table of contents work), real Word tables with a repeated
header row, and the charts as pictures carrying their numbers as alternative text. Researchers'
Markdown becomes Word paragraphs, list items and runs; nothing in it is read as markup.
"""

from __future__ import annotations

from io import BytesIO

import docx
from docx.enum.text import WD_BREAK
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from PIL import Image

from usabtest.reports import charts, fonts, markdown, outline, pdf, raster
from usabtest.reports.document import FindingItem, ReportData, TaskSection
from usabtest.reports.outline import clean

TEXT_WIDTH = Cm(16)
LINK_COLOUR = RGBColor(0x1F, 0x4E, 0x6B)
MUTED = RGBColor(0x61, 0x6E, 0x7C)


def render(report: ReportData) -> bytes:
    """The report as DOCX bytes."""
    fonts.register()
    document = docx.Document()
    _properties(document, report)
    if report.is_draft:
        header = document.sections[0].header.paragraphs[0]
        header.add_run("DRAFT: not a published version").bold = True
    writer = _Writer(document, report)
    for section in (writer.title_page, writer.summary, writer.introduction, writer.method, writer.results,
                    writer.sus, writer.findings, writer.worked_well, writer.next_steps, writer.appendix):
        section()
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _properties(document, report: ReportData) -> None:
    props = document.core_properties
    props.title = clean(report.study_title)[:255]
    props.author = props.last_modified_by = clean(report.author)[:255]
    props.subject = f"Usability test report, {report.version_label}"
    # Dated by the report, like the PDF: the same version always gives the same document.
    props.created = props.modified = report.generated_on.replace(tzinfo=None)
    props.revision = 1


def _add_link(paragraph, text: str, url: str, bold: bool, italic: bool) -> None:
    """A clickable run: python-docx has no API for hyperlinks, so the element is built here."""
    rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = paragraph.add_run(text, None)
    run.bold, run.italic, run.underline = bold or None, italic or None, True
    run.font.color.rgb = LINK_COLOUR
    link.append(run._r)
    paragraph._p.append(link)


class _Writer:
    """Adds the report's sections to a python-docx document, in the PDF's order and numbering."""

    def __init__(self, document, report: ReportData) -> None:
        self.d = document
        self.r = report

    # Building blocks ----------------------------------------------------------------------------

    def heading(self, text: str, level: int) -> None:
        self.d.add_heading(clean(text), level)

    def para(self, text: str, style: str | None = None, muted: bool = False):
        paragraph = self.d.add_paragraph(style=style)
        run = paragraph.add_run(clean(text))
        if muted:
            run.font.color.rgb = MUTED
        return paragraph

    def prose(self, text: str, style: str | None = None) -> None:
        """Plain text (finding descriptions, scripts): blank lines part paragraphs, line breaks kept."""
        for part in clean(text).strip().split("\n\n"):
            if part.strip():
                paragraph = self.d.add_paragraph(style=style)
                for index, line in enumerate(part.strip("\n").split("\n")):
                    if index:
                        paragraph.add_run().add_break(WD_BREAK.LINE)
                    paragraph.add_run(line)

    def written(self, text: str, empty: str | None = None) -> None:
        """A researcher's Markdown as paragraphs and list items, or a quiet note that it is missing."""
        blocks = markdown.blocks(clean(text))
        if not blocks and empty:
            self.para(empty, muted=True)
        for block in blocks:
            self._block(block)

    def _block(self, block: markdown.Block) -> None:
        if not block.depth:
            paragraph = self.d.add_paragraph()
        elif block.marker == "•" or not block.marker:
            paragraph = self.d.add_paragraph(style="List Bullet 2" if block.depth > 1 else "List Bullet")
        else:
            paragraph = self.d.add_paragraph(style="List Paragraph")
            paragraph.add_run(f"{block.marker} ")
        if block.depth:
            paragraph.paragraph_format.left_indent = Cm(0.9 * block.depth)
        for span in block.spans:
            if span.text == "\n":
                paragraph.add_run().add_break(WD_BREAK.LINE)
            elif span.href:
                _add_link(paragraph, span.text, span.href, span.bold, span.italic)
            else:
                run = paragraph.add_run(span.text)
                run.bold, run.italic = span.bold or None, span.italic or None

    def table(self, header: list[str] | None, rows: list[list[str]], row_headers: bool = True) -> None:
        """A Word table; `header` (if any) repeats on each page and is read as the header row."""
        table = self.d.add_table(rows=0, cols=len(header or rows[0]))
        table.style = "Table Grid"
        if header:
            cells = table.add_row().cells
            for cell, label in zip(cells, header, strict=True):
                cell.paragraphs[0].add_run(clean(label)).bold = True
            marker = OxmlElement("w:tblHeader")
            marker.set(qn("w:val"), "true")
            table.rows[0]._tr.get_or_add_trPr().append(marker)
        for values in rows:
            cells = table.add_row().cells
            for index, (cell, value) in enumerate(zip(cells, values, strict=True)):
                cell.paragraphs[0].add_run(clean(value)).bold = (row_headers and index == 0) or None
        self.d.add_paragraph()

    def picture(self, data: bytes, alt: str, width=TEXT_WIDTH) -> None:
        try:
            self.d.add_picture(BytesIO(data), width=width)
        except Exception:  # noqa: BLE001 (an image type Word does not take: hand it a PNG instead)
            converted = BytesIO()
            Image.open(BytesIO(data)).save(converted, "PNG")
            self.d.add_picture(converted, width=width)
        self.d.inline_shapes[-1]._inline.docPr.set("descr", clean(alt))

    def figure(self, figure: outline.Figure) -> None:
        self.picture(raster.png(figure.draw(pdf.PAGE_SIZES["A4"][0] - 2 * pdf.MARGIN)), figure.alt)
        self.para(figure.caption, style="Caption")

    # Sections -----------------------------------------------------------------------------------

    def title_page(self) -> None:
        r = self.r
        self.para("Usability test report", muted=True)
        self.d.add_heading(clean(r.study_title), 0)
        if r.product or r.client:
            self.para(r.product or r.client, style="Subtitle")
        issued = f"{r.generated_on.day} {r.generated_on:%B %Y}"
        meta = [["Client", r.client], ["Product", r.product or "Not specified"],
                ["Test dates", r.test_dates_text], ["Version", r.version_label], ["Author", r.author],
                ["Issued", issued]]
        self.table(None, meta)
        if r.contact_details.strip():
            self.heading("Contact", 2)
            self.written(r.contact_details)
        self.d.add_page_break()

    def summary(self) -> None:
        self.heading("1 Executive summary", 1)
        stats = outline.headline(self.r)
        self.table([stat.label[:1].upper() + stat.label[1:] for stat in stats], [[s.value for s in stats]],
                   row_headers=False)
        self.written(self.r.executive_summary, "No executive summary has been written yet.")
        if self.r.findings:
            self.heading("Most important findings", 3)
            for item in self.r.findings[:5]:
                self.para(f"{item.rank}. {item.title} ({item.severity_label})")

    def introduction(self) -> None:
        self.heading("2 Introduction", 1)
        self.heading("2.1 Product", 2)
        self.written(self.r.product_description, "No product description recorded.")
        self.heading("2.2 Test objectives", 2)
        self.written(self.r.objectives, "No objectives recorded.")

    def method(self) -> None:
        r = self.r
        self.heading("3 Method", 1)
        self.heading("3.1 Participants", 2)
        self.written(r.participant_selection)
        self._participants()
        self.heading("3.2 Tasks", 2)
        for task in r.tasks:
            self.para(f"Task {task.number}. {task.title}")
        self.para("The full task scripts, with success criteria and time limits, are in appendix A."
                  if r.tasks else "No tasks were defined.", muted=True)
        self.heading("3.3 Test environment", 2)
        environment = [("Facility", r.environment_facility), ("Devices", r.environment_devices),
                       ("Software", r.environment_software)]
        if not any(text.strip() for _, text in environment):
            self.para("No environment recorded.", muted=True)
        for label, text in environment:
            if text.strip():
                self.heading(label, 3)
                self.written(text)
        self.heading("3.4 Test administrator tools", 2)
        self.written(r.administrator_tools, "No tools recorded.")
        self.heading("3.5 Procedure", 2)
        self.prose(r.moderation)
        self.written(r.procedure)
        if r.participant_instructions.strip():
            self.heading("Instructions to participants", 3)
            self.written(r.participant_instructions)
        self.heading("3.6 Measures", 2)
        self.prose(r.measures_text)

    def _participants(self) -> None:
        r = self.r
        if not r.participants:
            lead = ("No participant's results can be reported." if r.participants_withdrawn
                    else "No participants have been recruited yet.")
            self.para(" ".join(filter(None, [lead, r.withdrawn_text])), muted=True)
            return
        self.para(f"{r.participants_text} They are identified by pseudonym only."
                  + (f" {r.withdrawn_text}" if r.withdrawn_text else ""))
        keys = r.segment_keys
        self.table(["Participant", *(k[:1].upper() + k[1:] for k in keys), "Sessions"],
                   [[row.code, *(row.segments.get(k, "–") for k in keys), str(row.sessions)]
                    for row in r.participants])

    def results(self) -> None:
        r = self.r
        self.heading("4 Results", 1)
        if not r.tasks:
            self.para("No tasks were defined.", muted=True)
            return
        self.heading("4.1 Task overview", 2)
        self.table(list(outline.OVERVIEW_HEADER), [outline.overview_row(t) for t in r.tasks])
        for figure in outline.figures(r):
            if figure.number in (1, 2):
                self.figure(figure)
        for task in r.tasks:
            self._task(task)

    def _task(self, task: TaskSection) -> None:
        self.heading(f"4.{task.number + 1} Task {task.number}: {task.title}", 2)
        self.para(task.metrics.attempts_text)
        self.table(None, [list(fact) for fact in outline.task_facts(task)])
        related = outline.related_findings(self.r, task)
        if related:
            self.para("Related findings: " + "; ".join(f"{f.rank}. {f.title}" for f in related), muted=True)

    def sus(self) -> None:
        sus = self.r.sus
        self.heading("5 System Usability Scale", 1)
        if sus is None or not sus.scores:
            self.para("No SUS questionnaires have been recorded.", muted=True)
            return
        self.para(sus.sentence)
        for figure in outline.figures(self.r):
            if figure.number == 3:
                self.figure(figure)

    def findings(self) -> None:
        self.d.add_page_break()
        self.heading("6 Findings", 1)
        if not self.r.findings:
            self.para("No findings have been recorded.", muted=True)
            return
        self.para(outline.FINDINGS_INTRO)
        if self.r.severity_legend:
            self.heading("Severity scale", 3)
            legend = self.r.severity_legend
            self.table(["Severity", "What it means"],
                       [[f"{level.level} {level.label}", level.definition] for level in legend])
        for item in self.r.findings:
            self._finding(item)

    def worked_well(self) -> None:
        self.heading("7 What worked well", 1)
        if not self.r.worked_well:
            self.para("No positive findings have been recorded.", muted=True)
        for item in self.r.worked_well:
            self._finding(item)

    def next_steps(self) -> None:
        self.heading("8 Next steps", 1)
        self.written(self.r.next_steps, "No next steps have been written yet.")

    def _finding(self, item: FindingItem) -> None:
        self.heading(f"{item.rank}. {item.title}", 2)
        meta = outline.finding_meta(item)
        if meta:
            paragraph = self.d.add_paragraph()
            lead = paragraph.add_run(clean(meta[0]))
            lead.bold = bool(item.severity_text) or None
            if meta[1:]:
                paragraph.add_run(clean(" · " + " · ".join(meta[1:])))
        self.prose(item.description)
        if item.recommendation.strip():
            self.heading(outline.recommendation_label(item), 3)
            self.prose(item.recommendation, style="Intense Quote")
        for shot in item.screenshots:
            self.picture(shot.data, shot.caption or f"Screenshot for finding {item.rank}: {item.title}",
                         # At most 12 cm tall: a phone screenshot leaves room for its evidence.
                         width=min(TEXT_WIDTH, Cm(12 * shot.width / max(shot.height, 1))))
            if outline.screenshot_caption(shot):
                self.para(outline.screenshot_caption(shot), style="Caption")
        if item.quotes:
            self.heading("Evidence", 3)
        for quote in item.quotes:
            paragraph = self.para(quote.display_text, style="Quote")
            paragraph.add_run(clean(f" {outline.evidence_attribution(quote)}")).font.size = Pt(9)

    def appendix(self) -> None:
        self.d.add_page_break()
        self.heading("9 Appendix", 1)
        self.heading("A. Task scripts", 2)
        if not self.r.tasks:
            self.para("No tasks were defined.", muted=True)
        for task in self.r.tasks:
            self.heading(f"Task {task.number}. {task.title}", 3)
            for label, text in (("Scenario read to the participant", task.scenario),
                                ("Success criteria", task.success_criteria)):
                self.para(label, muted=True)
                if text.strip():
                    self.prose(text)
                else:
                    self.para("Not specified.")
            if task.time_limit_s:
                self.para(f"Time limit: {charts.format_seconds(task.time_limit_s)}")
        self.heading("B. System Usability Scale statements", 2)
        self.para("Participants rated each statement from 1 (strongly disagree) to 5 (strongly agree).")
        for statement in self.r.sus_statements:
            self.para(statement, style="List Number")
