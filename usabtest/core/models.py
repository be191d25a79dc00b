"""Audit events, the outbox of mail to send, and the record of every delivery attempt."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from usabtest.db import BigIntId, UTCDateTime, str_enum, utcnow
from usabtest.extensions import db


class AuditEvent(db.Model):
    """Who did what to which object, and when."""

    # The audit log page filters by object and lists newest first; erasure finds a person's events.
    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class MailStatus(enum.StrEnum):
    """Delivery state of an outgoing mail."""

    SENT = "sent"
    FAILED = "failed"


class MailDelivery(db.Model):
    """One attempt to send one mail; failures are shown to the researcher."""

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("study.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("study_session.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    purpose: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[MailStatus] = mapped_column(str_enum(MailStatus, "mail_status"))
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxStatus(enum.StrEnum):
    """Where a message of the outbox stands."""

    PENDING = "pending"  # waiting for its first or next attempt
    SENT = "sent"
    FAILED = "failed"  # given up: refused for good, or still failing after every retry


class OutboxMail(db.Model):
    """A message to send, written in the same transaction as the change that causes it.

    Workers claim a message by setting `locked_until` (compare-and-set), so several may run at
    once; a worker killed mid-way leaves a claim that expires and the message is tried again.
    """

    __tablename__ = "outbox_mail"
    __table_args__ = (sa.Index("ix_outbox_mail_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(sa.String(40))
    study_id: Mapped[int | None] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("study_session.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(sa.String(300))
    message: Mapped[str] = mapped_column(sa.Text)  # the whole RFC 5322 message, headers included
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus, "outbox_status"),
                                                 default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerBeat(db.Model):
    """When each mail worker last looked at the outbox (`/readyz` checks that one did lately)."""

    __tablename__ = "worker_beat"

    name: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
