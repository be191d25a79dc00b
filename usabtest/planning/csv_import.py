"""Reading a participant list from CSV into good rows and bad rows with reasons. Pure: no Flask, no database.

The first line names the columns. `name` is required; `email`, `phone`, `consent_date` (YYYY-MM-DD)
and `consent_version` are recognised; every other column becomes a segment attribute
("age band", "experience", ...). Line numbers are those of the file, header being line 1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from email_validator import EmailNotValidError, validate_email

from usabtest.core.errors import InvalidInput
from usabtest.core.schemas import control_character_problem

MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024  # 5,000 participants take well under this
MAX_COLUMNS = 60  # the known columns and up to 50-odd segment attributes
SHOWN_VALUE = 60  # characters of a refused value quoted back in a reason
PREVIEW_ROWS = 200  # rows of each kind listed on the preview page (the counts cover them all)
KNOWN_COLUMNS = {
    "name": "name", "full name": "name",
    "email": "email", "e-mail": "email", "email address": "email",
    "phone": "phone", "telephone": "phone",
    "consent_date": "consent_date", "consent date": "consent_date",
    "consent_version": "consent_version", "consent version": "consent_version",
    "consent form version": "consent_version",
}


class ImportFileError(InvalidInput):
    """The file as a whole cannot be read: encoding, header, size (422, on the upload field)."""

    def __init__(self, message: str):
        super().__init__(message, "file")


@dataclass
class ParticipantRow:
    """One valid participant from the file."""

    line: int
    name: str
    email: str | None = None
    phone: str | None = None
    segments: dict[str, str] = field(default_factory=dict)
    consent_date: date | None = None
    consent_version: str | None = None


@dataclass
class BadRow:
    """A row that will not be imported, and why."""

    line: int
    reasons: list[str]
    name: str = ""
    email: str = ""


@dataclass
class ImportPreview:
    """What an import would do: rows to add and rows refused."""

    good: list[ParticipantRow]
    bad: list[BadRow]
    segment_columns: list[str]


def decode(data: bytes) -> str:
    """The file's text; UTF-8 (with or without a byte-order mark) and at most MAX_BYTES are required."""
    if len(data) > MAX_BYTES:
        size = f"{MAX_BYTES / 1024:,.0f} KB" if MAX_BYTES < 1024 * 1024 else f"{MAX_BYTES / 1024 ** 2:g} MB"
        raise ImportFileError(f"The file is larger than {size}; split it into smaller files.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not UTF-8 text. Save it as \"CSV UTF-8\" and upload it again."
        ) from None


def _reader(text: str):
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return csv.reader(io.StringIO(text), dialect)


def _header(reader) -> tuple[list[str], list[str]]:
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as exc:
        raise _unreadable(reader, exc) from None
    if len(header) > MAX_COLUMNS:
        raise ImportFileError(f"The first line names {len(header)} columns; at most {MAX_COLUMNS} are read.")
    columns = [KNOWN_COLUMNS.get(h.strip().lower(), h.strip()) for h in header]
    for name in columns:
        problem = control_character_problem(name, multiline=False)
        if problem:
            raise ImportFileError(f"A column name of the first line {problem}.")
    if "name" not in columns:
        raise ImportFileError("The first line must name the columns, including a \"name\" column.")
    blank = [i + 1 for i, c in enumerate(columns) if not c]
    if blank:
        raise ImportFileError(f"Column {blank[0]} of the first line has no name.")
    if len(set(columns)) != len(columns):
        raise ImportFileError("Two columns of the first line have the same name.")
    segments = [c for c in columns if c not in KNOWN_COLUMNS.values()]
    return columns, segments


def parse_participants(text: str, existing_emails: set[str]) -> ImportPreview:
    """Split `text` into good and bad rows; `existing_emails` (lower-case) are already in the study."""
    reader = _reader(text)
    columns, segment_columns = _header(reader)
    good: list[ParticipantRow] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    line = reader.line_num
    for values in _rows(reader):
        start, line = line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(good) + len(bad) >= MAX_ROWS:
            raise ImportFileError(f"The file has more than {MAX_ROWS} participants; split it.")
        row, reasons = _parse_row(start, columns, segment_columns, values)
        _check_email(row, reasons, existing_emails, seen)
        if reasons:
            bad.append(BadRow(start, reasons, row.name, (row.email or "")[:254]))
        else:
            good.append(row)
    return ImportPreview(good, bad, segment_columns)


def _rows(reader):
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a value past csv.field_size_limit(), a NUL byte, a stray quote
            raise _unreadable(reader, exc) from None


def _unreadable(reader, exc: csv.Error) -> ImportFileError:
    if "field larger than field limit" in str(exc):
        return ImportFileError(f"Line {reader.line_num} has a value longer than {csv.field_size_limit():,} "
                               "characters; no participant's detail is that long.")
    return ImportFileError(f"Line {reader.line_num} cannot be read as CSV ({exc}).")


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN_VALUE else value[:SHOWN_VALUE] + "…")


def _parse_row(line: int, columns: list[str], segment_columns: list[str],
               values: list[str]) -> tuple[ParticipantRow, list[str]]:
    reasons: list[str] = []
    if len(values) > len(columns):
        reasons.append(f"has {len(values)} values but the header names {len(columns)} columns")
    cells = {c: (values[i].strip() if i < len(values) else "") for i, c in enumerate(columns)}
    for column, value in cells.items():
        problem = control_character_problem(value, multiline=False)
        if problem:
            reasons.append(f"the {column} value {problem}")
            cells[column] = ""
    row = ParticipantRow(line=line, name=cells["name"][:200], phone=cells.get("phone") or None)
    if not row.name:
        reasons.append("missing name")
    if row.phone and len(row.phone) > 50:
        reasons.append("phone number longer than 50 characters")
    row.email = cells.get("email") or None
    row.segments = {c: cells[c][:200] for c in segment_columns if cells.get(c)}
    _parse_consent(row, cells.get("consent_date", ""), cells.get("consent_version", ""), reasons)
    return row, reasons


def _parse_consent(row: ParticipantRow, raw_date: str, version: str, reasons: list[str]) -> None:
    if raw_date:
        try:
            row.consent_date = date.fromisoformat(raw_date)
        except ValueError:
            reasons.append(f"consent date {_shown(raw_date)} is not a date like 2025-03-31")
        else:
            if row.consent_date > date.today():
                reasons.append("consent date is in the future")
    if raw_date and not version:
        reasons.append("consent date given without the consent form version")
    if version and not raw_date:
        reasons.append("consent form version given without the consent date")
    row.consent_version = version[:50] or None


def _check_email(row: ParticipantRow, reasons: list[str], existing: set[str], seen: dict[str, int]) -> None:
    if not row.email:
        row.email = None
        return
    try:
        normalised = validate_email(row.email, check_deliverability=False).normalized
    except EmailNotValidError:
        reasons.append(f"bad email {_shown(row.email)}")
        return
    key = normalised.lower()
    if key in existing:
        reasons.append(f"duplicate email: {normalised} is already a participant in this study")
    elif key in seen:
        reasons.append(f"duplicate email: {normalised} is also on line {seen[key]}")
    else:
        seen[key] = row.line
    row.email = normalised
