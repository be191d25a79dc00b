"""Invitation mails for sessions: calendar requests for the team, a friendly note for the participant.

Messages are queued with `usabtest.core.mail.send_mail`, which sends them only after the caller's
transaction commits and never blocks the request.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from flask import current_app

from usabtest.accounts.models import User
from usabtest.core import mail
from usabtest.planning.calendar import EventText, build_calendar, session_event
from usabtest.planning.models import StudySession
from usabtest.timefmt import format_local

PURPOSES = {"scheduled": "invitation", "rescheduled": "reschedule", "cancelled": "cancellation",
            "removed": "cancellation"}
_STAFF_SUBJECT = {
    "scheduled": "Invitation", "rescheduled": "Updated", "cancelled": "Cancelled",
    "removed": "You are no longer needed",
}


def session_url(study_session: StudySession) -> str:
    """Absolute link to the session's page."""
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/sessions/{study_session.id}"


def _where(study_session: StudySession) -> str:
    parts = []
    if study_session.location:
        parts.append(f"Location: {study_session.location}")
    if study_session.video_link:
        parts.append(f"Video link: {study_session.video_link}")
    return "\n".join(parts)


def team_event_text(study_session: StudySession) -> EventText:
    """How the session reads in the team's calendars (pseudonym only, never personal details)."""
    observers = ", ".join(u.name for u in study_session.observers) or "none"
    description = "\n".join(filter(None, [
        f"Study: {study_session.study.title}",
        f"Participant: {study_session.participant.code}",
        f"Moderator: {study_session.moderator.name}",
        f"Observers: {observers}",
        _where(study_session),
        f"Session page: {session_url(study_session)}",
    ]))
    return EventText(
        summary=f"Usability session: {study_session.study.title} · {study_session.participant.code}",
        description=description, url=session_url(study_session),
        organizer=_organizer(),
        attendees=[(u.name, u.email) for u in [study_session.moderator, *study_session.observers]],
    )


def _organizer() -> tuple[str, str]:
    name, address = parseaddr(current_app.config["MAIL_SENDER"])
    return name or "usabtest", address or "no-reply@localhost"


def _participant_event_text(study_session: StudySession, name: str, email: str) -> EventText:
    return EventText(summary="Usability test session", description=_where(study_session),
                     organizer=_organizer(), attendees=[(name, email)])


def _attach(message: EmailMessage, ics: bytes, method: str) -> None:
    message.add_attachment(ics, maintype="text", subtype="calendar", filename="session.ics",
                           params={"method": method})


def _staff_message(study_session: StudySession, user: User, kind: str) -> EmailMessage:
    cancelled = kind in ("cancelled", "removed")
    when = format_local(study_session.starts_at, user.timezone)
    message = EmailMessage()
    message["To"] = formataddr((mail.header_text(user.name), user.email))
    message["Subject"] = mail.header_text(f"{_STAFF_SUBJECT[kind]}: {study_session.study.title} · "
                                     f"{study_session.participant.code}, {when}")
    role = "moderating" if user.id == study_session.moderator_id else "observing"
    lead = {
        "scheduled": f"You are {role} a usability session.",
        "rescheduled": f"A session you are {role} has changed.",
        "cancelled": "This usability session has been cancelled.",
        "removed": "You have been taken off this usability session.",
    }[kind]
    message.set_content(
        f"Hello {user.name},\n\n{lead}\n\nWhen: {when} ({study_session.duration_min} minutes)\n"
        f"{team_event_text(study_session).description}\n"
    )
    event = session_event(study_session, team_event_text(study_session), cancelled=cancelled)
    _attach(message, build_calendar([event], method="CANCEL" if cancelled else "REQUEST"),
            "CANCEL" if cancelled else "REQUEST")
    return message


def _participant_message(study_session: StudySession, kind: str) -> EmailMessage | None:
    personal = study_session.participant.personal
    if not participant_reachable(study_session):
        return None
    when = format_local(study_session.starts_at, study_session.timezone, "%A %d %B %Y at %H:%M")
    first = personal.name.split()[0] if personal.name.strip() else "there"
    body = {
        "scheduled": f"Thank you for agreeing to take part in our usability session. We look forward to "
                     f"seeing you on {when} (about {study_session.duration_min} minutes).",
        "rescheduled": f"Your usability session has moved. It is now on {when} "
                       f"(about {study_session.duration_min} minutes).",
        "cancelled": f"We are sorry: your usability session on {when} has been cancelled. "
                     "We will be in touch if we can offer you another time.",
    }[kind]
    message = EmailMessage()
    message["To"] = formataddr((mail.header_text(personal.name), personal.email))
    message["Subject"] = {"scheduled": "Your usability session", "rescheduled": "New time for your "
                          "usability session", "cancelled": "Your usability session is cancelled"}[kind]
    where = _where(study_session)
    message.set_content(
        f"Hello {first},\n\n{body}\n\n{where + chr(10) + chr(10) if where and kind != 'cancelled' else ''}"
        "There are no right or wrong answers: we are testing the product, not you.\n\n"
        "Thank you,\nThe research team\n"
    )
    cancelled = kind == "cancelled"
    text = _participant_event_text(study_session, personal.name, personal.email)
    event = session_event(study_session, text)
    _attach(message, build_calendar([event], method="CANCEL" if cancelled else "REQUEST"),
            "CANCEL" if cancelled else "REQUEST")
    return message


def participant_reachable(study_session: StudySession) -> bool:
    """True when the session's participant has an e-mail address on record (and was not erased)."""
    personal = study_session.participant.personal
    return bool(personal is not None and personal.email and not study_session.participant.erased)


def send_invitations(study_session: StudySession, kind: str, only: list[User] | None = None) -> int:
    """Queue this change's mails to the team (or just `only`) and the participant; returns how many."""
    if not mail.mail_configured():
        return 0
    staff = only if only is not None else [study_session.moderator, *study_session.observers]
    messages = [_staff_message(study_session, user, kind) for user in staff]
    if only is None:
        messages.append(_participant_message(study_session, kind))
    sent = 0
    for message in filter(None, messages):
        sent += mail.send_mail(message, purpose=PURPOSES[kind], study_id=study_session.study_id,
                               session_id=study_session.id)
    return sent
