"""The pre-publish check: what the Common Industry Format (ISO/IEC 25062) asks of a report, and
whether the study has it; plus what makes the numbers or findings unready to hand over.

Reads only. Each item names where it is filled in (`fix`: an endpoint, its arguments and an anchor),
which the page turns into a link; the list of gaps is stored with a version published despite them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from usabtest.analysis import results as analysis
from usabtest.analysis.models import Finding
from usabtest.extensions import db
from usabtest.observe.models import Note
from usabtest.planning.models import Participant, SessionStatus, Study, StudySession, Task
from usabtest.reports.models import ReportNarrative


@dataclass(frozen=True)
class Fix:
    """Where a missing element is filled in: a page endpoint, its arguments and an anchor on it."""

    endpoint: str
    anchor: str = ""
    args: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Element:
    """One part of the Common Industry Format and whether the study has it."""

    part: str
    label: str
    present: bool
    note: str = ""
    fix: Fix | None = None


@dataclass(frozen=True)
class Concern:
    """Something that makes the report unready to hand over, with where to look."""

    message: str
    fix: Fix | None = None


@dataclass(frozen=True)
class PublishCheck:
    """The check of one study: every element, then the concerns."""

    elements: tuple[Element, ...]
    concerns: tuple[Concern, ...] = field(default_factory=tuple)

    @property
    def missing(self) -> tuple[Element, ...]:
        """The elements the study does not have yet."""
        return tuple(element for element in self.elements if not element.present)

    @property
    def gaps(self) -> list[str]:
        """Each missing element and each warning as one line (stored with a version published anyway)."""
        return [f"Missing: {e.part}: {e.label}" for e in self.missing] + [w.message for w in self.concerns]

    @property
    def complete(self) -> bool:
        """Nothing missing and nothing to warn about."""
        return not self.gaps


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check_study(study: Study) -> PublishCheck:
    """What the report of `study` has and lacks now."""
    row = db.session.scalar(sa.select(ReportNarrative).where(ReportNarrative.study_id == study.id))
    texts = row.texts() if row else {}

    def written(name: str) -> bool:
        return bool(texts.get(name, "").strip())

    def text_fix(name: str) -> Fix:
        return Fix("reports.texts", name, (("study_id", study.id),))

    overview = (("study_id", study.id),)
    to_results = Fix("analysis.results_page", "", overview)
    results = analysis.compute_study_results(study.id, estimates=False)  # it reads counts only
    tasks = db.session.scalars(
        sa.select(Task).where(Task.study_id == study.id, Task.archived.is_(False))).all()
    tested = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(StudySession.participant_id)))
        .where(StudySession.study_id == study.id, StudySession.status.in_(analysis.OBSERVED_STATUSES)))
    recruited = db.session.scalar(sa.select(sa.func.count()).select_from(Participant)
                                  .where(Participant.study_id == study.id))
    attempts = sum(task.attempts for task in results.tasks)
    live_findings = sa.and_(Finding.study_id == study.id, Finding.deleted_at.is_(None))
    findings = db.session.scalar(sa.select(sa.func.count()).select_from(Finding).where(live_findings))
    environment = [name for name in ("environment_facility", "environment_devices", "environment_software")
                   if written(name)]
    seq_rated = sum(task.seq_n for task in results.tasks)

    elements = (
        Element("Title page", "Contact details", written("contact_details"), fix=text_fix("contact_details")),
        Element("Executive summary", "Executive summary", written("executive_summary"),
                fix=text_fix("executive_summary")),
        Element("Introduction", "Full product description", written("product_description"),
                fix=text_fix("product_description")),
        Element("Introduction", "Test objectives", written("test_objectives") or bool(study.goals.strip()),
                "" if written("test_objectives") else "The study's goals are used." if study.goals.strip()
                else "", text_fix("test_objectives")),
        Element("Method", "Participants: selection and recruitment", written("participant_selection"),
                fix=text_fix("participant_selection")),
        Element("Method", "Participants: who took part", bool(tested),
                f"{_plural(tested, 'participant')} of {recruited} recruited took part." if tested
                else "No participant has taken part in a session yet.",
                Fix("planning.study_overview", "sessions", overview)),
        Element("Method", "Context of use: tasks", bool(tasks),
                f"{_plural(len(tasks), 'task')} in the script." if tasks else "The task script is empty.",
                Fix("planning.study_overview", "tasks", overview)),
        Element("Method", "Test environment: facility, devices, software", bool(environment),
                "" if len(environment) in (0, 3) else "Partly written.", text_fix("environment_facility")),
        Element("Method", "Test administrator tools", written("administrator_tools"),
                fix=text_fix("administrator_tools")),
        Element("Method", "Procedure and moderation", written("procedure"), fix=text_fix("procedure")),
        Element("Method", "General instructions to participants", written("participant_instructions"),
                fix=text_fix("participant_instructions")),
        Element("Method", "Usability metrics measured", bool(attempts),
                f"{_plural(attempts, 'task attempt')} recorded." if attempts else "No task attempt recorded.",
                Fix("analysis.results_page", "", overview)),
        Element("Results", "Performance results", bool(attempts), fix=to_results),
        Element("Results", "Satisfaction results (SUS or SEQ)", bool(results.sus.n or seq_rated),
                f"{_plural(results.sus.n, 'SUS questionnaire')}, {_plural(seq_rated, 'SEQ rating')}.",
                Fix("analysis.results_page", "", overview)),
        Element("Results", "Data analysis: findings", bool(findings), f"{_plural(findings, 'finding')}.",
                Fix("analysis.findings_page", "", overview)),
    )
    return PublishCheck(elements, tuple(_concerns(study, results, live_findings)))


def _concerns(study: Study, results: analysis.StudyResults, live_findings) -> list[Concern]:
    overview = (("study_id", study.id),)
    concerns: list[Concern] = []
    running = db.session.scalar(sa.select(sa.func.count()).select_from(StudySession).where(
        StudySession.study_id == study.id, StudySession.status == SessionStatus.IN_PROGRESS))
    if running:
        concerns.append(Concern(f"{_plural(running, 'session')} still in progress: "
                                "its results may still change.", Fix("planning.study_overview", "sessions",
                                                                      overview)))
    bare = db.session.scalars(sa.select(Finding.title).where(
        live_findings, ~Finding.notes.any(Note.deleted_at.is_(None))).order_by(Finding.id)).all()
    if bare:
        concerns.append(Concern(f"{_plural(len(bare), 'finding')} without evidence: " + ", ".join(
            f"“{title}”" for title in bare[:5]) + ("…" if len(bare) > 5 else ""),
            Fix("analysis.findings_page", "", overview)))
    untried = [f"{task.number}. {task.title}" for task in results.tasks if not task.attempts]
    if untried:
        concerns.append(Concern(f"{_plural(len(untried), 'task')} without attempts: " + ", ".join(untried),
                                Fix("analysis.results_page", "", overview)))
    return concerns
