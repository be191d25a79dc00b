"""The permission rules themselves, independent of any page."""

import hashlib

from usabtest import policy
from usabtest.accounts.models import Role
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
