"""Sign-in throttling, counted in the database so every worker process and server shares the counts.

Each refused sign-in is one `SignInFailure` row (the typed address hashed, the client address);
a sign-in is refused before any password is checked while the account, or the client address, has
had its limit of refusals within its window. The same statements run for unknown, deactivated and
wrong-password attempts. These functions flush, never commit (the sign-in page keeps its changes
although it answers 400, see `core.errors.keep_changes`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from usabtest.accounts.models import SignInFailure, User
from usabtest.core.audit import record
from usabtest.db import utcnow
from usabtest.extensions import db


@dataclass(frozen=True)
class SignInLimits:
    """How many refused sign-ins an account and a client address may have within their windows."""

    per_account: int
    account_seconds: int
    per_address: int
    address_seconds: int


@dataclass(frozen=True)
class Lockout:
    """A refusal to even try the password: which limit holds, and for how many more seconds."""

    scope: str  # "account" or "address"
    retry_after: int


def account_key(email: str) -> str:
    """What the throttle counts an e-mail address under (a hash: typed text is never stored)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _recent_failures(column, value: str, seconds: int, now) -> tuple[int, object]:
    count, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(SignInFailure.created_at)).where(
            column == value, SignInFailure.created_at > now - timedelta(seconds=seconds))).one()
    return count, oldest


def sign_in_lockout(key: str, address: str, limits: SignInLimits) -> tuple[Lockout | None, tuple[int, int]]:
    """The lockout in force for this account key or address (None if none), and the failure counts.

    Every sign-in asks this before any password is checked, whatever the account.
    """
    now = utcnow()
    by_account, oldest_account = _recent_failures(SignInFailure.account_key, key, limits.account_seconds, now)
    by_address, oldest_address = _recent_failures(SignInFailure.address, address, limits.address_seconds, now)
    for scope, count, limit, oldest, seconds in (
            ("account", by_account, limits.per_account, oldest_account, limits.account_seconds),
            ("address", by_address, limits.per_address, oldest_address, limits.address_seconds)):
        if count >= limit:
            # The lockout lifts when the oldest failure in the window leaves it.
            lifts = (oldest or now) + timedelta(seconds=seconds)
            retry_after = max(1, int((lifts - now).total_seconds()) + 1)
            return Lockout(scope, retry_after), (by_account, by_address)
    return None, (by_account, by_address)


def note_sign_in_failure(user: User | None, key: str, address: str, reason: str,
                         counts: tuple[int, int], limits: SignInLimits) -> None:
    """Count a refused sign-in and audit it; audit a lockout when this failure starts one.

    The same statements run whether the account is unknown, deactivated or the password wrong.
    """
    now = utcnow()
    db.session.execute(sa.delete(SignInFailure).where(SignInFailure.created_at < now - timedelta(days=1)))
    db.session.add(SignInFailure(account_key=key, address=address[:64], created_at=now))
    record(None, "user.sign_in_failed", user, {"address": address, "reason": reason})
    by_account, by_address = counts
    if by_account + 1 == limits.per_account:
        record(None, "user.sign_in_lockout", user, {"address": address, "scope": "account",
                                                    "minutes": limits.account_seconds // 60})
    if by_address + 1 == limits.per_address:
        record(None, "user.sign_in_lockout", None, {"address": address, "scope": "address",
                                                    "minutes": limits.address_seconds // 60})
    db.session.flush()
