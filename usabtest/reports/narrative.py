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


FIELDS: tuple[NarrativeField, ...] = (
    NarrativeField("executive_summary", "Executive summary",
                   "What was tested, with whom, the main findings and what to do next: the page a "
                   "busy reader reads."),
    NarrativeField("product_description", "Product description",
                   "The product and version tested, what it is for and who uses it."),
    NarrativeField("test_objectives", "Test objectives",
                   "What the test was to find out. Left empty, the report shows the study's goals."),
    NarrativeField("participant_selection", "Participant selection and recruitment",
                   "Who took part and why: the user groups, screening criteria, how they were "
                   "recruited and compensated."),
    NarrativeField("environment_facility", "Test facility",
                   "Where the sessions took place: lab, office, participants' homes, remote."),
    NarrativeField("environment_devices", "Devices",
                   "Computers, phones or tablets, screen sizes, input devices, network."),
    NarrativeField("environment_software", "Software",
                   "Operating systems, browsers and the version or build of the product."),
    NarrativeField("procedure", "Procedure and moderation",
                   "How a session ran: welcome and consent, think-aloud or not, when the moderator "
                   "helped, the questionnaires, how long it lasted."),
    NarrativeField("participant_instructions", "General instructions to participants",
                   "What participants were told before the tasks."),
    NarrativeField("administrator_tools", "Test administrator tools",
                   "Scripts, recording and note-taking tools, questionnaires used by the team."),
    NarrativeField("contact_details", "Contact details",
                   "Whom the reader asks about the report: name, organisation, email or phone."),
)
NAMES: tuple[str, ...] = tuple(field.name for field in FIELDS)
LABELS: dict[str, str] = {field.name: field.label for field in FIELDS}
