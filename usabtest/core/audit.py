"""The audit trail: one row per significant change, added to the caller's transaction."""

from __future__ import annotations

from typing import Any

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
