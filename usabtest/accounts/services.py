"""Account operations: passwords, users, API tokens, session revocation. They flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from usabtest.accounts.models import ApiToken, Organisation, Role, User
from usabtest.core.audit import record
from usabtest.core.errors import Conflict, InvalidInput
from usabtest.db import utcnow
from usabtest.extensions import db

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


@cache
def _dummy_hash() -> str:
    """A real hash to verify against when the email is unknown, so sign-in timing stays uniform.

    Made on first use: hashing costs a noticeable fraction of a second at every start-up otherwise.
    """
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Argon2id hash of `password`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", "password")
    return _hasher.hash(password)


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


def organisation_key(name: str) -> str:
    """The form of an organisation name two spellings of it share: case folded, spaces collapsed.

    Folded here in Python (NFKC, then `casefold`): SQL lower() folds only ASCII letters on SQLite
    and in PostgreSQL's C locale, so "ärzte" and "Ärzte" would otherwise stay two organisations.
    """
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def get_or_create_organisation(name: str) -> Organisation:
    """The organisation called `name` (ignoring case and surrounding spaces), created when missing."""
    name = " ".join(name.split())
    key = organisation_key(name)
    org = db.session.scalar(sa.select(Organisation).where(Organisation.name == name)) or next(
        (o for o in db.session.scalars(sa.select(Organisation)) if organisation_key(o.name) == key), None
    )
    if org is None:
        org = Organisation(name=name)
        db.session.add(org)
        db.session.flush()
    return org


def create_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    organisation: Organisation | None = None,
    actor: User | None = None,
) -> User:
    """Create a user; clients must belong to an organisation, other roles must not."""
    role = Role(role)
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


def change_password(user: User, new_password: str, actor: User | None = None) -> None:
    """Set a new password and sign the user out everywhere else."""
    user.password_hash = hash_password(new_password)
    revoke_sessions(user)
    record(actor or user, "user.password_change", user)


def set_active(user: User, active: bool, actor: User | None) -> None:
    """Activate or deactivate; deactivation ends sessions and disables tokens."""
    user.active = active
    if not active:
        revoke_sessions(user)
    record(actor, "user.activate" if active else "user.deactivate", user)


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


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, label: str = "") -> str:
    """Create a personal API token and return it; only its hash is kept."""
    token = "ut_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=_token_digest(token), label=label))
    db.session.flush()
    record(user, "token.issue", user, {"label": label})
    return token


def user_for_token(token: str) -> User | None:
    """The active user owning an unrevoked `token`, or None."""
    api_token = db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if api_token is None or not api_token.user.active:
        return None
    return api_token.user


def load_session_user(session_id: str) -> User | None:
    """Resolve Flask-Login's "id:version" identity; stale versions resolve to nobody."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or not user.active:
        return None
    return user


def note_sign_in(user: User) -> None:
    """Remember when the user last signed in."""
    user.last_login_at = utcnow()
    record(user, "user.sign_in", user)
