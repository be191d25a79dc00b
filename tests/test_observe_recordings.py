"""A session's recording on the pages: upload, link, range requests, refusals, permissions, review."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.media_files import wav_bytes
from tests.observe_fixtures import login  # noqa: F401  (signs in again as someone else)
from usabtest import builders
from usabtest.accounts.models import Role
from usabtest.db import utcnow
from usabtest.observe import recordings
from usabtest.observe.models import RecordingKind, SessionRecording
from usabtest.planning.models import SessionStatus

WAV = wav_bytes(0.5)


@pytest.fixture
def setup(db, make_user):
    """A completed session moderated by the owner, with an observer on it and one on the team only."""
    owner = make_user(Role.RESEARCHER)
    observer, bystander = make_user(Role.OBSERVER), make_user(Role.OBSERVER)
    study = builders.make_study(owner, tasks=2)
    builders.make_member(study, bystander)
    started = utcnow() - timedelta(hours=1)
    session = builders.make_session(study, moderator=owner, observers=[observer],
                                    status=SessionStatus.COMPLETED, started_at=started,
                                    ended_at=started + timedelta(minutes=30))
    builders.make_note(session, observer, "Hesitates over the menu", elapsed_ms=83_400)
    builders.make_task_attempt(session, study.tasks[0], started_at=started + timedelta(seconds=20),
                               seconds=90)
    db.session.commit()
    return {"owner": owner, "observer": observer, "bystander": bystander, "session": session}


def _upload(client, session, data: bytes, name: str = "take.wav", offset: str = "0"):
    return client.post(f"/sessions/{session.id}/recording", data={
        "file-file": (io.BytesIO(data), name), "file-offset": offset, "file-submit": "Upload recording",
    }, content_type="multipart/form-data")


def _recording(db, session) -> SessionRecording | None:
    db.session.expire_all()
    return db.session.get(type(session), session.id).recording


def test_upload_is_stored_outside_the_database_under_a_random_name(db, client, login, setup):
    login(setup["owner"])
    response = _upload(client, setup["session"], WAV, name="../../etc/passwd.wav", offset="1:30")
    assert response.status_code == 302
    recording = _recording(db, setup["session"])
    assert recording.kind == RecordingKind.FILE and recording.content_type == "audio/wav"
    assert recording.offset_ms == 90_000 and recording.size_bytes == len(WAV)
    path = recordings.file_path(recording)
    assert path.parent == recordings.folder() and "passwd" not in path.name
    assert path.read_bytes() == WAV
    assert not list(path.parent.glob(".upload-*"))  # no temporary file left behind


def test_file_is_served_with_range_requests(client, login, setup):
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    url = f"/sessions/{setup['session'].id}/recording/file"
    with client.get(url) as whole:
        assert whole.status_code == 200 and whole.data == WAV and whole.mimetype == "audio/wav"
        assert whole.headers["Accept-Ranges"] == "bytes"
    with client.get(url, headers={"Range": "bytes=10-19"}) as part:
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 10-19/{len(WAV)}" and part.data == WAV[10:20]
    with client.get(url, headers={"Range": "bytes=-4"}) as tail:
        assert tail.status_code == 206 and tail.data == WAV[-4:]
    with client.get(url, headers={"Range": f"bytes={len(WAV) + 10}-"}) as beyond:
        assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(WAV)}"


def test_a_renamed_text_file_is_refused_and_nothing_changes(db, client, login, setup):
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    before = _recording(db, setup["session"])
    key = before.file_key
    response = _upload(client, setup["session"], b"just some notes, not a video\n" * 10, name="film.mp4")
    assert response.status_code == 400
    assert "not an audio or video recording" in response.get_data(as_text=True)
    after = _recording(db, setup["session"])
    assert after.file_key == key and recordings.file_path(after).read_bytes() == WAV
    assert sorted(p.name for p in recordings.folder().iterdir()) == [key]


@pytest.mark.config(RECORDING_MAX_BYTES=1000)
def test_an_oversized_upload_is_refused_and_its_partial_file_removed(db, client, login, setup):
    login(setup["owner"])
    response = _upload(client, setup["session"], wav_bytes(1.0))
    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)
    assert _recording(db, setup["session"]) is None
    assert list(recordings.folder().iterdir()) == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com/take.mp4", "data:video/mp4,xx",
                                 "https://", "not a link"])
def test_a_link_with_another_scheme_is_refused_with_a_field_error(db, client, login, setup, url):
    login(setup["owner"])
    response = client.post(f"/sessions/{setup['session'].id}/recording",
                           data={"link-url": url, "link-offset": "0", "link-submit": "Save link"})
    assert response.status_code == 400
    assert 'id="link-url-error"' in response.get_data(as_text=True)
    assert _recording(db, setup["session"]) is None


def test_a_garbled_offset_is_a_field_error(db, client, login, setup):
    login(setup["owner"])
    response = client.post(f"/sessions/{setup['session'].id}/recording", data={
        "link-url": "https://meet.example.com/rec/1", "link-offset": "1:99", "link-submit": "Save link"})
    assert response.status_code == 400
    assert 'id="link-offset-error"' in response.get_data(as_text=True)


def test_replacing_a_file_by_a_link_deletes_the_file(db, client, login, setup):
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    path = recordings.file_path(_recording(db, setup["session"]))
    response = client.post(f"/sessions/{setup['session'].id}/recording", data={
        "link-url": "https://www.youtube.com/watch?v=abc", "link-offset": "-5", "link-submit": "Save link"})
    assert response.status_code == 302
    recording = _recording(db, setup["session"])
    assert recording.kind == RecordingKind.LINK and recording.offset_ms == -5000
    assert recording.file_key is None
    assert not path.exists()


def test_removing_the_recording_deletes_its_file(db, client, login, setup):
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    path = recordings.file_path(_recording(db, setup["session"]))
    url = f"/sessions/{setup['session'].id}/recording/remove"
    asked = client.get(url)
    assert asked.status_code == 200 and "deleted from the server" in asked.get_data(as_text=True)
    assert path.exists()
    assert client.post(url, data={"confirmed": "yes"}).status_code == 302
    assert _recording(db, setup["session"]) is None and not path.exists()


def test_who_may_see_and_who_may_change_the_recording(db, client, login, setup, make_user):
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    sid = setup["session"].id
    outsider, client_user = make_user(Role.RESEARCHER), make_user(Role.CLIENT)
    for person in (setup["observer"], setup["bystander"]):  # the session page's readers
        login(person)
        with client.get(f"/sessions/{sid}/recording/file") as response:
            assert response.status_code == 200
        assert client.get(f"/sessions/{sid}/review").status_code == 200
        assert client.get(f"/sessions/{sid}/recording").status_code == 403
        assert _upload(client, setup["session"], WAV).status_code == 403
    for person in (outsider, client_user):
        login(person)
        for path in ("recording/file", "review", "recording", "recording/remove"):
            assert client.get(f"/sessions/{sid}/{path}").status_code == 404, (person.role, path)
    client.delete_cookie("session")
    assert client.get(f"/sessions/{sid}/recording/file").status_code == 302  # to the sign-in page


def test_review_page_plays_the_file_from_the_moment_asked(client, login, setup):
    login(setup["owner"])
    _upload(client, setup["session"], WAV, offset="10")
    page = client.get(f"/sessions/{setup['session'].id}/review?t=83").get_data(as_text=True)
    assert '<audio id="player"' in page and "#t=93" in page  # 83 s into the session, 10 s in
    assert 'data-seek="83"' in page and "Hesitates over the menu" in page
    assert "Task 1 “" in page and "” started" in page
    for garbled in ("abc", "-4", "1e309", "nan"):
        assert client.get(f"/sessions/{setup['session'].id}/review?t={garbled}").status_code == 200


def test_review_page_opens_an_external_link_at_each_moment(client, login, setup):
    login(setup["owner"])
    client.post(f"/sessions/{setup['session'].id}/recording", data={
        "link-url": "https://www.youtube.com/watch?v=abc", "link-offset": "0:30", "link-submit": "Save link"})
    page = client.get(f"/sessions/{setup['session'].id}/review").get_data(as_text=True)
    assert "https://www.youtube.com/watch?v=abc&amp;t=113s" in page  # the note: 83 s + 30 s
    assert "<video" not in page and "<audio" not in page


def test_console_links_note_times_once_the_session_has_a_recording(client, login, setup):
    login(setup["observer"])
    url = f"/sessions/{setup['session'].id}/observe"
    assert '"reviewUrl": null' in client.get(url).get_data(as_text=True)
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    login(setup["observer"])
    assert f'"reviewUrl": "/sessions/{setup["session"].id}/review"' in client.get(url).get_data(as_text=True)


def test_media_types_come_from_the_content():
    assert recordings.media_type(WAV[:64]) == "audio/wav"
    assert recordings.media_type(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 8) == "video/mp4"
    assert recordings.media_type(b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 8) == "audio/mp4"
    assert recordings.media_type(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm") == "video/webm"
    assert recordings.media_type(b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis") == "audio/ogg"
    assert recordings.media_type(b"ID3\x03\x00") == "audio/mpeg"
    assert recordings.media_type(b"\xff\xfb\x90\x00") == "audio/mpeg"
    assert recordings.media_type(b"<html><body>") is None
    assert recordings.media_type(b"%PDF-1.7") is None
    assert recordings.media_type(b"") is None


def test_offsets_are_read_as_minutes_and_seconds():
    assert recordings.parse_offset("1:30") == 90_000
    assert recordings.parse_offset("1:02:03") == 3_723_000
    assert recordings.parse_offset("-5") == -5_000
    assert recordings.parse_offset("2.5") == 2_500
    assert recordings.parse_offset("") == 0
    for bad in ("1:60", "x", "1::2", "1:2:3:4", "99999999", "nan", "--1"):
        with pytest.raises(Exception, match="minutes:seconds|24 hours"):
            recordings.parse_offset(bad)


def test_report_evidence_names_the_recording_time(db, setup):
    from tests.test_reports_pdf import pdf_text
    from usabtest.analysis.models import Finding
    from usabtest.observe.models import Note
    from usabtest.reports import data as report_data
    from usabtest.reports import services as report_services

    session = setup["session"]
    note = db.session.scalars(sa.select(Note).where(Note.session_id == session.id)).one()
    db.session.add(Finding(study=session.study, title="Menu unclear", severity=3, notes=[note]))
    recordings.set_link(session, setup["owner"], "https://meet.example.com/rec/1", 90_000)
    db.session.commit()
    quote = report_data.build_report_data(session.study_id).findings[0].quotes[0]
    assert quote.recording_time == "2:53"  # 1:23 into the session, which starts 1:30 in
    assert quote.attribution.endswith("1:23, recording 2:53")
    assert "recording 2:53" in pdf_text(report_services.render_draft(session.study))


@pytest.mark.csrf
def test_a_file_larger_than_other_bodies_uploads_through_the_csrf_checked_form(app, db, client, setup):
    """The application refuses bodies over MAX_CONTENT_LENGTH; the recording form takes its own limit."""
    big = WAV + bytes(app.config["MAX_CONTENT_LENGTH"])
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    client.post("/login", data={"email": setup["owner"].email, "password": builders.DEFAULT_PASSWORD,
                                "csrf_token": token})
    form = client.get(f"/sessions/{setup['session'].id}/recording").get_data(as_text=True)
    token = form.split('name="csrf-token" content="')[1].split('"')[0]
    # Encoded in memory: the test client would spool a body this large to a file it never closes.
    boundary, body = encode_multipart({
        "file-csrf_token": token, "file-file": FileStorage(io.BytesIO(big), "big.wav"), "file-offset": "0",
        "file-submit": "Upload recording"})
    response = client.post(f"/sessions/{setup['session'].id}/recording", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert _recording(db, setup["session"]).size_bytes == len(big)


def test_erasing_the_participant_deletes_their_recordings_files(db, client, login, setup):
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    path = recordings.file_path(_recording(db, setup["session"]))
    participant_id = setup["session"].participant_id
    asked = client.get(f"/participants/{participant_id}/erase").get_data(as_text=True)
    assert "1 session recording will be deleted" in asked
    response = client.post(f"/api/v1/participants/{participant_id}/erase")
    assert response.status_code == 200 and response.get_json()["recordings_deleted"] == 1
    assert _recording(db, setup["session"]) is None and not path.exists()


def test_review_page_says_when_the_file_is_missing_from_the_folder(db, client, login, setup):
    login(setup["owner"])
    _upload(client, setup["session"], WAV)
    recordings.file_path(_recording(db, setup["session"])).unlink()
    page = client.get(f"/sessions/{setup['session'].id}/review")
    assert page.status_code == 200 and "not in the recordings folder" in page.get_data(as_text=True)
    assert client.get(f"/sessions/{setup['session'].id}/recording/file").status_code == 404


def test_note_times_link_to_the_recording_on_the_notes_board_and_the_session_page(client, login, setup):
    sid = setup["session"].id
    login(setup["owner"])
    board_url = f"/studies/{setup['session'].study_id}/notes"
    assert f"/sessions/{sid}/review?t=83" not in client.get(board_url).get_data(as_text=True)
    _upload(client, setup["session"], WAV)
    assert f'href="/sessions/{sid}/review?t=83"' in client.get(board_url).get_data(as_text=True)
    login(setup["bystander"])  # on the team, not on the session: reads its page
    page = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert f'href="/sessions/{sid}/review?t=83"' in page and "Hesitates over the menu" in page
    assert "Add a recording" not in page and "Replace the recording" not in page
