"""CSV files that spreadsheet programs open safely. Pure: no Flask, no database.

UTF-8 with a byte-order mark so Excel reads accents correctly, and every cell that a spreadsheet
would take for a formula (starting with =, +, -, @, tab or carriage return) is prefixed with a
single quote, the OWASP-recommended neutralisation against CSV injection.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def neutralise(value: object) -> str:
    """`value` as text, with a leading single quote when a spreadsheet would run it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    # Numbers go through the same rule: our exports hold no negative numbers, and a literal
    # reading of "any cell" is the one that can be audited.
    text = repr(value) if isinstance(value, float) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def iter_csv(header: Sequence[str], rows: Iterable[Sequence[object]],
             rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[bytes]:
    """The CSV file of `to_csv` in pieces: the BOM and header first, then `rows_per_chunk` rows at a time,
    so a large file is sent while it is read and never held whole in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
        pending += 1
        if pending == rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A whole CSV file (header first) as UTF-8 bytes with a BOM, every cell neutralised."""
    return b"".join(iter_csv(header, rows))
