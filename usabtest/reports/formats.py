"""The report's downloadable formats besides the PDF: renderers and their media types."""

from __future__ import annotations

from collections.abc import Callable

from usabtest.reports import docx, pptx
from usabtest.reports.document import ReportData

RENDERERS: dict[str, Callable[[ReportData], bytes]] = {"docx": docx.render, "pptx": pptx.render}
MIMETYPES = {"docx": docx.MIMETYPE, "pptx": pptx.MIMETYPE}
