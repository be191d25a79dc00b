"""A session's recording through the JSON API: link, upload, offset, removal, refusals, permissions."""

from __future__ import annotations

import pytest

from tests.media_files import wav_bytes
from tests.observe_fixtures import login  # noqa: F401  (signs in again as someone else, with CSRF)
from tests.test_observe_recordings import setup  # noqa: F401
from usabtest import builders
from usabtest.accounts.models import Role
from usabtest.observe import recordings

WAV = wav_bytes(0.5)


def _url(setup, tail: str = "") -> str:
    return f"/api/v1/sessions/{setup['session'].id}/recording{tail}"


def _upload(client, setup, data: bytes, offset: int | None = None, **headers):
    query = f"?offset_ms={offset}" if offset is not None else ""
    return client.put(_url(setup, "/file") + query, data=data,
                      headers={"Content-Type": "application/octet-stream", **headers})


def test_upload_then_read_it_back_with_ranges(client, login, setup):
    login(setup["owner"])
    response = _upload(client, setup, WAV, offset=1500)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["kind"] == "file" and body["content_type"] == "audio/wav" and body["offset_ms"] == 1500
    assert body["size_bytes"] == len(WAV) and body["url"] == ""
    assert body["review_url"] == f"/sessions/{setup['session'].id}/review"
    with client.get(body["file_url"], headers={"Range": "bytes=0-3"}) as part:
        assert part.status_code == 206 and part.data == b"RIFF"
    with client.get(body["file_url"], headers={"Range": f"bytes={len(WAV)}-"}) as beyond:
        assert beyond.status_code == 416
    assert client.get(_url(setup)).get_json() == body


def test_link_replaces_the_file_and_deletes_it(client, login, setup):
    login(setup["owner"])
    key = _upload(client, setup, WAV).get_json()["file_url"]
    stored = list(recordings.folder().iterdir())
    assert len(stored) == 1 and key
    response = client.put(_url(setup), json={"url": "https://vimeo.com/123", "offset_ms": -2000})
    assert response.status_code == 200
    assert response.get_json()["kind"] == "link" and response.get_json()["file_url"] is None
    assert not stored[0].exists()
    moved = client.put(_url(setup, "/offset"), json={"offset_ms": 4000})
    assert moved.status_code == 200 and moved.get_json()["offset_ms"] == 4000


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "JavaScript:alert(1)",
                                 "file:///etc/passwd", "mailto:a@example.com", "//evil.example/x"])
def test_a_link_that_is_not_http_is_refused_on_its_field(client, login, setup, url):
    login(setup["owner"])
    response = client.put(_url(setup), json={"url": url})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"url"}
    assert client.get(_url(setup)).status_code == 404


def test_refusals_leave_the_stored_recording_alone(client, login, setup):
    login(setup["owner"])
    before = _upload(client, setup, WAV).get_json()
    not_media = _upload(client, setup, b"%PDF-1.7 not a film")
    assert not_media.status_code == 422 and "file" in not_media.get_json()["error"]["fields"]
    far = client.put(_url(setup, "/offset"), json={"offset_ms": 25 * 3600 * 1000})
    assert far.status_code == 422 and "offset_ms" in far.get_json()["error"]["fields"]
    bad_link = client.put(_url(setup), json={"url": "javascript:alert(1)"})
    assert bad_link.status_code == 422
    assert client.get(_url(setup)).get_json() == before
    assert len(list(recordings.folder().iterdir())) == 1


@pytest.mark.config(RECORDING_MAX_BYTES=2000)
def test_an_oversized_upload_answers_413_and_keeps_nothing(client, login, setup):
    login(setup["owner"])
    response = _upload(client, setup, wav_bytes(1.0))
    assert response.status_code == 413
    assert "larger than the limit" in response.get_json()["error"]["message"]
    assert list(recordings.folder().iterdir()) == []
    assert client.get(_url(setup)).status_code == 404


def test_delete_removes_the_file(client, login, setup):
    login(setup["owner"])
    _upload(client, setup, WAV)
    stored = list(recordings.folder().iterdir())
    assert client.delete(_url(setup)).status_code == 204
    assert not stored[0].exists() and client.get(_url(setup)).status_code == 404
    assert client.delete(_url(setup)).status_code == 404


def test_each_kind_of_user(client, login, setup, make_user):
    login(setup["owner"])
    _upload(client, setup, WAV)
    outsider, client_user = make_user(Role.RESEARCHER), make_user(Role.CLIENT)
    for reader in (setup["observer"], setup["bystander"]):
        login(reader)
        assert client.get(_url(setup)).status_code == 200
        assert _upload(client, setup, WAV).status_code == 403
        assert client.put(_url(setup), json={"url": "https://example.com/a.mp4"}).status_code == 403
        assert client.delete(_url(setup)).status_code == 403
    for stranger in (outsider, client_user):
        login(stranger)
        assert client.get(_url(setup)).status_code == 404
        assert _upload(client, setup, WAV).status_code == 404
    client.delete_cookie("session")
    assert client.get(_url(setup)).status_code == 401
    assert len(list(recordings.folder().iterdir())) == 1


@pytest.mark.csrf
def test_a_cookie_upload_passes_the_csrf_check_with_its_header_only(client, setup):
    """The file is the body, so the token comes in the header; the CSRF check must not eat the body."""
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    client.post("/login", data={"email": setup["owner"].email, "password": builders.DEFAULT_PASSWORD,
                                "csrf_token": token})
    assert _upload(client, setup, WAV).status_code == 400  # no token
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    response = _upload(client, setup, WAV, **{"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["size_bytes"] == len(WAV)
