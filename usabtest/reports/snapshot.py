"""A published version's `ReportData`, frozen as compressed JSON. Pure: no Flask, no database.

Publishing keeps this snapshot beside the PDF, so the version's other formats (the HTML view, the
DOCX, the PPTX) and any re-rendering of its PDF show what was published, not today's study.
Decoding is driven by the dataclasses' own type hints: a field added to `document.py` later reads
as its default from an older snapshot, and a field no longer there is ignored.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import types
import typing
import zlib
from datetime import date, datetime
from functools import cache

from usabtest.reports.document import ReportData

FORMAT = 1  # bumped if a snapshot can no longer be read field by field


def encode(report: ReportData) -> bytes:
    """`report` as compressed JSON bytes (screenshots included)."""
    payload = {"format": FORMAT, "report": _plain(report)}
    return zlib.compress(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def decode(data: bytes) -> ReportData:
    """The `ReportData` frozen by `encode`; ValueError for bytes that are not such a snapshot."""
    try:
        payload = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError) as exc:
        raise ValueError("not a report snapshot") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError("unknown report snapshot format")
    return _build(ReportData, payload["report"])


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def _build(cls: type, raw: dict):
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{name: _value(hints[name], value) for name, value in raw.items() if name in known})


def _value(hint, raw):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if raw is None:
            return None
        return _value(next(arg for arg in args if arg is not type(None)), raw)
    if origin is tuple:
        item = args[0] if args else typing.Any
        return tuple(_value(item, value) for value in raw)
    if origin is list:
        return [_value(args[0] if args else typing.Any, value) for value in raw]
    if origin is dict:
        item = args[1] if len(args) == 2 else typing.Any
        return {key: _value(item, value) for key, value in raw.items()}
    if origin is typing.Literal or hint is typing.Any or raw is None:
        return raw
    if dataclasses.is_dataclass(hint):
        return _build(hint, raw)
    if hint is bytes:
        return base64.b64decode(raw)
    if hint is datetime:
        return datetime.fromisoformat(raw)
    if hint is date:
        return date.fromisoformat(raw)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(raw)
    if hint is float and isinstance(raw, int):
        return float(raw)
    return raw
