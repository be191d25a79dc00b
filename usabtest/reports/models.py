"""Published report versions and the share links that expose one version."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from usabtest.core.versioning import Versioned
from usabtest.db import TimestampMixin, UTCDateTime, utcnow
from usabtest.extensions import db
from usabtest.reports import narrative

if TYPE_CHECKING:
    from usabtest.accounts.models import User
    from usabtest.planning.models import Study


def _text() -> Mapped[str]:
    return mapped_column(sa.Text, default="")


class ReportNarrative(Versioned, TimestampMixin, db.Model):
    """The texts researchers write for a study's report (Markdown), one row per study.

    A study has no row until its texts are first saved; until then every text is empty.
    """

    __tablename__ = "report_narrative"
    __noun__ = "report text"
    __versioned__ = narrative.NAMES

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), unique=True)
    executive_summary: Mapped[str] = _text()
    product_description: Mapped[str] = _text()
    test_objectives: Mapped[str] = _text()
    participant_selection: Mapped[str] = _text()
    environment_facility: Mapped[str] = _text()
    environment_devices: Mapped[str] = _text()
    environment_software: Mapped[str] = _text()
    procedure: Mapped[str] = _text()
    participant_instructions: Mapped[str] = _text()
    administrator_tools: Mapped[str] = _text()
    contact_details: Mapped[str] = _text()
    next_steps: Mapped[str] = _text()

    study: Mapped[Study] = relationship()

    def texts(self) -> dict[str, str]:
        """Every text by field name."""
        return {name: getattr(self, name) or "" for name in narrative.NAMES}


class PublishedReport(db.Model):
    """A frozen, numbered PDF of a study's report. Never changed after publishing."""

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(sa.ForeignKey("study.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column()
    # Loaded only when downloaded: listings of versions never pull the PDFs.
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    # The report as published (`reports.snapshot`), so the HTML view, DOCX and PPTX of this version
    # show what its PDF shows. Versions published before it was kept have only their PDF.
    document: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    page_size: Mapped[str] = mapped_column(sa.String(10), default="A4")
    change_note: Mapped[str] = mapped_column(sa.Text, default="")
    # What the pre-publish check found missing or worrying when it was published, and why the
    # researcher published anyway (required by the pages and the CLI when anything was found).
    gaps: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    gap_reason: Mapped[str] = mapped_column(sa.Text, default="")
    # A withdrawn version is kept (researchers, the audit log) but no client sees it any more and
    # its share links stop working.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No foreign key (SQLite adds none to an existing table); a deleted user leaves the id behind.
    withdrawn_by_id: Mapped[int | None] = mapped_column()
    withdraw_reason: Mapped[str] = mapped_column(sa.Text, default="")
    published_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    study: Mapped[Study] = relationship()
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
    withdrawn_by: Mapped[User | None] = relationship(
        primaryjoin="foreign(PublishedReport.withdrawn_by_id) == User.id")

    # Whether the snapshot exists, without loading it (listings show the other formats' links).
    has_document: Mapped[bool] = column_property(document.column.is_not(None))

    @property
    def withdrawn(self) -> bool:
        """True once the version has been withdrawn from the client."""
        return self.withdrawn_at is not None

    __table_args__ = (sa.UniqueConstraint("study_id", "version"),)


class ShareLink(db.Model):
    """A revocable, expiring link to one published version for clients without an account."""

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        sa.ForeignKey("published_report.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[PublishedReport] = relationship()
