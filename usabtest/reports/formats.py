"""The report's downloadable formats besides the PDF: renderers and their media types.

python-docx and python-pptx are imported when a document is first asked for: together they take
about a fifth of the app's start-up, which every worker and every CLI command would otherwise pay.
"""

from __future__ import annotations

from importlib import import_module

from usabtest.reports.document import ReportData

MIMETYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def render(file_format: str, data: ReportData) -> bytes:
    """`data` as a document of `file_format` (a key of `MIMETYPES`)."""
    if file_format not in MIMETYPES:
        raise ValueError(f"unknown report format {file_format!r}")
    return import_module(f"usabtest.reports.{file_format}").render(data)
