"""One format for time into a session: the rule itself, and the same text on every page, export and report."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_reports_pdf import pdf_text
from usabtest.accounts.models import Role
from usabtest.analysis.models import Finding
from usabtest.db import utcnow
from usabtest.planning.models import SessionStatus
from usabtest.timefmt import format_clock, format_elapsed, format_relative

# Shared with the browser test that runs the console's JavaScript on the same inputs.
ELAPSED_CASES = [
    (0, "0:00"),
    (999, "0:00"),
    (1_000, "0:01"),
    (59_999, "0:59"),
    (60_000, "1:00"),
    (125_000, "2:05"),
    (754_999, "12:34"),
    (3_599_999, "59:59"),
    (3_600_000, "1:00:00"),
    (3_900_000, "1:05:00"),
    (3_905_250, "1:05:05"),
    (36_000_000, "10:00:00"),
    (7 * 24 * 3_600_000, "168:00:00"),
    (-5_000, "0:00"),
    (None, "0:00"),
    (61_500.7, "1:01"),
]


@pytest.mark.parametrize("elapsed_ms, text", ELAPSED_CASES)
def test_elapsed_is_minutes_under_an_hour_and_hours_from_an_hour(elapsed_ms, text):
    assert format_elapsed(elapsed_ms) == text


def test_elapsed_is_cut_to_the_second_like_a_running_clock():
    assert format_elapsed(1_999) == "0:01"
    assert format_elapsed(3_599_999) == "59:59"  # not rounded up to the hour


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (65.4, "1:05"), (65.5, "1:06"), (3599.4, "59:59"),
                                           (3599.6, "1:00:00"), (3725, "1:02:05"), (-3, "0:00")])
def test_durations_are_rounded_in_the_same_clock_format(seconds, text):
    assert format_clock(seconds) == text


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    header, *rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_one_note_shows_the_same_time_on_board_finding_export_and_report(
        db, client, login, make_study, make_participant, make_session, make_note):
    study = make_study(tasks=1)
    study_session = make_session(study=study, participant=make_participant(study),
                                 status=SessionStatus.COMPLETED)
    late = make_note(study_session, study.owner, body="Gives up on the export dialog", elapsed_ms=3_905_250,
                     task=study.tasks[0])
    early = make_note(study_session, study.owner, body="Finds the menu at once", elapsed_ms=125_000)
    finding = Finding(study=study, title="Export is hard to find", severity=3, notes=[late, early],
                      recommendation="Move it to the toolbar")
    db.session.add(finding)
    db.session.commit()
    login(study.owner)

    board = client.get(f"/studies/{study.id}/notes").get_data(as_text=True)
    assert re.search(r">1:05:05</span>", board) and re.search(r">2:05</span>", board)
    finding_page = client.get(f"/studies/{study.id}/findings/{finding.id}").get_data(as_text=True)
    assert "P01, task 1, 1:05:05" in finding_page and "P01, 2:05" in finding_page
    exported = {row["note"]: row["elapsed"] for row in
                _csv_rows(client.get(f"/studies/{study.id}/exports/notes.csv").data)}
    assert exported == {"Gives up on the export dialog": "1:05:05", "Finds the menu at once": "2:05"}
    report = client.get(f"/studies/{study.id}/report/draft")
    assert report.status_code == 200
    text = pdf_text(report.data)
    assert "P01, task 1, 1:05:05" in text and "P01, 2:05" in text
    for page in (board, finding_page, text):
        assert "65:05" not in page and "02:05" not in page


NOW = datetime(2030, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "text"), [
    (NOW + timedelta(seconds=59), "now"),
    (NOW - timedelta(seconds=30), "now"),
    (NOW + timedelta(minutes=1), "in 1 minute"),
    (NOW + timedelta(minutes=45, seconds=50), "in 45 minutes"),
    (NOW + timedelta(hours=2, minutes=59), "in 2 hours"),
    (NOW - timedelta(hours=1), "1 hour ago"),
    (NOW + timedelta(days=1, hours=23), "in 1 day"),
    (NOW - timedelta(days=3), "3 days ago"),
    (NOW + timedelta(days=30), "in 30 days"),
    (NOW + timedelta(days=31), ""),
])
def test_relative_times_use_the_largest_whole_unit(value, text):
    assert format_relative(value, NOW) == text


def test_relative_time_of_a_naive_value_is_taken_as_utc():
    assert format_relative(datetime(2030, 3, 10, 14, 0), NOW) == "in 2 hours"


def test_an_observers_home_says_how_soon_each_session_starts(client, login, make_user, make_study,
                                                               make_member, make_session):
    observer = make_user(Role.OBSERVER)
    study = make_study(tasks=1)
    make_member(study, observer)
    make_session(study, starts_at=utcnow() + timedelta(hours=3, minutes=10), observers=[observer])
    login(observer)
    assert "(in 3 hours)" in client.get("/").get_data(as_text=True)


def test_task_time_limits_read_as_clock_durations(client, login, make_study):
    study = make_study(tasks=1)
    study.tasks[0].time_limit_s = 150
    login(study.owner)
    assert "time limit 2:30" in client.get(f"/studies/{study.id}").get_data(as_text=True)
