"""The permission rules themselves, independent of any page."""

import hashlib

import sqlalchemy as sa

from usabtest import policy
from usabtest.accounts.models import Role
from usabtest.planning.models import TeamRole
from usabtest.reports.models import PublishedReport


def _visible(db, user):
    return set(db.session.scalars(policy.studies_visible_to(user)))


def test_researcher_sees_own_and_team_studies_only(db, make_user, make_study):
    me = make_user(Role.RESEARCHER)
    mine = make_study(owner=me)
    team_study = make_study(researchers=[me])
    make_study()  # somebody else's
    assert _visible(db, me) == {mine, team_study}
    assert policy.can_manage_study(me, team_study)


def test_admin_sees_every_study(db, make_user, make_study):
    studies = {make_study(), make_study()}
    assert _visible(db, make_user(Role.ADMIN)) == studies


def test_observer_sees_only_studies_where_they_are_on_a_session(db, make_user, make_session):
    observer = make_user(Role.OBSERVER)
    observed = make_session(observers=[observer])
    moderated = make_session(moderator=observer)
    other = make_session()
    assert _visible(db, observer) == {observed.study, moderated.study}
    assert policy.can_view_study(observer, observed.study)
    assert not policy.can_view_study(observer, other.study)
    assert not policy.can_manage_study(observer, observed.study)
    assert policy.can_observe_session(observer, observed)
    assert not policy.can_observe_session(observer, other)
    assert policy.can_run_session(observer, moderated)
    assert not policy.can_run_session(observer, observed)


def test_client_sees_no_planning_and_only_own_organisation_reports(db, make_user, make_org,
                                                                   make_session):
    org = make_org("Acme")
    client_user = make_user(Role.CLIENT, organisation=org)
    stranger = make_user(Role.CLIENT)
    study_session = make_session()
    study = study_session.study
    study.organisation = org
    report = PublishedReport(study=study, version=1, pdf=b"%PDF", sha256=hashlib.sha256(b"%PDF").hexdigest())
    db.session.add(report)
    db.session.commit()
    assert _visible(db, client_user) == set()
    assert not policy.can_view_study(client_user, study)
    assert not policy.can_observe_session(client_user, study_session)
    assert policy.can_download_report(client_user, report)
    assert not policy.can_download_report(stranger, report)
    assert policy.can_download_report(study.owner, report)
    assert not policy.can_download_report(make_user(Role.OBSERVER), report)


def test_team_roles_decide_what_members_may_do(db, make_user, make_study, make_session):
    colleague, olive, helper = make_user(), make_user(Role.OBSERVER), make_user(Role.RESEARCHER)
    study = make_study(researchers=[colleague], observers=[olive, helper])
    observed = make_session(study=study, observers=[olive])
    other = make_session(study=study)
    for member in (study.owner, colleague):
        assert policy.can_manage_study(member, study) and policy.can_view_study(member, study)
        assert policy.can_observe_session(member, other) and policy.can_run_session(member, other)
    # An observer on the team, and a researcher account on it as an observer, read without planning.
    for member in (olive, helper):
        assert policy.can_view_study(member, study) and not policy.can_manage_study(member, study)
        assert policy.team_role(member, study) == TeamRole.OBSERVER
        assert _visible(db, member) == {study}
        assert not policy.can_observe_session(member, other)
        assert policy.can_view_session(member, other)
    assert policy.can_observe_session(olive, observed) and not policy.can_run_session(olive, observed)
    assert policy.can_manage_team(study.owner, study) and policy.can_manage_team(make_user(Role.ADMIN), study)
    assert not policy.can_manage_team(colleague, study) and not policy.can_manage_team(olive, study)


def test_an_account_role_limits_the_team_role(db, make_user, make_study):
    colleague = make_user()
    study = make_study(researchers=[colleague])
    colleague.role = Role.OBSERVER  # an admin changed the account
    db.session.commit()
    assert policy.can_view_study(colleague, study) and not policy.can_manage_study(colleague, study)
    colleague.role = Role.CLIENT
    db.session.commit()
    assert not policy.can_view_study(colleague, study) and _visible(db, colleague) == set()


def test_leaving_the_team_ends_access_even_to_past_sessions(db, make_user, make_session):
    olive = make_user(Role.OBSERVER)
    past = make_session(observers=[olive])
    moderated = make_session(study=past.study, moderator=olive)
    assert policy.can_observe_session(olive, past) and policy.can_run_session(olive, moderated)
    db.session.delete(past.study.member(olive))
    db.session.commit()
    assert olive in past.observers  # the record of who was there stays
    assert not policy.can_observe_session(olive, past) and not policy.can_run_session(olive, moderated)
    assert not policy.can_view_study(olive, past.study) and _visible(db, olive) == set()


def test_the_sql_observing_rule_answers_as_the_python_one_for_every_case(db):
    cases = [(role, team_role, takes_part) for role in Role for team_role in (None, *TeamRole)
             for takes_part in (False, True)]
    rows = sa.union_all(*(
        sa.select(sa.literal(n).label("n"), sa.literal(role.value).label("role"),
                  sa.cast(sa.literal(team_role and team_role.value), sa.String).label("team_role"),
                  sa.literal(takes_part).label("takes_part"))
        for n, (role, team_role, takes_part) in enumerate(cases))).subquery()
    clause = policy.may_observe_clause(rows.c.role, rows.c.team_role, rows.c.takes_part)
    answers = dict(db.session.execute(sa.select(rows.c.n, clause)).all())
    expected = {n: policy.may_observe(role, team_role, lambda part=part: part)
                for n, (role, team_role, part) in enumerate(cases)}
    assert answers == expected
    assert sum(expected.values()) not in (0, len(cases))  # the rule says yes and no
