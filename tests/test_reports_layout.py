"""The PDF's layout: chapters and task sections flow on, so no page in the body is left mostly empty."""

from __future__ import annotations

import io
from dataclasses import replace

import pdfplumber
import pytest

from tests.test_reports_pdf import sample_report
from usabtest.reports import pdf

HEADER, FOOTER = 66, 57  # points taken by the running header and footer at the page's top and bottom


def page_fill(data: bytes) -> list[float]:
    """For each page, how far down its body area anything is drawn (0 empty, 1 full)."""
    fills = []
    with pdfplumber.open(io.BytesIO(data)) as document:
        for page in document.pages:
            top, bottom = HEADER, page.height - FOOTER
            body = page.crop((0, top, page.width, bottom))
            drawn = body.chars + body.rects + body.images + body.lines + body.curves
            lowest = max((item["bottom"] for item in drawn), default=top)
            fills.append((lowest - top) / (bottom - top))
    return fills


@pytest.mark.parametrize("count", [1, 3, 5])
def test_no_page_between_the_contents_and_the_last_is_less_than_half_used(count):
    base = sample_report()
    tasks = tuple(replace(task, number=n) for n, task in enumerate((base.tasks * 3)[:count], start=1))
    findings = tuple(replace(item, rank=n) for n, item in enumerate((base.findings * 3)[:count], start=1))
    fills = page_fill(pdf.render(replace(base, tasks=tasks, findings=findings)))
    body = fills[2:-1]  # after the title page and the contents; the last page ends where the text does
    assert body and min(body) >= 0.5, [f"{fill:.0%}" for fill in fills]
