"""The web side of signing in: the client's address, throttling settings, CSRF renewal and how long
a signed-in session lasts.

- The client address is `request.remote_addr`, after `TRUSTED_PROXIES` reverse proxies' headers are
  believed (Werkzeug's ProxyFix with that many hops of `X-Forwarded-For` and `X-Forwarded-Proto`;
  0, the default, believes none, so a client cannot forge its address).
- Refused sign-ins are counted in the database (`throttle.sign_in_lockout`), per account and per
  address, so the limits hold across every worker process and server without any other store.
- Signing in renews the CSRF secret, so a token planted before sign-in is worthless after it.
- A session ends after `SESSION_IDLE_TIMEOUT` seconds without a request (not for "keep me signed
  in", which lasts its remember cookie's two weeks), and at the latest `SESSION_ABSOLUTE_TIMEOUT`
  seconds after signing in. Both times live in the signed session cookie.
"""

from __future__ import annotations

import time

import limits
from flask import Flask, current_app, flash, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import user_loaded_from_cookie
from werkzeug.middleware.proxy_fix import ProxyFix

from usabtest.accounts.throttle import SignInLimits

SIGNED_IN_AT = "_signed_in_at"
SEEN_AT = "_seen_at"
REMEMBERED = "_remembered"
# The idle clock is written back at most this often, so not every request rewrites the cookie.
SEEN_WRITE_SECONDS = 60
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", SIGNED_IN_AT, SEEN_AT, REMEMBERED)


def sign_in_limits() -> SignInLimits:
    """The configured limits: `LOGIN_ACCOUNT_LIMIT` per account, `LOGIN_RATE_LIMIT` per address."""
    account = limits.parse(current_app.config["LOGIN_ACCOUNT_LIMIT"])
    address = limits.parse(current_app.config["LOGIN_RATE_LIMIT"])
    return SignInLimits(account.amount, account.get_expiry(), address.amount, address.get_expiry())


def throttling_enabled() -> bool:
    """False only where rate limits are switched off (`RATELIMIT_ENABLED`, for tests)."""
    return bool(current_app.config["RATELIMIT_ENABLED"])


def client_address() -> str:
    """The client's address as the trusted proxies report it."""
    return request.remote_addr or "unknown"


def renew_csrf_secret() -> None:
    """Forget the CSRF secret: the next form gets a token from a new one."""
    session.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def begin(remember: bool) -> None:
    """Start the clocks of a new sign-in (call it with `login_user`)."""
    now = int(time.time())
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now
    session[REMEMBERED] = bool(remember)


def end() -> None:
    """Forget a sign-in's clocks (call it with `logout_user`)."""
    for key in (SIGNED_IN_AT, SEEN_AT, REMEMBERED):
        session.pop(key, None)


def _check_config(app: Flask) -> None:
    proxies = app.config["TRUSTED_PROXIES"]
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        raise RuntimeError(f"USABTEST_TRUSTED_PROXIES must be a whole number of proxies (0 or more), "
                           f"not {proxies!r}")
    for key in ("LOGIN_RATE_LIMIT", "LOGIN_ACCOUNT_LIMIT"):
        try:
            limits.parse(app.config[key])
        except ValueError:
            raise RuntimeError(f"USABTEST_{key} must read like '10 per minute', "
                               f"not {app.config[key]!r}") from None
    for key in ("SESSION_IDLE_TIMEOUT", "SESSION_ABSOLUTE_TIMEOUT"):
        value = app.config[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise RuntimeError(f"USABTEST_{key} must be a number of seconds, not {value!r}")


class _TrustedProxies:
    """Believe `TRUSTED_PROXIES` hops of forwarding headers (read per request, so it can change)."""

    def __init__(self, app: Flask):
        self.app = app
        self.wsgi_app = app.wsgi_app

    def __call__(self, environ, start_response):
        hops = self.app.config["TRUSTED_PROXIES"]
        if hops:
            return ProxyFix(self.wsgi_app, x_for=hops, x_proto=hops)(environ, start_response)
        return self.wsgi_app(environ, start_response)


def _end_expired_session() -> None:
    if "_user_id" not in session:
        return
    now = int(time.time())
    config = current_app.config
    signed_in, seen = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    idle_applies = not session.get(REMEMBERED)
    expired = (not isinstance(signed_in, int) or not isinstance(seen, int)
               or now - signed_in > config["SESSION_ABSOLUTE_TIMEOUT"]
               or (idle_applies and now - seen > config["SESSION_IDLE_TIMEOUT"]))
    if expired:
        for key in _LOGIN_KEYS:
            session.pop(key, None)
        g.session_expired = True
        if not request.path.startswith("/api/"):
            flash("Your session has ended. Please sign in again.", "info")
    elif now - seen >= SEEN_WRITE_SECONDS:
        session[SEEN_AT] = now


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the cookie's signer for a request that
    sends no cookie (an API client with a bearer token: the note write's every request)."""

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Check the settings, trust the configured proxies and enforce session lifetimes."""
    _check_config(app)
    app.session_interface = _CookieSessions()
    app.wsgi_app = _TrustedProxies(app)
    app.before_request(_end_expired_session)

    @user_loaded_from_cookie.connect_via(app)
    def _remembered(_app, user) -> None:  # "keep me signed in" restored a session: a new one starts
        begin(remember=True)
