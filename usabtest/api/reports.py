"""API of the reports domain: the texts a study's researchers write for its report.

Like the report pages, they are for the people who manage the study (`policy.can_manage_study`);
anyone else gets 404. Changes go through the same service as the Report texts page.
"""

from __future__ import annotations

from flask_login import current_user

from usabtest import policy
from usabtest.api import bp, load, loads, reads, showing_current, spec, writes
from usabtest.planning.models import Study
from usabtest.reports import services
from usabtest.reports.schemas import ReportTexts, ReportTextsConflict, ReportTextsUpdate

TAGS = ["reports"]


def reported_study(study_id: int) -> Study:
    """A study whose report the caller writes (404 otherwise, as on the pages)."""
    return load(Study, study_id, policy.can_manage_study, "study")


@bp.get("/studies/<int:study_id>/report/texts")
@loads("study_id", reported_study, "study")
@spec.validate(resp=reads(ReportTexts, 404), tags=TAGS)
def get_report_texts(study: Study):
    """The study's report texts as written (Markdown)."""
    return ReportTexts.of(services.narrative_of(study))


@bp.patch("/studies/<int:study_id>/report/texts")
@loads("study_id", reported_study, "study")
@spec.validate(json=ReportTextsUpdate, resp=writes(ReportTexts, 404, conflict=ReportTextsConflict), tags=TAGS)
def update_report_texts(study: Study, json: ReportTextsUpdate):
    """Change some of the study's report texts.

    `version` is required (1 while nothing has been saved): a change based on an old version answers
    409 with the texts as they are now.
    """
    with showing_current(lambda: ReportTexts.of(services.narrative_of(study))):
        record = services.save_narrative(study, current_user, version=json.version, **json.changes())
    return ReportTexts.of(record)
