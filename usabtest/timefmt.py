"""Showing UTC times in a person's own time zone. Pure: no Flask."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> ZoneInfo:
    """The named zone, or UTC when the name is unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_zone(value: datetime, tz_name: str | None) -> datetime:
    """`value` (aware, any zone) converted to `tz_name`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone(tz_name))


def format_local(value: datetime | None, tz_name: str | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """A human date-time in `tz_name`, with the zone's abbreviation (e.g. CET, BST)."""
    if value is None:
        return ""
    local = to_zone(value, tz_name)
    return f"{local.strftime(fmt)} {local.tzname()}"
