"""Every permission rule in one place; pages and the JSON API both ask here.

The policy sits above every domain's models and services (the web layer): it may read any domain's
models, and services never ask it; a service that needs a permission decision is handed one by its
caller (e.g. `can_see_study` for clash messages). `lint-imports` keeps it so.

Two kinds of refusal, used consistently:
- a page reserved to other *roles* (admin pages for a researcher) answers 403;
- an *object* the user may not see (another team's study, another client's report) answers 404,
  so its existence is not revealed.

Study access follows from the study's team: researchers on it do the study's work, observers on it
read the study and use the consoles of the sessions they moderate or observe, and the owner (with
admins) manages the team. Admins open every study without being on its team.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from usabtest.accounts.models import Organisation, Role, User
from usabtest.extensions import db
from usabtest.planning.models import Study, StudyMember, StudySession, TeamRole, session_observer
from usabtest.reports.models import PublishedReport

STAFF_ROLES = (Role.ADMIN, Role.RESEARCHER)
T = TypeVar("T")


def role_required(*roles: Role) -> Callable:
    """Decorator: signed in (else redirect to sign-in) and holding one of `roles` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require(allowed: bool) -> None:
    """Abort with 404 unless `allowed`: hidden objects look like missing ones."""
    if not allowed:
        abort(404)


def forbid_unless(allowed: bool) -> None:
    """Abort with 403 unless `allowed`: for objects the user may see but not change."""
    if not allowed:
        abort(403)


def get_or_404(model: type[T], ident: int, may_see: Callable[[User, T], bool]) -> T:
    """Load `model` by primary key for the signed-in user; 404 when missing or hidden from them."""
    obj = db.get_or_404(model, ident)
    require(may_see(current_user, obj))
    return obj


def is_staff(user: User) -> bool:
    """Admins and researchers plan and analyse studies."""
    return user.is_authenticated and user.has_role(*STAFF_ROLES)


def team_role(user: User, study: Study) -> TeamRole | None:
    """`user`'s role on the study's team, or None when they are not on it (clients never are)."""
    if not user.is_authenticated or user.role == Role.CLIENT:
        return None
    member = study.member(user)
    return member.role if member is not None else None


def is_on_team(user: User, study: Study) -> bool:
    """True for every member of the study's team, researcher or observer."""
    return team_role(user, study) is not None


def can_manage_study(user: User, study: Study) -> bool:
    """Full study work (plan, analyse, report): admins, and researchers on the study's team.

    A researcher account on the team as an observer only observes; an account whose role was
    changed away from researcher loses the study work even while still listed on the team.
    """
    if not user.is_authenticated:
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.RESEARCHER and team_role(user, study) == TeamRole.RESEARCHER


def can_manage_team(user: User, study: Study) -> bool:
    """Adding and removing members and handing ownership over: the study's owner, and admins."""
    if not user.is_authenticated:
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.RESEARCHER and study.owner_id == user.id and can_manage_study(user, study)


def can_view_study(user: User, study: Study) -> bool:
    """The study's managers, and everyone on its team (observers read it; they change nothing)."""
    return can_manage_study(user, study) or is_on_team(user, study)


def studies_visible_to(user: User) -> sa.Select:
    """A query for the studies `user` may open (clients: none; they use the portal)."""
    query = sa.select(Study)
    if user.role == Role.ADMIN:
        return query
    if user.role in (Role.RESEARCHER, Role.OBSERVER):
        member_of = sa.select(StudyMember.study_id).where(StudyMember.user_id == user.id)
        return query.where(Study.id.in_(member_of))
    return query.where(sa.false())


def can_observe_session(user: User, study_session: StudySession) -> bool:
    """The console: the study's managers, and its moderator and observers while they are on the team.

    Someone taken off the team keeps their place in past sessions' records (and their notes stay),
    but no longer reaches them.
    """
    if not user.is_authenticated:
        return False
    return may_observe(user.role, team_role(user, study_session.study),
                       lambda: study_session.moderator_id == user.id or study_session.has_observer(user))


def may_observe(role: Role, role_on_team: TeamRole | None, takes_part: Callable[[], bool]) -> bool:
    """`can_observe_session` from what it depends on: the account's role, its role on the study's
    team, and whether it moderates or observes the session (asked only when it matters)."""
    if role == Role.ADMIN or (role == Role.RESEARCHER and role_on_team == TeamRole.RESEARCHER):
        return True
    return role_on_team is not None and role != Role.CLIENT and takes_part()


def may_observe_clause(role: sa.ColumnElement, role_on_team: sa.ColumnElement,
                       takes_part: sa.ColumnElement) -> sa.ColumnElement[bool]:
    """`may_observe` as a SQL condition, for a write that checks and stores in one statement.

    The same rule in the same order; tests/test_policy.py holds the two to the same answer for
    every role, team role and part in the session.
    """
    return sa.or_(
        role == Role.ADMIN.value,
        sa.and_(role == Role.RESEARCHER.value, role_on_team.is_not_distinct_from(TeamRole.RESEARCHER.value)),
        sa.and_(role_on_team.is_not(None), role != Role.CLIENT.value, takes_part),
    )


def observing_columns(user_id: sa.ColumnElement, session_id: sa.ColumnElement, study_id: sa.ColumnElement
                      ) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    """What `may_observe` reads, as two columns for the caller's own query of a session (the user's
    id, and the session's id and study id columns): the user's role on the study's team, and
    whether they observe the session. A writer's one query then answers the permission question."""
    role_on_team = (sa.select(StudyMember.role)
                    .where(StudyMember.study_id == study_id, StudyMember.user_id == user_id)
                    .scalar_subquery())
    observes = sa.exists().where(session_observer.c.session_id == session_id,
                                 session_observer.c.user_id == user_id)
    return role_on_team.label("role_on_team"), observes.label("observes")


def can_view_session(user: User, study_session: StudySession) -> bool:
    """Read-only session page: its observers and moderator, and anyone who may view the study."""
    return can_observe_session(user, study_session) or can_view_study(user, study_session.study)


def can_view_recording(user: User, study_session: StudySession) -> bool:
    """A session's recording, its file and its review page: whoever may open the session's page."""
    return user.is_authenticated and can_view_session(user, study_session)


def can_manage_recording(user: User, study_session: StudySession) -> bool:
    """Adding, replacing and removing a session's recording: whoever may run the session."""
    return user.is_authenticated and can_run_session(user, study_session)


def can_manage_session(user: User, study_session: StudySession) -> bool:
    """Rescheduling, cancelling and marking no-show: the study's managers."""
    return can_manage_study(user, study_session.study)


def can_run_session(user: User, study_session: StudySession) -> bool:
    """Starting, ending, timing tasks and entering SUS: the moderator (on the team) and study managers."""
    if can_manage_study(user, study_session.study):
        return True
    return is_on_team(user, study_session.study) and study_session.moderator_id == user.id


def can_correct_attempt(user: User, attempt) -> bool:
    """Correcting a task attempt afterwards (outcome, errors, SEQ, times): whoever may run its session."""
    return user.is_authenticated and can_run_session(user, attempt.study_session)


def can_edit_note(user: User, note) -> bool:
    """The study's researchers (and admins) edit any note of it; an observer only their own.

    An author edits their note while they may still observe the session. The live console follows
    the object rule: a signed-in user who may not observe a session gets 404 for its page and every
    endpoint; one who may observe but not run it gets 403 for the moderator's actions, and 403 for
    another author's note.
    """
    if not user.is_authenticated:
        return False
    if can_manage_study(user, note.study_session.study):
        return True
    return note.author_id == user.id and can_observe_session(user, note.study_session)


def can_delete_note(user: User, note) -> bool:
    """Only a note's author deletes it, and only while they may still observe the session."""
    return (user.is_authenticated and note.author_id == user.id
            and can_observe_session(user, note.study_session))


def can_download_report(user: User, report: PublishedReport) -> bool:
    """Study managers, and client users of the study's organisation while it is not withdrawn."""
    if not user.is_authenticated:
        return False
    if user.role == Role.CLIENT:
        return user.organisation_id is not None and report.withdrawn_at is None and (
            user.organisation_id == report.study.organisation_id
        )
    return can_manage_study(user, report.study)


def published_reports_visible_to(user: User) -> sa.Select:
    """Published versions a client user may download: those of their organisation's studies, not withdrawn."""
    query = sa.select(PublishedReport).join(Study, PublishedReport.study_id == Study.id)
    if not user.is_authenticated or user.role != Role.CLIENT or user.organisation_id is None:
        return query.where(sa.false())
    return query.where(Study.organisation_id == user.organisation_id, PublishedReport.withdrawn_at.is_(None))


# --- client organisations ---------------------------------------------------------------------
#
# Who sees which organisation (its page, the study form's list, the API):
# - admins: every organisation;
# - researchers: the organisations of the studies they may open (owner or team member), and those
#   they created themselves. A consultancy's clients are often confidential between its teams: a
#   researcher learns of a client through working for it, and the list they pick from stays short.
#   The name check on creation still says that a name is taken (and by which spelling), so nobody
#   makes a duplicate; an admin, or a researcher already working for that client, starts the
#   study there and adds them to its team;
# - client users: their own organisation; observers: none (they plan nothing).
# A study can be put only in an organisation its editor sees (`can_pick_organisation`), so a
# study never lands with a client by a guessed id.


def organisations_visible_to(user: User) -> sa.Select:
    """A query for the organisations `user` may see."""
    query = sa.select(Organisation)
    if not user.is_authenticated:
        return query.where(sa.false())
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.RESEARCHER:
        studied = studies_visible_to(user).with_only_columns(Study.organisation_id)
        return query.where(sa.or_(Organisation.id.in_(studied), Organisation.created_by_id == user.id))
    if user.role == Role.CLIENT and user.organisation_id is not None:
        return query.where(Organisation.id == user.organisation_id)
    return query.where(sa.false())


def can_see_organisation(user: User, org: Organisation) -> bool:
    """The rule of `organisations_visible_to`, for one organisation."""
    if not user.is_authenticated:
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.CLIENT:
        return user.organisation_id == org.id
    if user.role != Role.RESEARCHER:
        return False
    if org.created_by_id == user.id:
        return True
    query = studies_visible_to(user).where(Study.organisation_id == org.id).limit(1)
    return db.session.scalar(sa.select(query.exists())) is True


def can_create_organisation(user: User) -> bool:
    """Admins and researchers create client organisations."""
    return is_staff(user)


def can_pick_organisation(user: User, org: Organisation) -> bool:
    """Whether `user` may put a study in `org`: staff, and only organisations they see."""
    return is_staff(user) and can_see_organisation(user, org)


def can_manage_client_users(user: User, org: Organisation) -> bool:
    """Adding, creating and removing an organisation's client users: admins."""
    return user.is_authenticated and user.role == Role.ADMIN


def can_rename_organisation(user: User, org: Organisation) -> bool:
    """Correcting an organisation's name: admins, and the researcher who created it."""
    if not user.is_authenticated:
        return False
    return user.role == Role.ADMIN or (user.role == Role.RESEARCHER and org.created_by_id == user.id)
