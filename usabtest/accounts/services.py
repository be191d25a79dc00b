"""Account operations: passwords, users, API tokens, session revocation. They flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from usabtest.accounts.models import ApiToken, Organisation, Role, User, organisation_key, tidy_name
from usabtest.core.audit import record
from usabtest.core.errors import Conflict, InvalidInput, NotFound
from usabtest.core.mail import send_mail
from usabtest.core.models import AuditEvent
from usabtest.db import utcnow
from usabtest.extensions import db

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
# zxcvbn's guessability score (0 to 4) a new password needs: 3 is "safely unguessable" offline.
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input; judging the beginning only can make a long password look weaker, never
# stronger than it is.
_ESTIMATED_LENGTH = 72


@cache
def _dummy_hash() -> str:
    """A real hash to verify against when the email is unknown, so sign-in timing stays uniform.

    Made on first use: hashing costs a noticeable fraction of a second at every start-up otherwise.
    """
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Argon2id hash of `password` (callers setting a person's password check it first)."""
    return _hasher.hash(password)


def _personal_words(email: str, name: str) -> list[str]:
    local, _, domain = email.strip().lower().partition("@")
    words = [email.strip().lower(), local, *local.replace("_", ".").replace("-", ".").split("."),
             *domain.split("."), *name.lower().split(), "usabtest"]
    return [word for word in dict.fromkeys(words) if len(word) > 1]


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why `password` is too weak to set (None when it is fine): length, then zxcvbn's estimate.

    The person's e-mail address and name count as words an attacker would try first.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    from zxcvbn import zxcvbn  # its word lists load on the first password set, not at start-up

    estimate = zxcvbn(password[:_ESTIMATED_LENGTH], user_inputs=_personal_words(email, name))
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = estimate["feedback"]
    advice = [feedback.get("warning") or "", *feedback.get("suggestions", [])]
    if not any(advice):
        advice = ["Add another word or two. Uncommon words are better."]
    return " ".join(["This password is too easy to guess.", *(line for line in advice if line)])


def check_new_password(password: str, *, email: str, name: str, user: User | None = None,
                       field: str = "password") -> None:
    """Refuse (InvalidInput on `field`) a weak password, or `user`'s current one."""
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise InvalidInput(problem, field)
    if user is not None and _matches(user.password_hash, password):
        raise InvalidInput("Choose a password different from your current one.", field)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(user: User | None, password: str) -> bool:
    """True when `password` matches; rehashes transparently when parameters changed."""
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def find_user_by_email(email: str) -> User | None:
    """The user with this email, compared case-insensitively."""
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


MAX_ORGANISATION_NAME = 200


class DuplicateOrganisation(Conflict):
    """An organisation with the same name (ignoring case and spaces) exists already (409)."""

    def __init__(self, existing: Organisation):
        super().__init__(f"An organisation called “{existing.name}” already exists.", "name")
        self.existing = existing


def find_organisation(name: str) -> Organisation | None:
    """The organisation whose name matches `name` ignoring case and surrounding spaces."""
    return db.session.scalar(sa.select(Organisation).where(Organisation.name_key == organisation_key(name)))


def create_organisation(name: str, actor: User | None = None) -> Organisation:
    """A new client organisation; refused when another spelling of its name exists.

    The unique name key settles a race: of two people creating one name at the same moment, the
    second one's insert fails and is answered as the duplicate it is.
    """
    name = tidy_name(name)
    if not name:
        raise InvalidInput("Give the organisation's name.", "name")
    if len(name) > MAX_ORGANISATION_NAME:
        raise InvalidInput(f"At most {MAX_ORGANISATION_NAME} characters.", "name")
    existing = find_organisation(name)
    if existing is not None:
        raise DuplicateOrganisation(existing)
    org = Organisation(name=name, created_by=actor)
    try:
        with db.session.begin_nested():
            db.session.add(org)
    except sa.exc.IntegrityError:
        existing = find_organisation(name)
        if existing is None:
            raise
        raise DuplicateOrganisation(existing) from None
    record(actor, "organisation.create", org, {"name": org.name})
    return org


def rename_organisation(org: Organisation, name: str, actor: User | None) -> None:
    """Correct an organisation's name; another organisation's spelling of it is refused."""
    name = tidy_name(name)
    if not name:
        raise InvalidInput("Give the organisation's name.", "name")
    existing = find_organisation(name)
    if existing is not None and existing.id != org.id:
        raise DuplicateOrganisation(existing)
    old = org.name
    org.name = name
    record(actor, "organisation.rename", org, {"from": old, "to": org.name})


def add_client_user(org: Organisation, user: User, actor: User | None) -> Organisation | None:
    """Make `user` (a client) a member of `org`; returns the organisation they leave, if any."""
    if user.role != Role.CLIENT:
        raise InvalidInput(f"{user.email} is not a client user: only client users belong to an "
                           "organisation.", "user")
    if user.organisation_id == org.id:
        raise Conflict(f"{user.email} already belongs to {org.name}.", "user")
    previous = user.organisation
    user.organisation = org
    record(actor, "organisation.add_client", org, {"user": user.email,
                                                   "from": previous.name if previous else None})
    return previous


def remove_client_user(org: Organisation, user: User, actor: User | None) -> None:
    """Take `user` out of `org`: they stop seeing its reports at once and keep their account."""
    if user.organisation_id != org.id:
        raise Conflict(f"{user.email} does not belong to {org.name}.", "user")
    user.organisation = None
    record(actor, "organisation.remove_client", org, {"user": user.email})


def get_or_create_organisation(name: str, actor: User | None = None) -> Organisation:
    """The organisation called `name` (ignoring case and surrounding spaces), created when missing.

    For the command line and the demo, which name organisations; pages and the API create them
    explicitly with `create_organisation`, which refuses a second spelling of an existing name.
    """
    try:
        return create_organisation(name, actor)
    except DuplicateOrganisation as exc:
        return exc.existing


def create_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    organisation: Organisation | None = None,
    actor: User | None = None,
    check_password_strength: bool = True,
) -> User:
    """Create a user; clients must belong to an organisation, other roles must not.

    The password must pass `check_new_password`; only data builders (demo, tests) skip that.
    """
    role = Role(role)
    if check_password_strength:
        check_new_password(password, email=email, name=name)
    if find_user_by_email(email) is not None:
        raise Conflict(f"A user with email {email.strip().lower()} already exists.", "email")
    if role == Role.CLIENT and organisation is None:
        raise InvalidInput("A client user must belong to a client organisation.", "organisation")
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        organisation=organisation if role == Role.CLIENT else None,
    )
    db.session.add(user)
    db.session.flush()
    record(actor, "user.create", user, {"email": user.email, "role": role.value})
    return user


def revoke_sessions(user: User) -> None:
    """Make every existing session and remember-me cookie of `user` useless."""
    user.session_version += 1


def change_password(user: User, new_password: str, actor: User | None = None, *,
                    field: str = "password", how: str = "profile") -> None:
    """Set a new password (checked: strong, not the current one), sign the user out everywhere else
    and revoke their API tokens; audited with `how` it was changed (profile, reset link)."""
    check_new_password(new_password, email=user.email, name=user.name, user=user, field=field)
    user.password_hash = hash_password(new_password)
    revoke_sessions(user)
    record(actor or user, "user.password_change", user, {"how": how})
    revoke_all_tokens(user, actor or user, "password change")


# --- password reset by e-mail ----------------------------------------------------------------------

RESET_LINK_SECONDS = 3600
RESET_MAILS_PER_HOUR = 3  # per account: a stranger cannot flood someone's mailbox
_RESET_SALT = "usabtest.password-reset"


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_RESET_SALT)


def _password_fingerprint(password_hash: str) -> str:
    # Binds a reset link to the password it replaces: once that changes, the link is spent.
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def reset_token(user: User) -> str:
    """A signed link token for `user`: valid for an hour and until their password changes."""
    return _reset_serializer().dumps([user.id, _password_fingerprint(user.password_hash)])


def user_for_reset_token(token: str) -> User | None:
    """The active user a reset token was made for, if it is unexpired and unspent; else None."""
    try:
        user_id, fingerprint = _reset_serializer().loads(token, max_age=RESET_LINK_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) and 1 <= user_id < 2**31 else None
    if user is None or not user.active:
        return None
    if not secrets.compare_digest(str(fingerprint), _password_fingerprint(user.password_hash)):
        return None
    return user


def request_password_reset(email: str, link_for: Callable[[str], str]) -> None:
    """Mail a reset link (`link_for(token)`) to the active account using `email`, if there is one.

    Known, unknown and deactivated addresses do the same work (one look-up, one count, one signed
    token, one audit row), so neither the answer nor its timing tells them apart; mail is sent after
    the request commits, by a background thread.
    """
    user = find_user_by_email(email)
    since = utcnow() - timedelta(hours=1)
    recent = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "user.password_reset_request", AuditEvent.object_type == "User",
        AuditEvent.object_id == (user.id if user else 0), AuditEvent.created_at >= since)) or 0
    token = reset_token(user) if user is not None else _reset_serializer().dumps([0, "-"])
    sent = False
    if user is not None and user.active and recent < RESET_MAILS_PER_HOUR:
        sent = send_mail(_reset_message(user, link_for(token)), purpose="password_reset")
    record(None, "user.password_reset_request", user, {"mailed": sent})


def _reset_message(user: User, link: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = user.email
    message["Subject"] = "Reset your usabtest password"
    minutes = RESET_LINK_SECONDS // 60
    message.set_content(
        "Hello,\n\nSomeone (we hope you) asked to reset the password of your usabtest account "
        f"{user.email}. Choose a new password here:\n\n{link}\n\n"
        f"The link works once, within {minutes} minutes. If you did not ask for it, ignore this mail: "
        "your password stays as it is.\n")
    return message


def sign_out_everywhere(user: User) -> int:
    """End every session of `user` and revoke all their API tokens; returns how many tokens."""
    revoke_sessions(user)
    record(user, "user.sign_out_everywhere", user)
    return revoke_all_tokens(user, user, "sign out everywhere")


def set_active(user: User, active: bool, actor: User | None) -> None:
    """Activate or deactivate; deactivation ends sessions and disables tokens."""
    user.active = active
    if not active:
        revoke_sessions(user)
    record(actor, "user.activate" if active else "user.deactivate", user)


def live_token_count(user: User) -> int:
    """How many of the user's API tokens still work (neither revoked nor expired)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()))) or 0


def live_token_counts() -> dict[int, int]:
    """User id → how many of their API tokens still work, for users who have any."""
    rows = db.session.execute(sa.select(ApiToken.user_id, sa.func.count()).where(
        ApiToken.revoked_at.is_(None),
        sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow())).group_by(ApiToken.user_id))
    return {user_id: count for user_id, count in rows}


def set_role(
    user: User, role: Role, organisation: Organisation | None, actor: User | None
) -> None:
    """Change a user's role (a client needs an organisation); ends their sessions."""
    if role == Role.CLIENT and organisation is None:
        raise InvalidInput("A client user must belong to a client organisation.", "organisation")
    old = user.role
    user.role = role
    user.organisation = organisation if role == Role.CLIENT else None
    revoke_sessions(user)
    record(actor, "user.role_change", user, {"from": old.value, "to": role.value})


MAX_TOKEN_LABEL = 100
# A token's last use is written at most this often, so API requests stay reads.
TOKEN_USE_WRITE_SECONDS = 60
TOKEN_PREFIX = "ut_"


class TokenRefused(Exception):
    """A bearer token that does not authenticate, with the reason the API gives."""


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, label: str = "", *, expires_in_days: int | None = None,
                actor: User | None = None) -> str:
    """Create a personal API token and return it; only its hash is kept.

    `expires_in_days`: the token stops working that many days from now (None: never).
    """
    label = tidy_name(label)
    if len(label) > MAX_TOKEN_LABEL:
        raise InvalidInput(f"A token's name has at most {MAX_TOKEN_LABEL} characters.", "name")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("A token expires after 1 to 3650 days, or never.", "expires")
    if not user.active:
        raise Conflict(f"{user.email} is deactivated: a token would not work.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    api_token = ApiToken(user=user, token_hash=_token_digest(token), label=label, expires_at=expires_at)
    db.session.add(api_token)
    db.session.flush()
    record(actor or user, "token.issue", user, {"token_id": api_token.id, "label": label,
                                               "expires_at": expires_at.isoformat() if expires_at else None})
    return token


def tokens_of(user: User, *, include_revoked: bool = False) -> list[ApiToken]:
    """The user's tokens, newest first (revoked ones only when asked)."""
    query = sa.select(ApiToken).where(ApiToken.user_id == user.id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(db.session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def find_token(user: User, token_id: int) -> ApiToken:
    """One of the user's tokens by id; NotFound when it is not theirs."""
    api_token = db.session.get(ApiToken, token_id) if 1 <= token_id <= 2**31 - 1 else None
    if api_token is None or api_token.user_id != user.id:
        raise NotFound(f"{user.email} has no token {token_id}.")
    return api_token


def revoke_token(api_token: ApiToken, actor: User | None) -> bool:
    """Stop one token at once; False when it was revoked already."""
    if api_token.revoked_at is not None:
        return False
    api_token.revoke()
    record(actor, "token.revoke", api_token.user, {"token_id": api_token.id, "label": api_token.label})
    return True


def revoke_all_tokens(user: User, actor: User | None, reason: str) -> int:
    """Revoke every token of `user` that is not revoked yet; returns how many (audited with `reason`)."""
    now = utcnow()
    count = db.session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session="fetch")
    ).rowcount
    if count:
        record(actor, "token.revoke_all", user, {"count": count, "reason": reason})
    return count


def user_for_token(token: str) -> User:
    """The active user owning `token`; `TokenRefused` (with the reason) for any other token.

    Notes the token's use at most once every `TOKEN_USE_WRITE_SECONDS`, inside a savepoint: a
    read-only request then writes one row a minute, and a busy database never fails the request.
    The user is the one object loaded; the token's dates come as plain columns of the same query
    (every API request starts here, and a second mapped object costs more than the query).
    """
    found = db.session.execute(_USER_OF_TOKEN, {"digest": _token_digest(token)}).first()
    if found is None:
        raise TokenRefused("unknown token")
    user, token_id, revoked_at, expires_at, last_used_at = found
    accept_token(token_id, revoked_at, expires_at, user.active, last_used_at)
    return user


def token_digest(token: str) -> str:
    """What is stored of a token (`ApiToken.token_hash`), for queries that find its holder."""
    return _token_digest(token)


def accept_token(token_id: int, revoked_at, expires_at, active: bool, last_used_at) -> None:
    """`TokenRefused` unless the token (its columns, read by the caller) authenticates; notes its use.

    `user_for_token` asks this, and so does a hot path that reads the token in its own query.
    """
    if revoked_at is not None:
        raise TokenRefused("this token has been revoked")
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise TokenRefused("this token has expired")
    if not active:
        raise TokenRefused("this token's account is deactivated")
    if last_used_at is None or now - last_used_at >= timedelta(seconds=TOKEN_USE_WRITE_SECONDS):
        _note_token_use(token_id, now)


# Built once: putting a statement together costs about as much as running it.
_USER_OF_TOKEN = (
    sa.select(User, ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == sa.bindparam("digest")))


def _note_token_use(token_id: int, now) -> None:
    cutoff = now - timedelta(seconds=TOKEN_USE_WRITE_SECONDS)
    try:
        with db.session.begin_nested():
            db.session.execute(
                sa.update(ApiToken).where(
                    ApiToken.id == token_id,
                    sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < cutoff),
                ).values(last_used_at=now).execution_options(synchronize_session=False))
    except sa.exc.OperationalError:  # locked by another writer: the next use writes it
        return


def load_session_user(session_id: str) -> User | None:
    """Resolve Flask-Login's "id:version" identity; stale versions resolve to nobody."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or not user.active:
        return None
    return user


def note_sign_in(user: User, address: str = "") -> None:
    """Remember when the user last signed in (and from which client address, in the audit log)."""
    user.last_login_at = utcnow()
    record(user, "user.sign_in", user, {"address": address} if address else None)
