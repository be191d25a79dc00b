"""API models of the reports domain: the texts researchers write for a study's report."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from usabtest.core.schemas import VERSION_OUT, OutputModel, VersionedChange, stale_edit_error, text
from usabtest.reports import narrative
from usabtest.reports.models import ReportNarrative

NarrativeText = text(narrative.MAX_LENGTH, multiline=True)
MARKDOWN = (" Markdown: paragraphs, lists, *emphasis*, **strong** and links (http, https, mailto); raw HTML "
            "is kept as text.")
_HINTS = {field.name: field.hint for field in narrative.FIELDS}


def _in(name: str) -> Any:
    return Field(None, description=_HINTS[name] + MARKDOWN)


def _out(name: str) -> Any:
    return Field(description=_HINTS[name] + " Empty when not written.")


class ReportTexts(OutputModel):
    """A study's report texts as written (Markdown), and the version they are at."""

    study_id: int
    version: int = Field(description=VERSION_OUT + " (1 while nothing has been saved)")
    executive_summary: str = _out("executive_summary")
    product_description: str = _out("product_description")
    test_objectives: str = _out("test_objectives")
    participant_selection: str = _out("participant_selection")
    environment_facility: str = _out("environment_facility")
    environment_devices: str = _out("environment_devices")
    environment_software: str = _out("environment_software")
    procedure: str = _out("procedure")
    participant_instructions: str = _out("participant_instructions")
    administrator_tools: str = _out("administrator_tools")
    contact_details: str = _out("contact_details")
    next_steps: str = _out("next_steps")

    @classmethod
    def of(cls, record: ReportNarrative) -> ReportTexts:
        """The texts of `record` (a study's saved texts, or its blank set)."""
        return cls(study_id=record.study_id, version=record.version, **record.texts())


class ReportTextsUpdate(VersionedChange):
    """Changes to a study's report texts: each text sent replaces the saved one ("" clears it)."""

    executive_summary: NarrativeText = _in("executive_summary")
    product_description: NarrativeText = _in("product_description")
    test_objectives: NarrativeText = _in("test_objectives")
    participant_selection: NarrativeText = _in("participant_selection")
    environment_facility: NarrativeText = _in("environment_facility")
    environment_devices: NarrativeText = _in("environment_devices")
    environment_software: NarrativeText = _in("environment_software")
    procedure: NarrativeText = _in("procedure")
    participant_instructions: NarrativeText = _in("participant_instructions")
    administrator_tools: NarrativeText = _in("administrator_tools")
    contact_details: NarrativeText = _in("contact_details")
    next_steps: NarrativeText = _in("next_steps")


ReportTextsConflict = stale_edit_error("ReportTextsConflict", ReportTexts)
