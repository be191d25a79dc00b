"""Invitations through a real local SMTP server (aiosmtpd), and what happens when none answers."""

import email
import email.policy
import socket
from datetime import date, time

import icalendar
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from usabtest.accounts.models import Role
from usabtest.core import mail
from usabtest.core.models import MailDelivery, MailStatus
from usabtest.planning import services

# The mail sender records deliveries from its own thread, in its own transaction.
pytestmark = pytest.mark.committed

DAY = date(2030, 1, 15)


class _Inbox:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def inbox(app):
    """A local SMTP server for this test; the app is configured to send through it."""
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_TIMEOUT=5)
    yield handler
    mail.wait_for_outbox()
    controller.stop()


@pytest.fixture
def team(db, make_user, make_study, make_participant):
    """A researcher (Berlin), an observer (New York), a study and a participant with an email."""
    rita = make_user(Role.RESEARCHER, name="Rita Moderator", email="rita@example.com",
                     timezone="Europe/Berlin")
    olive = make_user(Role.OBSERVER, name="Olive Observer", email="olive@example.com",
                      timezone="America/New_York")
    study = make_study(owner=rita, title="Checkout study", observers=[olive])
    participant = make_participant(study, name="Ann Lee", email="ann@example.net")
    return rita, olive, study, participant


def _schedule(client, login, rita, study, participant, olive, at="10:00"):
    login(rita)
    return client.post(f"/studies/{study.id}/sessions/new", data={
        "participant": participant.id, "day": DAY.isoformat(), "at": at, "timezone": "Europe/London",
        "duration_min": 60, "moderator": rita.id, "observers": [olive.id],
        "location": "Lab 2, 1 High Street", "video_link": "",
    })


def _calendar_part(message) -> tuple[icalendar.Calendar, str]:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return icalendar.Calendar.from_ical(part.get_payload(decode=True)), part.get_param("method")
    raise AssertionError("no text/calendar attachment")


def _settle(db) -> None:
    """Wait for the mail threads, then end the test's snapshot so their records are visible."""
    mail.wait_for_outbox()
    db.session.rollback()


def _by_recipient(inbox) -> dict:
    return {m["X-Envelope-To"]: m for m in inbox.messages}


def test_scheduling_mails_everyone_an_invitation_with_the_ics_attached(client, login, db, inbox, team):
    rita, olive, study, participant = team
    response = _schedule(client, login, rita, study, participant, olive)
    assert response.status_code == 302
    mail.wait_for_outbox()
    received = _by_recipient(inbox)
    assert set(received) == {"rita@example.com", "olive@example.com", "ann@example.net"}
    study_session = study.sessions[0]
    for message in received.values():
        calendar, method = _calendar_part(message)
        assert method == "REQUEST" and calendar["METHOD"] == "REQUEST"
        event = calendar.walk("VEVENT")[0]
        assert str(event["UID"]) == study_session.ics_uid
        assert event["SEQUENCE"] == 0
        assert event.decoded("DTSTART") == study_session.starts_at
    # Each team member reads the time in their own zone; the participant in the session's zone.
    assert "Tue 15 Jan 2030, 11:00 CET" in received["rita@example.com"]["Subject"]
    assert "Tue 15 Jan 2030, 05:00 EST" in received["olive@example.com"]["Subject"]
    ann_text = received["ann@example.net"].get_body(("plain",)).get_content()
    assert "Hello Ann," in ann_text
    assert "Tuesday 15 January 2030 at 10:00 GMT" in ann_text
    assert "Location: Lab 2, 1 High Street" in ann_text
    # The team's invitation never carries the participant's personal details.
    olive_text = received["olive@example.com"].as_string()
    assert "Ann Lee" not in olive_text and "ann@example.net" not in olive_text
    _settle(db)
    deliveries = db.session.scalars(sa.select(MailDelivery)).all()
    assert {(d.recipient, d.status, d.purpose) for d in deliveries} == {
        (addr, MailStatus.SENT, "invitation") for addr in received}


def test_reschedule_and_cancel_send_updates_with_the_same_uid(client, login, db, inbox, team):
    rita, olive, study, participant = team
    _schedule(client, login, rita, study, participant, olive)
    mail.wait_for_outbox()
    study_session = study.sessions[0]
    inbox.messages.clear()
    client.post(f"/sessions/{study_session.id}/reschedule", data={
        "participant": participant.id, "day": DAY.isoformat(), "at": "15:00", "timezone": "Europe/London",
        "duration_min": 45, "moderator": rita.id, "observers": [], "location": "Lab 2",
        "version": study_session.version,
    })
    mail.wait_for_outbox()
    received = _by_recipient(inbox)
    assert set(received) == {"rita@example.com", "olive@example.com", "ann@example.net"}
    olive_calendar, olive_method = _calendar_part(received["olive@example.com"])
    assert olive_method == "CANCEL"  # taken off the session
    rita_event = _calendar_part(received["rita@example.com"])[0].walk("VEVENT")[0]
    assert (str(rita_event["UID"]), rita_event["SEQUENCE"]) == (study_session.ics_uid, 1)
    inbox.messages.clear()
    question = client.post(f"/sessions/{study_session.id}/cancel").get_data(as_text=True)
    assert "2 people will be e-mailed a cancellation: P01 and 1 team member." in question
    client.post(f"/sessions/{study_session.id}/cancel", data={"confirmed": "yes"})
    mail.wait_for_outbox()
    received = _by_recipient(inbox)
    assert set(received) == {"rita@example.com", "ann@example.net"}
    for message in received.values():
        calendar, method = _calendar_part(message)
        event = calendar.walk("VEVENT")[0]
        assert method == "CANCEL" and event["STATUS"] == "CANCELLED" and event["SEQUENCE"] == 2
    _settle(db)
    assert "has been cancelled" in received["ann@example.net"].get_body(("plain",)).get_content()


def test_removing_an_observer_from_the_team_cancels_their_invitation_only(client, login, db, inbox, team):
    rita, olive, study, participant = team
    _schedule(client, login, rita, study, participant, olive)
    mail.wait_for_outbox()
    study_session = study.sessions[0]
    inbox.messages.clear()
    assert client.post(f"/studies/{study.id}/team/{olive.id}/remove").status_code == 302
    mail.wait_for_outbox()
    received = _by_recipient(inbox)
    assert set(received) == {"olive@example.com"}  # the participant and the moderator hear nothing
    calendar, method = _calendar_part(received["olive@example.com"])
    event = calendar.walk("VEVENT")[0]
    assert method == "CANCEL" and (str(event["UID"]), event["SEQUENCE"]) == (study_session.ics_uid, 1)
    body = received["olive@example.com"].get_body(("plain",)).get_content()
    assert "taken off this usability session" in body
    _settle(db)


@pytest.mark.config(MAIL_SERVER="127.0.0.1", MAIL_TIMEOUT=2)
def test_mail_server_down_still_saves_the_session_and_shows_the_failure(app, client, login, db, team):
    app.config["MAIL_PORT"] = _free_port()  # nothing listens there
    rita, olive, study, participant = team
    response = _schedule(client, login, rita, study, participant, olive)
    assert response.status_code == 302
    study_session = study.sessions[0]
    assert study_session.participant == participant  # saved despite the dead server
    _settle(db)
    failures = db.session.scalars(sa.select(MailDelivery)).all()
    assert {d.status for d in failures} == {MailStatus.FAILED}
    assert all("could not reach mail server" in d.error for d in failures)
    page = client.get(f"/sessions/{study_session.id}").get_data(as_text=True)
    assert "Not delivered:" in page and "could not reach mail server" in page
    overview = client.get(f"/studies/{study.id}").get_data(as_text=True)
    assert "Some emails could not be sent" in overview


def test_failed_request_sends_nothing(client, login, db, inbox, team, make_session):
    rita, olive, study, participant = team
    _schedule(client, login, rita, study, participant, olive)
    mail.wait_for_outbox()
    inbox.messages.clear()
    response = _schedule(client, login, rita, study, participant, olive, at="10:30")  # clashes
    assert response.status_code == 409
    mail.wait_for_outbox()
    assert inbox.messages == []


def test_no_mail_is_attempted_when_mail_is_not_configured(client, login, db, team):
    rita, olive, study, participant = team
    _schedule(client, login, rita, study, participant, olive)
    _settle(db)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailDelivery)) == 0
    page = client.get(f"/sessions/{study.sessions[0].id}").get_data(as_text=True)
    assert "Email is not configured on this server" in page


def test_service_level_invitations_wait_for_the_commit(app, db, inbox, team):
    rita, olive, study, participant = team
    draft = services.SessionDraft(participant=participant, day=DAY, at=time(9), tz_name="UTC",
                                  duration_min=30, moderator=rita, observers=[olive], location="Lab")
    services.schedule_session(study, draft, rita)
    db.session.rollback()
    mail.wait_for_outbox()
    assert inbox.messages == []


def test_line_breaks_in_names_and_titles_do_not_break_or_add_headers(db, client, login, inbox, team):
    rita, olive, study, participant = team
    olive.name = "Olive\r\nBcc: everyone@example.org"
    study.title = "Checkout\nX-Injected: yes"
    db.session.commit()
    response = _schedule(client, login, rita, study, participant, olive)
    assert response.status_code == 302
    mail.wait_for_outbox()
    assert inbox.messages
    for message in inbox.messages:
        assert "everyone@example.org" not in message["X-Envelope-To"]
        assert message["X-Injected"] is None
