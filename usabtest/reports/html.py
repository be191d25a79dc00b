"""Pieces of the report's HTML view that are not markup: charts as SVG and images as data URLs.

Pure: no Flask, no database. The page itself is `templates/reports/version.html`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from reportlab.graphics import renderSVG

from usabtest.reports import fonts, outline
from usabtest.reports.document import ReportData

CHART_WIDTH = 640  # points; the image scales to the page's width
# The charts name the PDF's embedded face; a browser draws them with the same family if it has
# it, else its own sans-serif.
_FONT_FAMILIES = {fonts.BOLD: "'DejaVu Sans', Verdana, sans-serif; font-weight: bold",
                  fonts.REGULAR: "'DejaVu Sans', Verdana, sans-serif"}
_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"))


@dataclass(frozen=True)
class FigureImage:
    """A chart ready for an <img>: its caption, text alternative and SVG data URL."""

    caption: str
    alt: str
    src: str


def _svg(drawing) -> str:
    svg = renderSVG.drawToString(drawing)
    for name, family in _FONT_FAMILIES.items():
        svg = svg.replace(f"font-family: {name};", f"font-family: {family};")
    return svg


def figure_images(report: ReportData) -> list[FigureImage]:
    """The report's charts as SVG data URLs, each with its caption and numbers in words."""
    fonts.register()
    return [FigureImage(figure.caption, figure.alt,
                        "data:image/svg+xml;base64," + base64.b64encode(_svg(figure.draw(CHART_WIDTH))
                                                                         .encode()).decode("ascii"))
            for figure in outline.figures(report)]


def image_src(data: bytes) -> str:
    """A screenshot as a data URL, typed by its first bytes (uploads are stored as PNG or JPEG)."""
    kind = next((mime for magic, mime in _IMAGE_TYPES if data.startswith(magic)), "application/octet-stream")
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")
