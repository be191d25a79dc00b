"""API of study teams: who works on a study, adding and removing members, handing ownership over.

Anyone who may see the study reads its team; the owner and admins change it
(`policy.can_manage_team`: 403 for others who see the study, 404 for those who do not). The same
services as the Team page refuse the same things with the same messages.
"""

from __future__ import annotations

from flask_login import current_user

from usabtest import policy
from usabtest.accounts.schemas import UserRef
from usabtest.api import allow, bp, loads, reads, spec, writes
from usabtest.api.planning import visible_study
from usabtest.core.errors import NotFound
from usabtest.planning import team
from usabtest.planning.models import Study, StudyMember
from usabtest.planning.schemas import (
    OwnershipHandOver,
    Team,
    TeamMember,
    TeamMemberCreate,
    TeamMemberUpdate,
    TeamRemoval,
)

TAGS = ["planning"]
TEAM_MANAGERS_ONLY = "only the study's owner and admins can change its team"


def team_study(study_id: int) -> Study:
    """The study, 404 when hidden, 403 unless the caller manages its team."""
    study = visible_study(study_id)
    allow(policy.can_manage_team(current_user, study), TEAM_MANAGERS_ONLY)
    return study


def _member(study: Study, user_id: int) -> StudyMember:
    member = next((m for m in study.members if m.user_id == user_id), None)
    if member is None:
        raise NotFound(f"user {user_id} is not on the team of study {study.id}")
    return member


def _team(study: Study) -> Team:
    return Team(study_id=study.id, owner=UserRef.model_validate(study.owner),
                items=[TeamMember.of(m) for m in team.members(study)])


@bp.get("/studies/<int:study_id>/team")
@loads("study_id", visible_study, "study")
@spec.validate(resp=reads(Team, 404), tags=TAGS)
def get_team(study: Study):
    """The study's team: the owner first, then researchers, then observers."""
    return _team(study)


@bp.post("/studies/<int:study_id>/team")
@loads("study_id", team_study, "study")
@spec.validate(json=TeamMemberCreate, resp=writes({201: TeamMember}, 403, 404, 409), tags=TAGS)
def add_team_member(study: Study, json: TeamMemberCreate):
    """Put a colleague on the team (refused: client users, deactivated accounts, anyone already on it)."""
    field = "user_id" if json.user_id is not None else "email"
    person = team.find_person(user_id=json.user_id, email=json.email)
    member = team.add_member(study, person, json.role, current_user, person_field=field)
    return TeamMember.of(member), 201


@bp.patch("/studies/<int:study_id>/team/<int:user_id>")
@loads("study_id", team_study, "study")
@spec.validate(json=TeamMemberUpdate, resp=writes(TeamMember, 403, 404, 409), tags=TAGS)
def update_team_member(study: Study, user_id: int, json: TeamMemberUpdate):
    """Make a member a researcher or an observer of the study (the owner stays a researcher)."""
    member = _member(study, user_id)
    team.change_role(study, member, json.role, current_user)
    return TeamMember.of(member)


@bp.delete("/studies/<int:study_id>/team/<int:user_id>")
@loads("study_id", team_study, "study")
@spec.validate(resp=writes(TeamRemoval, 403, 404, 409), tags=TAGS)
def remove_team_member(study: Study, user_id: int):
    """Take a member off the team and off its sessions that have not ended; past sessions and notes stay.

    Refused (409) for the owner, and for someone moderating a session that has not ended.
    """
    member = _member(study, user_id)
    user = member.user
    removal = team.remove_member(study, member, current_user)
    return TeamRemoval(user=UserRef.model_validate(user),
                       sessions_left=[s.id for s in removal.taken_off], past_sessions=removal.past)


@bp.post("/studies/<int:study_id>/ownership")
@loads("study_id", team_study, "study")
@spec.validate(json=OwnershipHandOver, resp=writes(Team, 403, 404, 409), tags=TAGS)
def hand_over_study(study: Study, json: OwnershipHandOver):
    """Make another researcher on the team the owner; the old owner stays on the team as a researcher."""
    team.hand_over(study, team.find_person(user_id=json.user_id), current_user)
    return _team(study)
