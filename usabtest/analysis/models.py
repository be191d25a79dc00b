"""Findings distilled from notes, with their evidence."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from usabtest.core.versioning import Versioned
from usabtest.db import TimestampMixin, UTCDateTime
from usabtest.extensions import db

if TYPE_CHECKING:
    from usabtest.observe.models import Note
    from usabtest.planning.models import Study, Task

finding_note = sa.Table(
    "finding_note",
    db.metadata,
    sa.Column("finding_id", sa.ForeignKey("finding.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("note_id", sa.ForeignKey("note.id", ondelete="CASCADE"), primary_key=True),
)

finding_task = sa.Table(
    "finding_task",
    db.metadata,
    sa.Column("finding_id", sa.ForeignKey("finding.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("task_id", sa.ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
)

SEVERITY_LABELS = {
    0: "Not a problem",
    1: "Cosmetic",
    2: "Minor",
    3: "Major",
    4: "Catastrophe",
}
# What each step of Nielsen's scale means, printed as the report's severity legend.
SEVERITY_DEFINITIONS = {
    0: "Not a usability problem at all.",
    1: "Cosmetic problem: fix only if extra time is available.",
    2: "Minor problem: fixing it has low priority.",
    3: "Major problem: important to fix, high priority.",
    4: "Usability catastrophe: must be fixed before the product is released.",
}
# A recommendation's priority and the effort it takes to carry out: both optional ("" is not rated).
PRIORITY_LABELS = {"high": "High", "medium": "Medium", "low": "Low"}
EFFORT_LABELS = {"small": "Small", "medium": "Medium", "large": "Large"}


class Finding(Versioned, TimestampMixin, db.Model):
    """A usability problem (or strength) backed by notes, rated on Nielsen's 0-4 scale."""

    __noun__ = "finding"
    # Evidence notes, screenshots and the hand-made order are not part of the edit form.
    __versioned__ = ("title", "description", "severity", "recommendation", "priority", "effort", "positive",
                     "tasks")

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    severity: Mapped[int] = mapped_column(default=2)
    recommendation: Mapped[str] = mapped_column(sa.Text, default="")
    # The recommendation's priority and effort (PRIORITY_LABELS, EFFORT_LABELS keys; "" = not rated).
    priority: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")
    effort: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")
    # Something that worked well: reported under "What worked well", not ranked among the problems.
    positive: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Hand-chosen order; None means "rank by severity then frequency".
    position: Mapped[int | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    # Set while the finding is in Recently deleted (with its screenshots and evidence links);
    # `usabtest purge-deleted` removes it for good 30 days later.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    study: Mapped[Study] = relationship()
    notes: Mapped[list[Note]] = relationship(secondary=finding_note)
    tasks: Mapped[list[Task]] = relationship(secondary=finding_task)
    screenshots: Mapped[list[Screenshot]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="Screenshot.id"
    )

    __table_args__ = (
        sa.CheckConstraint("severity BETWEEN 0 AND 4", name="severity_range"),
        sa.CheckConstraint("priority IN ('', 'high', 'medium', 'low')", name="priority_known"),
        sa.CheckConstraint("effort IN ('', 'small', 'medium', 'large')", name="effort_known"),
    )

    @property
    def severity_label(self) -> str:
        """Nielsen's label for the severity."""
        return SEVERITY_LABELS[self.severity]

    @property
    def priority_label(self) -> str:
        """"High", "Medium", "Low", or empty when not rated."""
        return PRIORITY_LABELS.get(self.priority or "", "")

    @property
    def effort_label(self) -> str:
        """"Small", "Medium", "Large", or empty when not rated."""
        return EFFORT_LABELS.get(self.effort or "", "")


class Screenshot(TimestampMixin, db.Model):
    """An image attached to a finding as evidence; verified with Pillow before it is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        sa.ForeignKey("finding.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(50))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    caption: Mapped[str] = mapped_column(sa.String(500), default="")
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)

    finding: Mapped[Finding] = relationship(back_populates="screenshots")
