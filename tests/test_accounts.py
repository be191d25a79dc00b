"""Sign-in, sign-out, session revocation, CSRF, role guards and admin user pages."""

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD
from usabtest.accounts.models import Role, User
from usabtest.core.errors import Conflict
from usabtest.core.models import AuditEvent


def test_sign_in_page_has_labelled_fields(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'name="remember"' in html and "checked" not in html


def test_sign_in_and_reach_home(client, make_user, login):
    user = make_user(Role.RESEARCHER, name="Rae Search")
    login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert "Your studies" in response.get_data(as_text=True)


def test_email_is_case_insensitive(client, make_user):
    user = make_user(Role.OBSERVER, email="Mixed.Case@Example.com")
    assert user.email == "mixed.case@example.com"
    response = client.post("/login", data={"email": "MIXED.case@example.COM", "password": PASSWORD})
    assert response.status_code == 302


def test_duplicate_email_differing_in_case_is_refused(db, make_user):
    make_user(email="dup@example.com")
    with pytest.raises(Conflict, match="already exists") as refused:
        make_user(email="DUP@example.com")
    assert (refused.value.status, refused.value.field) == (409, "email")


def test_wrong_password_is_refused_with_message(client, make_user):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": "nope-nope-nope"})
    assert response.status_code == 400
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_sign_in(client, make_user):
    user = make_user(active=False)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "deactivated" in response.get_data(as_text=True)


def test_anonymous_is_redirected_to_sign_in_with_next(client):
    response = client.get("/profile")
    assert response.status_code == 302
    assert "/login?next=/profile" in response.headers["Location"]


def test_next_parameter_only_follows_local_paths(client, make_user):
    user = make_user()
    data = {"email": user.email, "password": PASSWORD}
    evil = client.post("/login?next=https://evil.example/x", data=data)
    assert evil.headers["Location"] == "/"


def test_sign_out_makes_copied_cookie_useless(app, client, make_user, login):
    user = make_user()
    login(user)
    stolen = client.get_cookie("session").value
    assert client.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/").status_code == 302


def test_password_change_revokes_other_sessions(app, client, make_user, login):
    user = make_user()
    other = login(user, on=app.test_client())
    login(user)
    response = client.post("/profile", data={
        "password-current_password": PASSWORD, "password-new_password": "a-brand-new-pass",
        "password-confirm": "a-brand-new-pass", "password-submit": "1",
    })
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert other.get("/").status_code == 302


def test_deactivation_ends_sessions(app, db, client, make_user, login):
    admin = make_user(Role.ADMIN)
    victim = make_user(Role.OBSERVER)
    victim_client = login(victim, on=app.test_client())
    login(admin)
    assert client.post(f"/admin/users/{victim.id}/active", data={"confirmed": "yes"}).status_code == 302
    assert victim_client.get("/").status_code == 302
    db.session.refresh(victim)
    assert victim.active is False


@pytest.mark.csrf
def test_post_without_csrf_token_is_rejected(client, make_user):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


@pytest.mark.config(REMEMBER_COOKIE_SECURE=True)
def test_remember_me_cookie_is_secure_httponly_lax(client, make_user):
    user = make_user()
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_remember_cookie_by_default(client, make_user):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert not any(c.startswith("remember_token") for c in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.OBSERVER, Role.CLIENT])
def test_admin_pages_are_forbidden_to_other_roles(client, make_user, login, role):
    login(make_user(role))
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users/1/active").status_code == 403


def test_each_role_gets_its_own_home(client, make_user, login):
    expectations = {
        Role.ADMIN: "Users", Role.RESEARCHER: "Your studies",
        Role.OBSERVER: "Your upcoming sessions", Role.CLIENT: "Reports",
    }
    for role, heading in expectations.items():
        login(make_user(role))
        response = client.get("/", follow_redirects=True)
        assert f"<h1>{heading}</h1>" in response.get_data(as_text=True), role
        client.post("/logout")


def test_admin_creates_client_user_with_organisation(db, client, make_user, make_org, login):
    login(make_user(Role.ADMIN))
    acme = make_org("Acme Ltd")
    page = client.get("/admin/users").get_data(as_text=True)
    assert f'<option value="{acme.id}">Acme Ltd</option>' in page
    response = client.post("/admin/users", data={
        "email": "new@client.example", "name": "New Client", "role": "client",
        "organisation": str(acme.id), "password": "long-enough-pw",
    })
    assert response.status_code == 302
    created = db.session.scalar(sa.select(User).where(User.email == "new@client.example"))
    assert created.organisation == acme
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.create"))


def test_admin_create_user_shows_form_errors(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = client.post("/admin/users", data={
        "email": "not-an-email", "name": "", "role": "client", "organisation": "",
        "password": "short",
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Invalid email address." in html
    assert "must belong to a client organisation" in html
    assert "at least 12 characters" in html


def test_admin_changes_role(db, client, make_user, login):
    login(make_user(Role.ADMIN))
    user = make_user(Role.OBSERVER)
    response = client.post(f"/admin/users/{user.id}/role", data={
        f"u{user.id}-role": "researcher", f"u{user.id}-organisation": "",
    })
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.role == Role.RESEARCHER


def test_profile_sets_time_zone(db, client, make_user, login):
    user = make_user()
    login(user)
    response = client.post("/profile", data={
        "profile-name": "Renamed", "profile-timezone": "America/New_York", "profile-submit": "1",
    })
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.name, user.timezone) == ("Renamed", "America/New_York")


@pytest.mark.ratelimit
def test_sign_in_attempts_are_rate_limited(client, make_user):
    user = make_user()
    statuses = [
        client.post("/login", data={"email": user.email, "password": "wrong-password"}).status_code
        for _ in range(11)
    ]
    assert statuses[-1] == 429


def test_error_pages_use_the_layout(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<h1>Not found</h1>" in html and 'class="site-header"' in html
