"""Audit events and the record of every mail the application tried to send."""

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

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
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
