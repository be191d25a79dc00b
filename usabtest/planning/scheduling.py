"""Scheduling rules: local wall time to UTC, overlap and double-booking checks. Pure: no Flask, no database.

Every comparison happens in UTC on aware datetimes, so sessions booked in different time zones,
or across a daylight-saving change, are compared by the instants they really occupy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from usabtest.core.errors import InvalidInput

MAX_DURATION_MIN = 600  # a ten-hour cap keeps the conflict search window bounded
MIN_DURATION_MIN = 5
# Sessions end before this, so every end, search window and local time shown stays a valid date.
LATEST_START = datetime(9999, 1, 1, tzinfo=UTC)


class SchedulingError(InvalidInput):
    """A user-facing reason a time cannot be used (422)."""


def zone_or_error(tz_name: str) -> ZoneInfo:
    """The named IANA zone, or a SchedulingError naming the unknown zone."""
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise SchedulingError(f"Unknown time zone {tz_name!r}.") from None


def local_to_utc(day: date, at: time, tz_name: str) -> datetime:
    """The UTC instant of wall-clock `day` `at` in `tz_name`.

    A time skipped by a daylight-saving change (e.g. 02:30 on the spring-forward night) is refused;
    a repeated time (the autumn hour) means its first occurrence.
    """
    tz = zone_or_error(tz_name)
    local = datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).replace(fold=0)
    try:
        utc = local.astimezone(UTC)
    except OverflowError:  # the first or last hours of the calendar, shifted past its ends
        raise SchedulingError(f"Choose a date before {LATEST_START:%d %b %Y}.") from None
    if utc >= LATEST_START:
        raise SchedulingError(f"Choose a date before {LATEST_START:%d %b %Y}.")
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise SchedulingError(
            f"{at:%H:%M} on {day:%d %b %Y} does not exist in {tz_name}: the clocks skip it "
            "for daylight saving time. Choose another time."
        )
    return utc


def utc_to_local(value: datetime, tz_name: str) -> datetime:
    """`value` (aware) as wall-clock time in `tz_name`."""
    return value.astimezone(zone_or_error(tz_name))


def check_duration(minutes: int) -> None:
    """Refuse durations outside the supported range."""
    if not MIN_DURATION_MIN <= minutes <= MAX_DURATION_MIN:
        raise SchedulingError(
            f"Duration must be between {MIN_DURATION_MIN} and {MAX_DURATION_MIN} minutes."
        )


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """True when two half-open intervals share time (back-to-back sessions do not clash)."""
    return a_start < b_end and b_start < a_end


@dataclass(frozen=True)
class Slot:
    """A session as the conflict rules see it: an interval and the people it occupies.

    `people` maps a person key (e.g. "user:3", "participant:7", "email:ann@example.net") to the
    role that person has in this session ("moderator", "observer", "participant").
    """

    key: int | None
    starts_at: datetime
    duration_min: int
    people: dict[str, str] = field(default_factory=dict)
    # When the session really ended (None until it has): an early end frees the rest of its slot.
    ended_at: datetime | None = None

    @property
    def ends_at(self) -> datetime:
        """End of the slot: the actual end once the session has ended, else the planned one."""
        if self.ended_at is not None:
            return self.ended_at
        return self.starts_at + timedelta(minutes=self.duration_min)


@dataclass(frozen=True)
class Clash:
    """One person booked in both the candidate and `other`."""

    person: str
    role_here: str
    role_there: str
    other: Slot


def find_clashes(candidate: Slot, others: Iterable[Slot]) -> list[Clash]:
    """Every person of `candidate` who is also in an overlapping slot among `others`."""
    clashes: list[Clash] = []
    for other in others:
        if candidate.key is not None and other.key == candidate.key:
            continue
        if not overlaps(candidate.starts_at, candidate.ends_at, other.starts_at, other.ends_at):
            continue
        for person in sorted(candidate.people.keys() & other.people.keys()):
            clashes.append(Clash(person, candidate.people[person], other.people[person], other))
    return clashes


def search_window(starts_at: datetime, duration_min: int) -> tuple[datetime, datetime]:
    """Start times another slot must fall between to possibly overlap this one."""
    return starts_at - timedelta(minutes=MAX_DURATION_MIN), starts_at + timedelta(minutes=duration_min)


def group_by_local_day(items: Iterable, tz_name: str, key=lambda item: item.starts_at) -> list:
    """[(local date, [items])] in time order, each item placed on its day in `tz_name`."""
    tz = zone_or_error(tz_name)
    ordered = sorted(items, key=key)
    return [(day, list(group)) for day, group in groupby(ordered, key=lambda i: key(i).astimezone(tz).date())]
