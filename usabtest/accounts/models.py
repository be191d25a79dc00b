"""People and organisations: users with one role, client organisations, personal API tokens."""

from __future__ import annotations

import enum
import unicodedata
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from usabtest.db import BigIntId, TimestampMixin, UTCDateTime, str_enum, utcnow
from usabtest.extensions import db


class Role(enum.StrEnum):
    """What a user may do; enforced by `usabtest.policy`."""

    ADMIN = "admin"
    RESEARCHER = "researcher"
    OBSERVER = "observer"
    CLIENT = "client"

    @property
    def label(self) -> str:
        """Human-readable role name."""
        return self.value.capitalize()


def organisation_key(name: str) -> str:
    """The form two spellings of one organisation's name share: spaces collapsed, case folded.

    Folded here in Python (NFKC, then `casefold`): SQL lower() folds only ASCII letters on SQLite
    and in PostgreSQL's C locale, so "ärzte" and "Ärzte" would otherwise stay two organisations.
    """
    return unicodedata.normalize("NFKC", tidy_name(name)).casefold()


def tidy_name(name: str) -> str:
    """`name` without surrounding spaces, inner runs of spaces made one."""
    return " ".join(name.split())


class Organisation(TimestampMixin, db.Model):
    """A client organisation; its client users see its published reports.

    `name_key` is unique, so two spellings of one name (case, spaces) can never both be stored,
    even when two people create the organisation at the same moment.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    name_key: Mapped[str] = mapped_column(sa.String(200), index=True, unique=True)
    # Who created it: researchers see the organisations they created (usabtest.policy). No foreign
    # key: user already refers to organisation, and a cycle between the two tables would need ALTER
    # statements SQLite does not have. Users are deactivated, never deleted, so the id stays good.
    created_by_id: Mapped[int | None] = mapped_column(index=True)

    users: Mapped[list[User]] = relationship(back_populates="organisation",
                                             foreign_keys="User.organisation_id")
    created_by: Mapped[User | None] = relationship(
        primaryjoin="foreign(Organisation.created_by_id) == User.id")

    @validates("name")
    def _tidy_name(self, _key: str, value: str) -> str:
        value = tidy_name(value)
        self.name_key = organisation_key(value)
        return value

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name!r}>"

    def __str__(self) -> str:
        return self.name


class User(UserMixin, TimestampMixin, db.Model):
    """A person who signs in. Email is stored lower-cased, which makes it unique case-insensitively."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on sign-out, password change and deactivation: old session cookies stop matching.
    session_version: Mapped[int] = mapped_column(default=1)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    # Secret in the private calendar feed URL; None when the user has revoked it.
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation | None] = relationship(back_populates="users",
                                                             foreign_keys=[organisation_id])
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """Session identity: id plus version, so bumping the version revokes old cookies."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role) -> bool:
        """True when the user holds one of `roles`."""
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(TimestampMixin, db.Model):
    """A named personal API token. Only its SHA-256 is stored; the token itself is shown once.

    `last_used_at` is written at most once a minute per token (`TOKEN_USE_WRITE_SECONDS`), so
    API requests stay reads.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    def revoke(self) -> None:
        """Stop the token from authenticating."""
        if self.revoked_at is None:
            self.revoked_at = utcnow()

    def expired(self, now: datetime | None = None) -> bool:
        """True once its expiry has passed."""
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    @property
    def state(self) -> str:
        """"active", "expired" or "revoked"."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired() else "active"


class SignInFailure(db.Model):
    """One refused sign-in, counted by every worker and server alike to throttle guessing.

    `account_key` is the SHA-256 of the address typed (known or not), so what someone typed into
    the e-mail field is never stored; rows older than a day are deleted as new ones come.
    """

    __table_args__ = (
        sa.Index("ix_sign_in_failure_account_key_created_at", "account_key", "created_at"),
        sa.Index("ix_sign_in_failure_address_created_at", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    account_key: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
