"""No lost updates: records people edit carry a version, and a save based on an old one is refused.

- A `Versioned` model names in `__versioned__` the attributes its edit form and its API PATCH
  change. Whenever one of them changes, the flush bumps `version` (`SET version = version + 1` in the
  same UPDATE). Other columns (a participant counter, a session's status moved by the console,
  timestamps, `deleted_at`) never bump it, so they never make an open form conflict.
- A user's edit calls `claim(record, based_on)` before changing anything. It is one compare-and-set
  statement, `UPDATE ... SET version = based_on + 1 WHERE id = :id AND version = :based_on`: the
  database decides atomically which of two requests based on the same version saves. PostgreSQL
  makes the second UPDATE wait for the first transaction and re-checks its WHERE clause afterwards
  (no row: refused); SQLite takes its write lock when a writing request begins, so the second
  request reads the new version. The loser gets `StaleVersion` (409) and nothing of it is saved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from usabtest.core.errors import Conflict, NotFound
from usabtest.core.models import AuditEvent
from usabtest.extensions import db

_CLAIMED = "usabtest.versions_claimed"
# The accounts domain sits above core: its table is named here only to read who saved last.
_users = sa.table("user", sa.column("id"), sa.column("name"))


class Versioned:
    """A record people edit: `version` counts the saves of its `__versioned__` attributes."""

    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Attributes a user's edit changes (columns and relationships); changing any bumps `version`.
    __versioned__: ClassVar[tuple[str, ...]] = ()
    # What the record is called in messages ("study", "task", ...).
    __noun__: ClassVar[str] = "record"


class VersionedPart:
    """Rows that belong to a versioned record (its details kept in another table)."""

    # The relationship to the record whose version a change of `__versioned__` bumps.
    __version_owner__: ClassVar[str] = ""
    __versioned__: ClassVar[tuple[str, ...]] = ()


class StaleVersion(Conflict):
    """The change was based on an old version of the record (409); the caller shows the current one."""

    def __init__(self, record: Versioned, based_on: int | None):
        self.record = record
        self.based_on = based_on
        self.current_version, self.saved_by, self.saved_at = _current(record)
        noun = type(record).__noun__
        who = f" by {self.saved_by}" if self.saved_by else ""
        since = (f"you edited version {based_on}; it is now version {self.current_version}" if based_on
                 else f"your change did not say which version it was made from; it is now version "
                      f"{self.current_version}")
        super().__init__(
            f"This {noun} was changed{who} since you opened it ({since}). Nothing was saved: compare "
            "your changes with the current values and save again.", "version")
        # Filled by the API layer: the record as its GET shows it now.
        self.current: dict[str, Any] | None = None


def _current(record: Versioned) -> tuple[int, str | None, datetime | None]:
    """The record's committed version, and who saved it last and when (from the audit trail)."""
    try:
        db.session.refresh(record)  # the other request's values, not the ones this request read
    except InvalidRequestError:
        raise NotFound(f"This {type(record).__noun__} was deleted since you opened it.") from None
    last = db.session.execute(
        sa.select(_users.c.name, AuditEvent.created_at)
        .select_from(AuditEvent).outerjoin(_users, _users.c.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == type(record).__name__, AuditEvent.object_id == record.id)
        .order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return record.version, (last.name if last else None), (last.created_at if last else None)


def parse_version(raw: Any) -> int | None:
    """A version as sent by a form ("3"), or None when missing or not a whole number."""
    text = str(raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**31 else None


def claim(record: Versioned, based_on: int | None) -> None:
    """Take the next version of `record` for this change, or raise `StaleVersion`.

    Call it before changing the record. `based_on` is the version the user's form or PATCH body
    was made from; the claim is one atomic UPDATE, so two requests based on the same version
    cannot both pass. The change is then saved with the request (or rolled back with it).
    """
    if based_on is None:
        raise StaleVersion(record, None)
    model = type(record)
    table = model.__table__
    if record.version == based_on:
        claimed = db.session.execute(
            sa.update(table).where(table.c.id == record.id, table.c.version == based_on)
            .values(version=based_on + 1)
        ).rowcount
        if claimed == 1:
            set_committed_value(record, "version", based_on + 1)
            db.session.info.setdefault(_CLAIMED, set()).add((model, record.id))
            return
    raise StaleVersion(record, based_on)


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _bump(session: Session, record: Versioned) -> None:
    """`SET version = version + 1` at this flush, unless this change claimed its version."""
    claimed = session.info.get(_CLAIMED, set())
    model = type(record)
    if record.id is None or (model, record.id) in claimed:
        return
    record.version = model.version + 1
    claimed.add((model, record.id))
    session.info[_CLAIMED] = claimed


@event.listens_for(Session, "before_flush")
def _bump_changed_records(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty):
        if isinstance(obj, Versioned) and obj.__versioned__ and _changed(obj, obj.__versioned__):
            _bump(session, obj)
        elif isinstance(obj, VersionedPart) and _changed(obj, obj.__versioned__):
            owner = getattr(obj, obj.__version_owner__)
            if owner is not None:
                _bump(session, owner)


@event.listens_for(Session, "after_transaction_end")
def _forget_claims(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CLAIMED, None)
