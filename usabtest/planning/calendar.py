"""iCalendar output for sessions: single downloads, invitations and per-user feeds. No Flask here.

Each session keeps one UID for its whole life; SEQUENCE is the session's `ics_sequence`, raised on
every reschedule and on cancellation, so calendar apps replace the event instead of adding a copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from usabtest.db import utcnow
from usabtest.planning.models import SessionStatus, StudySession

if TYPE_CHECKING:
    import icalendar

PRODID = "-//usabtest//Study sessions//EN"


@dataclass
class EventText:
    """What one audience is told about a session."""

    summary: str
    description: str = ""
    url: str = ""
    organizer: tuple[str, str] | None = None  # (name, email)
    attendees: list[tuple[str, str]] = field(default_factory=list)


def session_event(study_session: StudySession, text: EventText, stamp: datetime | None = None,
                  cancelled: bool | None = None) -> icalendar.Event:
    """The VEVENT for `study_session`, worded by `text`; `cancelled` overrides the session's status."""
    import icalendar  # loaded with the first calendar asked for: every process need not pay for it

    event = icalendar.Event()
    event.add("uid", study_session.ics_uid)
    event.add("sequence", study_session.ics_sequence)
    event.add("dtstamp", stamp or utcnow())
    event.add("dtstart", study_session.starts_at)
    event.add("dtend", study_session.ends_at)
    event.add("summary", text.summary)
    if cancelled is None:
        cancelled = study_session.status == SessionStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    location = study_session.location or study_session.video_link
    if location:
        event.add("location", location)
    if text.description:
        event.add("description", text.description)
    if text.url:
        event.add("url", text.url)
    if text.organizer:
        event.add("organizer", _address(*text.organizer))
    for name, email in text.attendees:
        event.add("attendee", _address(name, email, attendee=True))
    return event


def _address(name: str, email: str, attendee: bool = False) -> icalendar.vCalAddress:
    import icalendar

    address = icalendar.vCalAddress(f"mailto:{email}")
    address.params["cn"] = icalendar.vText(name)
    if attendee:
        address.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    return address


def build_calendar(events: Iterable[icalendar.Event], *, method: str | None = None,
                   name: str | None = None) -> bytes:
    """A VCALENDAR holding `events`, serialised; `method` is REQUEST/CANCEL/PUBLISH or None (feeds)."""
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()
