"""Showing times: UTC in a person's own time zone, and clock-style durations. Pure: no Flask."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
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


def format_clock(seconds: float) -> str:
    """A duration rounded to whole seconds, halves up like every figure (`analysis.figures`):
    "M:SS" under an hour, "H:MM:SS" from an hour up."""
    total = max(0, int(Decimal(repr(float(seconds))).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_elapsed(elapsed_ms: float | None) -> str:
    """Time into a session, the way every page, export and report shows it ("4:05", "1:05:00").

    Cut to the whole second, not rounded, so it agrees with the console's running clock; the
    console's `static/js/observe/format.js` follows the same rule and is tested against this one.
    """
    return format_clock(max(0, int(elapsed_ms or 0)) // 1000)


RELATIVE_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def format_relative(value: datetime, now: datetime) -> str:
    """How far `value` is from `now` in words, by its largest whole unit: "in 2 hours", "3 days
    ago", "now" within a minute; empty beyond 30 days, where the date says more."""
    seconds = (to_zone(value, "UTC") - to_zone(now, "UTC")).total_seconds()
    if abs(seconds) < 60:
        return "now"
    if abs(seconds) > 30 * 86_400:
        return ""
    name, size = next((name, size) for name, size in RELATIVE_UNITS if abs(seconds) >= size)
    count = int(abs(seconds) // size)
    words = f"{count} {name}{'' if count == 1 else 's'}"
    return f"in {words}" if seconds > 0 else f"{words} ago"
