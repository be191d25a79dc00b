"""Named personal API tokens: created once on the profile page, listed, expiring, revoked (one, all by
a password change or "sign out everywhere", by an admin, from the command line), last use noted."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.confirm_helpers import confirmation
from tests.conftest import PASSWORD
from usabtest.accounts import services
from usabtest.accounts.models import ApiToken, Role
from usabtest.core.models import AuditEvent
from usabtest.db import utcnow


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _me(app, token: str):
    return app.test_client().get("/api/v1/me", headers=_bearer(token))


def _token(db, user, label: str = "script", **options) -> str:
    value = services.issue_token(user, label, **options)
    db.session.commit()
    return value


def _new_token_on_page(html: str) -> str:
    return re.search(r'id="new-token" readonly value="(ut_[^"]+)"', html).group(1)


def test_profile_creates_a_named_token_shown_once(app, db, client, make_user, login):
    user = make_user()
    login(user)
    response = client.post("/profile/tokens", data={"token-name": "nightly export", "token-expires": "30"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = _new_token_on_page(response.get_data(as_text=True))
    assert _me(app, token).json["email"] == user.email
    page = client.get("/profile").get_data(as_text=True)
    assert "nightly export" in page and token not in page
    stored = db.session.scalar(sa.select(ApiToken))
    assert stored.label == "nightly export"
    assert timedelta(days=29) < stored.expires_at - utcnow() <= timedelta(days=30)


def test_token_needs_a_name(client, make_user, login):
    login(make_user())
    response = client.post("/profile/tokens", data={"token-name": " ", "token-expires": ""})
    assert response.status_code == 400
    assert "Name the token" in response.get_data(as_text=True)


def test_token_stops_working_once_revoked_on_the_profile_page(app, db, client, make_user, login):
    user = make_user()
    token = _token(db, user, "ci")
    kept = _token(db, user, "other")
    login(user)
    api_token = db.session.scalar(sa.select(ApiToken).where(ApiToken.label == "ci"))
    question = client.post(f"/profile/tokens/{api_token.id}/revoke")
    form = confirmation(question.get_data(as_text=True))
    assert _me(app, token).status_code == 200  # asking changed nothing
    assert client.post(form.action, data=dict(form.fields)).status_code == 302
    refused = _me(app, token)
    assert refused.status_code == 401 and refused.is_json
    assert "this token has been revoked" in refused.headers["WWW-Authenticate"]
    assert _me(app, kept).status_code == 200
    listed = client.get("/profile").get_data(as_text=True).split("Your tokens")[1].split("</table>")[0]
    assert "<td>ci</td>" not in listed and "<td>other</td>" in listed


def test_someone_elses_token_cannot_be_revoked(app, db, client, make_user, login):
    token = _token(db, make_user(), "theirs")
    login(make_user())
    api_token = db.session.scalar(sa.select(ApiToken))
    assert client.post(f"/profile/tokens/{api_token.id}/revoke", data={"confirmed": "yes"}).status_code == 404
    assert _me(app, token).status_code == 200


def test_password_change_revokes_every_token(app, db, client, make_user, login):
    user = make_user()
    tokens = [_token(db, user, "one"), _token(db, user, "two")]
    login(user)
    response = client.post("/profile", data={
        "password-current_password": PASSWORD, "password-new_password": "a-brand-new-passphrase-9",
        "password-confirm": "a-brand-new-passphrase-9", "password-submit": "1"})
    assert response.status_code == 302
    assert [_me(app, token).status_code for token in tokens] == [401, 401]
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "token.revoke_all"))
    assert event.details == {"count": 2, "reason": "password change"}


def test_sign_out_everywhere_ends_sessions_and_revokes_tokens(app, db, client, make_user, login):
    user = make_user()
    token = _token(db, user)
    other_browser = login(user, on=app.test_client())
    login(user)
    question = client.post("/profile/sign-out-everywhere").get_data(as_text=True)
    assert "1 API token is revoked" in question
    form = confirmation(question)
    response = client.post(form.action, data=dict(form.fields))
    assert response.headers["Location"].endswith("/login")
    assert _me(app, token).status_code == 401
    assert client.get("/profile").status_code == 302
    assert other_browser.get("/profile").status_code == 302


def test_expired_token_answers_401_saying_so(app, db, make_user):
    user = make_user()
    token = _token(db, user, expires_in_days=1)
    assert _me(app, token).status_code == 200
    db.session.scalar(sa.select(ApiToken)).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    refused = _me(app, token)
    assert refused.status_code == 401
    assert refused.is_json and refused.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="this token has expired"')


def test_last_use_is_written_at_most_once_a_minute(app, db, make_user):
    token = _token(db, make_user())
    assert db.session.scalar(sa.select(ApiToken)).last_used_at is None
    _me(app, token)
    first = db.session.scalar(sa.select(ApiToken)).last_used_at
    assert first is not None and utcnow() - first < timedelta(seconds=10)
    _me(app, token)
    assert db.session.scalar(sa.select(ApiToken)).last_used_at == first  # within the minute: no write
    db.session.scalar(sa.select(ApiToken)).last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    _me(app, token)
    assert db.session.scalar(sa.select(ApiToken)).last_used_at > first - timedelta(minutes=1)


def test_admin_revokes_a_users_tokens(app, db, client, make_user, login):
    user = make_user(Role.OBSERVER)
    token = _token(db, user)
    login(make_user(Role.ADMIN))
    page = client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{user.id}/tokens/revoke" in page
    form = confirmation(client.post(f"/admin/users/{user.id}/tokens/revoke").get_data(as_text=True))
    assert client.post(form.action, data=dict(form.fields)).status_code == 302
    assert _me(app, token).status_code == 401
    assert f"/admin/users/{user.id}/tokens/revoke" not in client.get("/admin/users").get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.OBSERVER, Role.CLIENT])
def test_only_admins_revoke_other_peoples_tokens(app, db, client, make_user, login, role):
    victim = make_user()
    token = _token(db, victim)
    login(make_user(role))
    response = client.post(f"/admin/users/{victim.id}/tokens/revoke", data={"confirmed": "yes"})
    assert response.status_code == 403
    assert _me(app, token).status_code == 200


def test_cli_lists_and_revokes_tokens(app, db, runner, make_user):
    user = make_user(email="ops@example.com")
    token = runner.invoke(args=["users", "token", "ops@example.com", "--name", "backup",
                                "--expires-days", "7"]).stdout.strip()
    other = _token(db, user, "dashboard")
    listed = runner.invoke(args=["users", "tokens", "ops@example.com", "--json"])
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"backup", "dashboard"} and rows["backup"]["state"] == "active"
    assert rows["backup"]["expires_at"] is not None and rows["dashboard"]["expires_at"] is None
    _me(app, token)
    text = runner.invoke(args=["users", "tokens", "ops@example.com"]).stdout
    assert "backup" in text and "last used 20" in text

    revoked = runner.invoke(args=["users", "revoke-token", "ops@example.com", str(rows["backup"]["id"])])
    assert revoked.exit_code == 0, revoked.output
    assert (_me(app, token).status_code, _me(app, other).status_code) == (401, 200)
    assert runner.invoke(args=["users", "revoke-token", "ops@example.com", "--all"]).exit_code == 0
    assert _me(app, other).status_code == 401
    listed = runner.invoke(args=["users", "tokens", "ops@example.com", "--all", "--json"]).stdout
    assert {row["state"] for row in json.loads(listed)} == {"revoked"}


def test_cli_refuses_someone_elses_token_id_and_needs_ids_or_all(db, runner, make_user):
    make_user(email="a@example.com")
    _token(db, make_user(email="b@example.com"))
    theirs = db.session.scalar(sa.select(ApiToken)).id
    wrong = runner.invoke(args=["users", "revoke-token", "a@example.com", str(theirs)])
    assert wrong.exit_code != 0 and f"has no token {theirs}" in wrong.output
    assert db.session.scalar(sa.select(ApiToken)).revoked_at is None
    neither = runner.invoke(args=["users", "revoke-token", "a@example.com"])
    assert neither.exit_code == 2 and "--all" in neither.output


def test_a_token_names_the_caller_even_beside_a_signed_in_browser_session(db, client, make_user, login):
    admin, rita = make_user(Role.ADMIN), make_user(Role.RESEARCHER)
    login(admin)  # the client now carries the admin's session cookie
    token = _token(db, rita, "script")
    assert client.get("/api/v1/me", headers=_bearer(token)).get_json()["id"] == rita.id
    refused = client.get("/api/v1/me", headers=_bearer("not-a-token"))
    assert refused.status_code == 401
    assert client.get("/api/v1/me").get_json()["id"] == admin.id  # the cookie alone still works
