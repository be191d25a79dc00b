"""Calendar files: one session's download, the private per-user feed, and the agenda page."""

from datetime import UTC, datetime, timedelta

import icalendar

from usabtest.accounts.models import Role
from usabtest.db import utcnow
from usabtest.planning.models import SessionStatus

SOON = datetime(2030, 1, 15, 14, 0, tzinfo=UTC)


def _feed_url(client) -> str:
    client.post("/profile/calendar-feed", data={"confirmed": "yes"})
    profile = client.get("/profile").get_data(as_text=True)
    start = profile.index("http://localhost/calendar/")
    return profile[start:profile.index('"', start)].removeprefix("http://localhost")


def _events(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_single_session_download_parses_with_icalendar(client, login, make_session):
    study_session = make_session(starts_at=SOON, duration_min=90, location="Lab 1")
    login(study_session.study.owner)
    response = client.get(f"/sessions/{study_session.id}/calendar.ics")
    assert response.status_code == 200
    assert response.content_type == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    event = _events(response.data)[study_session.ics_uid]
    assert event.decoded("DTSTART") == SOON
    assert event.decoded("DTEND") == SOON + timedelta(minutes=90)
    assert str(event["LOCATION"]) == "Lab 1"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert study_session.participant.personal.name not in response.get_data(as_text=True)


def test_feed_keeps_uid_raises_sequence_on_reschedule_and_shows_cancellation(
        client, login, make_user, make_study, make_participant, db):
    rita = make_user(Role.RESEARCHER, timezone="Europe/Berlin")
    study = make_study(owner=rita)
    participant = make_participant(study)
    login(rita)
    form = {"participant": participant.id, "day": "2030-01-15", "at": "10:00", "timezone": "Europe/Berlin",
            "duration_min": 60, "moderator": rita.id, "location": "Lab 1"}
    assert client.post(f"/studies/{study.id}/sessions/new", data=form).status_code == 302
    study_session = study.sessions[0]
    feed = _feed_url(client)
    client.get("/")  # the feed needs no sign-in: use a fresh client below
    anonymous = client.application.test_client()
    before = _events(anonymous.get(feed).data)[study_session.ics_uid]
    assert before["SEQUENCE"] == 0 and before.decoded("DTSTART") == datetime(2030, 1, 15, 9, tzinfo=UTC)

    form["at"], form["version"] = "11:30", study_session.version
    assert client.post(f"/sessions/{study_session.id}/reschedule", data=form).status_code == 302
    after = _events(anonymous.get(feed).data)[study_session.ics_uid]
    assert after["SEQUENCE"] == 1
    assert after.decoded("DTSTART") == datetime(2030, 1, 15, 10, 30, tzinfo=UTC)

    assert client.post(f"/sessions/{study_session.id}/cancel", data={"confirmed": "yes"}).status_code == 302
    cancelled = _events(anonymous.get(feed).data)[study_session.ics_uid]
    assert str(cancelled["STATUS"]) == "CANCELLED" and cancelled["SEQUENCE"] == 2


def test_feed_lists_only_the_users_own_sessions(client, login, make_user, make_session):
    olive = make_user(Role.OBSERVER)
    mine = make_session(observers=[olive])
    others = make_session()
    login(olive)
    body = client.application.test_client().get(_feed_url(client)).data
    assert set(_events(body)) == {mine.ics_uid}
    assert others.ics_uid not in body.decode()


def test_revoked_or_replaced_feed_token_gets_404(client, login, make_user, make_session):
    rita = make_user()
    make_session(moderator=rita)
    login(rita)
    first = _feed_url(client)
    anonymous = client.application.test_client()
    assert anonymous.get(first).status_code == 200
    second = _feed_url(client)  # "Replace with a new address"
    assert second != first
    assert anonymous.get(first).status_code == 404
    client.post("/profile/calendar-feed/revoke", data={"confirmed": "yes"})
    assert anonymous.get(second).status_code == 404
    assert "Create my calendar feed" in client.get("/profile").get_data(as_text=True)
    assert anonymous.get("/calendar/not-a-token.ics").status_code == 404


def test_agenda_groups_upcoming_sessions_by_day_in_the_users_zone(client, login, make_user, make_session):
    tokyo = make_user(Role.OBSERVER, timezone="Asia/Tokyo")
    base = (utcnow() + timedelta(days=3)).replace(hour=20, minute=0, second=0, microsecond=0)
    late = make_session(observers=[tokyo], starts_at=base)  # 05:00 next day in Tokyo
    make_session(observers=[tokyo], starts_at=base - timedelta(days=10), status=SessionStatus.COMPLETED)
    cancelled = make_session(observers=[tokyo], starts_at=base + timedelta(hours=2),
                             status=SessionStatus.CANCELLED)
    login(tokyo)
    page = client.get("/agenda").get_data(as_text=True)
    local_day = (base + timedelta(hours=9)).strftime("%A %d %B %Y")
    assert local_day in page
    assert "05:00</time>–06:00" in page
    assert late.participant.code in page and f"/sessions/{cancelled.id}" not in page
    assert late.participant.personal.name not in page


def test_client_users_have_no_agenda_or_feed(client, login, make_user):
    login(make_user(Role.CLIENT))
    assert client.get("/agenda").status_code == 403
    assert client.post("/profile/calendar-feed").status_code == 403
