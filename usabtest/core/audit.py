"""The audit trail: one row per significant change, added to the caller's transaction; and its search.

Admins read it on the audit log page (`/admin/audit`), filtered by who, what, when and which object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from usabtest.core.models import AuditEvent
from usabtest.extensions import db


def record(actor, action: str, obj: Any = None, details: dict[str, Any] | None = None) -> None:
    """Add an audit event for `actor` doing `action` to `obj` (flushed with the caller's work)."""
    actor_id = getattr(actor, "id", None) if actor is not None else None
    if obj is not None and getattr(obj, "id", None) is None:
        db.session.flush()
    db.session.add(
        AuditEvent(
            actor_id=actor_id if getattr(actor, "is_authenticated", True) else None,
            action=action,
            object_type=type(obj).__name__ if obj is not None else "",
            object_id=getattr(obj, "id", None),
            details=details or {},
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log page narrows the trail to; None leaves a criterion out.

    `action` is an exact action ("participant.erase") or a family ending in a dot ("participant.");
    `since` and `until` are UTC instants, `until` excluded.
    """

    actor_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def search(wanted: AuditFilter) -> sa.Select:
    """The audit events matching `wanted`, newest first (paginate it in SQL)."""
    query = sa.select(AuditEvent)
    if wanted.actor_id is not None:
        query = query.where(AuditEvent.actor_id == wanted.actor_id)
    if wanted.action:
        if wanted.action.endswith("."):
            query = query.where(AuditEvent.action.startswith(wanted.action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == wanted.action)
    if wanted.object_type:
        query = query.where(AuditEvent.object_type == wanted.object_type)
    if wanted.object_id is not None:
        query = query.where(AuditEvent.object_id == wanted.object_id)
    if wanted.since is not None:
        query = query.where(AuditEvent.created_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEvent.created_at < wanted.until)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def recorded_actions() -> list[str]:
    """Every action the trail holds, sorted (the filter's choices)."""
    return list(db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def recorded_object_types() -> list[str]:
    """Every object type the trail names, sorted."""
    return list(db.session.scalars(sa.select(AuditEvent.object_type).distinct()
                                   .where(AuditEvent.object_type != "").order_by(AuditEvent.object_type)))
