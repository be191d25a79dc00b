"""The texts researchers write for a study's report, in the order of the Common Industry Format.

One list names them for the model, the Report text page, the API and the PDF. Pure: no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LENGTH = 20_000  # characters per text: some fifteen printed pages, far above any real section


@dataclass(frozen=True)
class NarrativeField:
    """One written part of the report: its column, its label and what belongs in it."""

    name: str
    label: str
    hint: str
    part: str = ""  # the part of the report it belongs to


TITLE, SUMMARY, INTRODUCTION = "Title page", "Executive summary", "Introduction"
PARTICIPANTS, ENVIRONMENT, PROCEDURE = "Method: participants", "Method: test environment", "Method: procedure"
NEXT_STEPS = "Next steps"

FIELDS: tuple[NarrativeField, ...] = (
    NarrativeField("contact_details", "Contact details",
                   "Whom the reader asks about the report: name, organisation, email or phone.", TITLE),
    NarrativeField("executive_summary", "Executive summary",
                   "What was tested, with whom, the main findings and what to do next: the page a "
                   "busy reader reads.", SUMMARY),
    NarrativeField("product_description", "Product description",
                   "The product and version tested, what it is for and who uses it.", INTRODUCTION),
    NarrativeField("test_objectives", "Test objectives",
                   "What the test was to find out. Left empty, the report shows the study's goals.",
                   INTRODUCTION),
    NarrativeField("participant_selection", "Participant selection and recruitment",
                   "Who took part and why: the user groups, screening criteria, how they were "
                   "recruited and compensated.", PARTICIPANTS),
    NarrativeField("environment_facility", "Test facility",
                   "Where the sessions took place: lab, office, participants' homes, remote.", ENVIRONMENT),
    NarrativeField("environment_devices", "Devices",
                   "Computers, phones or tablets, screen sizes, input devices, network.", ENVIRONMENT),
    NarrativeField("environment_software", "Software",
                   "Operating systems, browsers and the version or build of the product.", ENVIRONMENT),
    NarrativeField("administrator_tools", "Test administrator tools",
                   "Scripts, recording and note-taking tools, questionnaires used by the team.", PROCEDURE),
    NarrativeField("procedure", "Procedure and moderation",
                   "How a session ran: welcome and consent, think-aloud or not, when the moderator "
                   "helped, the questionnaires, how long it lasted.", PROCEDURE),
    NarrativeField("participant_instructions", "General instructions to participants",
                   "What participants were told before the tasks.", PROCEDURE),
    NarrativeField("next_steps", "Next steps",
                   "What the team should do after this report: fixes to make first, what to test "
                   "next, decisions to take, who does what.", NEXT_STEPS),
)
NAMES: tuple[str, ...] = tuple(field.name for field in FIELDS)
LABELS: dict[str, str] = {field.name: field.label for field in FIELDS}


def by_part() -> list[tuple[str, list[NarrativeField]]]:
    """The fields in report order, grouped under the part of the report they belong to."""
    groups: list[tuple[str, list[NarrativeField]]] = []
    for field in FIELDS:
        if not groups or groups[-1][0] != field.part:
            groups.append((field.part, []))
        groups[-1][1].append(field)
    return groups
