"""API models of the analysis domain: findings, read and edited like their page form."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from usabtest.analysis import models
from usabtest.core.schemas import (
    VERSION_OUT,
    Id,
    OutputModel,
    UtcDateTime,
    VersionedChange,
    stale_edit_error,
    text,
)

MAX_TASKS = 500

Severity = Annotated[int, Field(ge=0, le=4,
                                description="Nielsen's scale: 0 (not a problem) to 4 (catastrophe)")]


Priority = Annotated[Literal["", "high", "medium", "low"], Field(
    description="The recommendation's priority: high, medium or low (\"\" when not rated)")]
Effort = Annotated[Literal["", "small", "medium", "large"], Field(
    description="The effort the recommendation takes: small, medium or large (\"\" when not rated)")]


class Finding(OutputModel):
    """A finding of a study: its text, severity, affected tasks and how much evidence backs it."""

    id: int
    version: int = Field(description=VERSION_OUT + " (linking evidence or reordering is not an edit of it)")
    study_id: int
    title: str
    severity: Severity
    severity_label: str
    description: str
    recommendation: str
    priority: Priority
    effort: Effort
    positive: bool = Field(description="Something that worked well, reported under \"What worked well\"")
    task_ids: list[int] = Field(description="The affected tasks of the study")
    evidence_notes: int = Field(description="Notes linked as evidence")
    screenshots: int
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def of(cls, finding: models.Finding, screenshots: int) -> Finding:
        """`finding` for the API, with its number of `screenshots` (counted without loading them)."""
        return cls(
            id=finding.id, version=finding.version, study_id=finding.study_id, title=finding.title,
            severity=finding.severity, severity_label=finding.severity_label,
            description=finding.description, recommendation=finding.recommendation,
            priority=finding.priority or "", effort=finding.effort or "", positive=finding.positive,
            task_ids=sorted(task.id for task in finding.tasks), evidence_notes=len(finding.notes),
            screenshots=screenshots, created_at=finding.created_at, updated_at=finding.updated_at,
        )


class FindingList(OutputModel):
    """A study's findings, in the report's reading order."""

    items: list[Finding]


class FindingUpdate(VersionedChange):
    """Changes to a finding, with the `version` they were based on; fields left out keep their value."""

    title: text(300, min_length=1) = None  # type: ignore[valid-type]
    severity: Severity = None
    description: text(20_000, multiline=True) = None  # type: ignore[valid-type]
    recommendation: text(20_000, multiline=True) = None  # type: ignore[valid-type]
    priority: Priority = None
    effort: Effort = None
    positive: bool | None = None
    task_ids: list[Id] = Field(None, max_length=MAX_TASKS,
                               description="Every affected task (replaces the list)")


FindingConflict = stale_edit_error("FindingConflict", Finding)
