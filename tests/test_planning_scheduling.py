"""Double-booking rules and local-time handling, on the pure rules and through the scheduling service."""

from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from usabtest import policy
from usabtest.accounts.models import Role
from usabtest.core.errors import Conflict
from usabtest.planning import scheduling, services
from usabtest.planning.models import SessionStatus, StudyStatus

FUTURE_WINTER = date(2030, 1, 15)  # New York on EST (-5), London on GMT (+0)
DST_DAY_BERLIN = date(2030, 3, 31)
LONDON, BERLIN = "Europe/London", "Europe/Berlin"  # clocks go from 02:00 CET to 03:00 CEST


def _draft(participant, moderator, day, at, tz="UTC", minutes=60, observers=()):
    return services.SessionDraft(participant=participant, day=day, at=at, tz_name=tz, duration_min=minutes,
                                 moderator=moderator, observers=list(observers), location="Lab 1")


@pytest.fixture
def two_studies(make_user, make_study, make_participant):
    """Two studies of two researchers, each with a participant; each researcher observes the other's."""
    rita, sam = make_user(Role.RESEARCHER, name="Rita"), make_user(Role.RESEARCHER, name="Sam")
    first = make_study(owner=rita, title="First", observers=[sam])
    second = make_study(owner=sam, title="Second", observers=[rita])
    return (rita, sam, first, second, make_participant(first, email="first@example.net"),
            make_participant(second, email="second@example.net"))


def test_local_time_is_stored_as_utc():
    assert scheduling.local_to_utc(FUTURE_WINTER, time(9, 0), "America/New_York") == datetime(
        2030, 1, 15, 14, 0, tzinfo=UTC)


def test_time_skipped_by_daylight_saving_is_refused():
    with pytest.raises(scheduling.SchedulingError, match="does not exist in Europe/Berlin"):
        scheduling.local_to_utc(DST_DAY_BERLIN, time(2, 30), "Europe/Berlin")


def test_repeated_autumn_hour_means_its_first_occurrence():
    utc = scheduling.local_to_utc(date(2030, 10, 27), time(2, 30), "Europe/Berlin")
    assert utc == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)  # still CEST (+2)


def test_unknown_zone_is_refused():
    with pytest.raises(scheduling.SchedulingError, match="Unknown time zone"):
        scheduling.local_to_utc(FUTURE_WINTER, time(9), "Mars/Olympus")


def test_back_to_back_slots_do_not_overlap():
    start = datetime(2030, 1, 15, 9, tzinfo=UTC)
    a = scheduling.Slot(1, start, 60, {"user:1": "moderator"})
    b = scheduling.Slot(2, start + timedelta(minutes=60), 60, {"user:1": "moderator"})
    assert scheduling.find_clashes(b, [a]) == []


def test_pure_rule_reports_each_shared_person_with_both_roles():
    start = datetime(2030, 1, 15, 9, tzinfo=UTC)
    a = scheduling.Slot(1, start, 60, {"user:1": "moderator", "user:2": "observer"})
    b = scheduling.Slot(2, start + timedelta(minutes=30), 60, {"user:1": "observer", "user:2": "moderator"})
    clashes = scheduling.find_clashes(b, [a])
    assert [(c.person, c.role_here, c.role_there) for c in clashes] == [
        ("user:1", "observer", "moderator"), ("user:2", "moderator", "observer")]


def test_same_moderator_in_another_study_is_refused_naming_the_session(db, two_studies):
    rita, _sam, first, second, p1, p2 = two_studies
    booked = services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError) as exc:
        services.schedule_session(second, _draft(p2, rita, FUTURE_WINTER, time(10, 30)), rita,
                                  can_see_study=partial(policy.can_view_study, rita))
    assert exc.value.status == 409
    assert exc.value.messages == [
        f"Rita is already moderating session #{booked.id} (First · P01) on "
        "Tue 15 Jan 2030, 10:00–11:00 UTC."
    ]


def test_clash_message_names_no_other_study_without_a_visibility_rule(db, two_studies):
    rita, _sam, first, second, p1, p2 = two_studies
    booked = services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError) as exc:
        services.schedule_session(second, _draft(p2, rita, FUTURE_WINTER, time(10, 30)), rita)
    assert exc.value.messages == ["Rita is already moderating a session of another study on "
                                  "Tue 15 Jan 2030, 10:00–11:00 UTC."]
    assert f"#{booked.id}" not in exc.value.messages[0]


def test_observer_booked_elsewhere_is_refused(db, two_studies, make_user, make_member):
    rita, sam, first, second, p1, p2 = two_studies
    olive = make_user(Role.OBSERVER, name="Olive")
    make_member(first, olive)
    make_member(second, olive)
    services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10), observers=[olive]), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError, match="Olive is already observing a session of another study"):
        services.schedule_session(second, _draft(p2, sam, FUTURE_WINTER, time(10, 15),
                                                 observers=[olive]), sam)


def test_moderator_cannot_observe_an_overlapping_session(db, two_studies):
    rita, sam, first, second, p1, p2 = two_studies
    services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError, match="Rita is already moderating"):
        services.schedule_session(second, _draft(p2, sam, FUTURE_WINTER, time(10, 45), observers=[rita]), sam)


def test_same_participant_twice_at_once_is_refused(db, two_studies, make_user, make_member):
    rita, _sam, first, _second, p1, _p2 = two_studies
    other_moderator = make_user(Role.RESEARCHER, name="Mo")
    make_member(first, other_moderator)
    services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError, match="Participant P01 is already taking part in"):
        services.schedule_session(first, _draft(p1, other_moderator, FUTURE_WINTER, time(10, 30)), rita)


def test_participant_with_same_email_in_another_study_is_refused(db, make_user, make_study, make_participant):
    rita, sam = make_user(name="Rita"), make_user(name="Sam")
    first, second = make_study(owner=rita), make_study(owner=sam)
    p1 = make_participant(first, email="ann@example.net")
    p2 = make_participant(second, email="Ann@Example.net")
    services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError) as exc:
        services.schedule_session(second, _draft(p2, sam, FUTURE_WINTER, time(10)), sam,
                                  can_see_study=partial(policy.can_view_study, sam))
    # Sam cannot see Rita's study: he learns that the time is taken, not that the address matched
    # someone in a study of Rita's, nor when that session is.
    assert exc.value.messages == [f"Participant {p2.code} is already booked at this time."]


def test_a_clash_in_a_visible_study_names_the_same_email_address(db, make_user, make_study, make_participant):
    rita = make_user(name="Rita")
    first, second = make_study(owner=rita), make_study(owner=rita)
    p1 = make_participant(first, email="ann@example.net")
    p2 = make_participant(second, email="Ann@Example.net")
    booked = services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError) as exc:
        services.schedule_session(second, _draft(p2, rita, FUTURE_WINTER, time(10)), rita,
                                  can_see_study=partial(policy.can_view_study, rita))
    assert exc.value.messages[0].startswith(f"Participant {p2.code} (same email address) is already taking "
                                            f"part in session #{booked.id} (")


def test_sessions_in_different_zones_that_overlap_only_in_utc_clash(db, two_studies):
    rita, _sam, first, second, p1, p2 = two_studies
    # 09:00 in New York is 14:00 UTC; 14:30 in London is 14:30 UTC. The wall-clock times look far apart.
    services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(9), "America/New_York"), rita)
    db.session.commit()
    with pytest.raises(services.ConflictError, match="Rita is already moderating"):
        services.schedule_session(second, _draft(p2, rita, FUTURE_WINTER, time(14, 30), LONDON), rita)


def test_same_wall_clock_time_in_different_zones_does_not_clash(db, two_studies):
    rita, _sam, first, second, p1, p2 = two_studies
    services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10), "America/New_York"), rita)
    later = services.schedule_session(second, _draft(p2, rita, FUTURE_WINTER, time(10), LONDON), rita)
    db.session.commit()
    assert later.starts_at == datetime(2030, 1, 15, 10, tzinfo=UTC)


def test_session_across_the_daylight_saving_change_is_measured_in_real_time(db, two_studies):
    rita, _sam, first, second, p1, p2 = two_studies
    # 01:30 CET for two hours ends at 04:30 CEST on the wall clock (00:30-02:30 UTC), not at 03:30.
    across = services.schedule_session(
        first, _draft(p1, rita, DST_DAY_BERLIN, time(1, 30), "Europe/Berlin", minutes=120), rita)
    db.session.commit()
    assert across.ends_at.astimezone(ZoneInfo("Europe/Berlin")).time() == time(4, 30)
    # 04:00 CEST is 02:00 UTC: inside the first session even though 04:00 > 03:30 in naive wall time.
    with pytest.raises(services.ConflictError, match="Rita is already moderating"):
        services.schedule_session(second, _draft(p2, rita, DST_DAY_BERLIN, time(4), "Europe/Berlin"), rita)
    ok = services.schedule_session(second, _draft(p2, rita, DST_DAY_BERLIN, time(4, 30), BERLIN), rita)
    assert ok.starts_at == datetime(2030, 3, 31, 2, 30, tzinfo=UTC)


def test_cancelled_and_no_show_sessions_free_their_slot(db, two_studies, make_session):
    rita, _sam, first, second, p1, p2 = two_studies
    booked = services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    services.cancel_session(booked, rita)
    db.session.commit()
    again = services.schedule_session(second, _draft(p2, rita, FUTURE_WINTER, time(10)), rita)
    assert again.status == SessionStatus.SCHEDULED


def test_rescheduling_does_not_clash_with_itself_and_raises_sequence(db, two_studies):
    rita, _sam, first, _second, p1, _p2 = two_studies
    booked = services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    db.session.commit()
    uid = booked.ics_uid
    services.reschedule_session(booked, _draft(p1, rita, FUTURE_WINTER, time(10, 30)), rita, version=1)
    db.session.commit()
    assert (booked.ics_uid, booked.ics_sequence) == (uid, 1)
    assert booked.starts_at == datetime(2030, 1, 15, 10, 30, tzinfo=UTC)


def test_rescheduling_onto_a_busy_moderator_is_refused(db, two_studies):
    rita, sam, first, second, p1, p2 = two_studies
    services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)
    theirs = services.schedule_session(second, _draft(p2, sam, FUTURE_WINTER, time(10)), sam)
    db.session.commit()
    with pytest.raises(services.ConflictError, match="Rita is already moderating"):
        services.reschedule_session(theirs, _draft(p2, rita, FUTURE_WINTER, time(10)), sam, version=1)
    db.session.rollback()
    assert theirs.moderator == sam and theirs.ics_sequence == 0


@pytest.mark.parametrize(("change", "message"), [
    ({"day": date(2000, 1, 1)}, "Choose a time in the future."),
    ({"minutes": 2}, "Duration must be between 5 and 600 minutes."),
    ({"location": ""}, "Give a location or a video link"),
])
def test_bad_session_details_are_refused(db, two_studies, change, message):
    rita, _sam, first, _second, p1, _p2 = two_studies
    draft = _draft(p1, rita, change.get("day", FUTURE_WINTER), time(10), minutes=change.get("minutes", 60))
    if "location" in change:
        draft.location = change["location"]
    with pytest.raises(services.PlanningError, match=message):
        services.schedule_session(first, draft, rita)


def test_closed_study_takes_no_new_sessions(db, two_studies):
    rita, _sam, first, _second, p1, _p2 = two_studies
    services.set_study_status(first, StudyStatus.CLOSED, rita)
    with pytest.raises(Conflict, match="closed"):
        services.schedule_session(first, _draft(p1, rita, FUTURE_WINTER, time(10)), rita)


def test_agenda_groups_by_day_in_the_viewers_zone():
    late = scheduling.Slot(1, datetime(2030, 1, 15, 23, 30, tzinfo=UTC), 30)
    early = scheduling.Slot(2, datetime(2030, 1, 15, 8, tzinfo=UTC), 30)
    days = scheduling.group_by_local_day([late, early], "Europe/Berlin")
    assert [(d, [s.key for s in items]) for d, items in days] == [
        (date(2030, 1, 15), [2]), (date(2030, 1, 16), [1])]
