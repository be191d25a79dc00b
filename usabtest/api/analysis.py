"""API of the analysis domain: a study's findings, read and edited by the study's researchers.

Like the analysis pages, findings are for the people who manage the study (`policy.can_manage_study`);
anyone else gets 404. Edits go through the same service as the finding form.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import selectinload

from usabtest import policy
from usabtest.analysis import results, services
from usabtest.analysis.models import Finding, Screenshot
from usabtest.analysis.schemas import Finding as FindingOut
from usabtest.analysis.schemas import FindingConflict, FindingList, FindingUpdate
from usabtest.api import bp, load, loads, reads, showing_current, spec, writes
from usabtest.extensions import db
from usabtest.planning.models import Study

TAGS = ["analysis"]


def analysed_study(study_id: int) -> Study:
    """A study the caller analyses (404 otherwise, as on the pages)."""
    return load(Study, study_id, policy.can_manage_study, "study")


def analysed_finding(finding_id: int) -> Finding:
    """A finding of a study the caller analyses (404 otherwise)."""
    return load(Finding, finding_id, lambda user, f: policy.can_manage_study(user, f.study), "finding")


def _screenshot_counts(finding_ids: list[int]) -> dict[int, int]:
    query = (sa.select(Screenshot.finding_id, sa.func.count()).where(Screenshot.finding_id.in_(finding_ids))
             .group_by(Screenshot.finding_id))
    return {finding_id: count for finding_id, count in db.session.execute(query)}


def _out(finding: Finding) -> FindingOut:
    return FindingOut.of(finding, _screenshot_counts([finding.id]).get(finding.id, 0))


@bp.get("/studies/<int:study_id>/findings")
@loads("study_id", analysed_study, "study")
@spec.validate(resp=reads(FindingList, 404), tags=TAGS)
def list_findings(study: Study):
    """The study's findings in the report's reading order."""
    order = [summary.id for summary in results.ranked_findings(study.id)]
    findings = {f.id: f for f in db.session.scalars(
        sa.select(Finding).where(Finding.study_id == study.id)
        .options(selectinload(Finding.notes), selectinload(Finding.tasks)))}
    shots = _screenshot_counts(order)
    return FindingList(items=[FindingOut.of(findings[fid], shots.get(fid, 0))
                              for fid in order if fid in findings])


@bp.get("/findings/<int:finding_id>")
@loads("finding_id", analysed_finding, "finding")
@spec.validate(resp=reads(FindingOut, 404), tags=TAGS)
def get_finding(finding: Finding):
    """One finding."""
    return _out(finding)


@bp.patch("/findings/<int:finding_id>")
@loads("finding_id", analysed_finding, "finding")
@spec.validate(json=FindingUpdate, resp=writes(FindingOut, 404, conflict=FindingConflict), tags=TAGS)
def update_finding(finding: Finding, json: FindingUpdate):
    """Change a finding's text, severity, priority and effort, whether it worked well, or its affected tasks.

    `version` is required: a change based on an old version answers 409 with the finding as it is now.
    """
    current = {"title": finding.title, "severity": finding.severity, "description": finding.description,
               "recommendation": finding.recommendation, "priority": finding.priority,
               "effort": finding.effort, "positive": finding.positive,
               "task_ids": [task.id for task in finding.tasks]}
    with showing_current(lambda: _out(finding)):
        services.update_finding(finding, current_user, version=json.version, **{**current, **json.changes()})
    return _out(finding)
