"""The audit log page: admins browse and filter the trail; everyone else is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from usabtest.accounts.models import Role
from usabtest.core import audit
from usabtest.core.models import AuditEvent
from usabtest.planning import services as planning


def _event(db, action: str, *, actor=None, object_type: str = "Study", object_id: int | None = 1,
           when: datetime | None = None, details: dict | None = None) -> AuditEvent:
    event = AuditEvent(actor_id=actor.id if actor else None, action=action, object_type=object_type,
                       object_id=object_id, details=details or {},
                       created_at=when or datetime(2030, 3, 10, 12, tzinfo=UTC))
    db.session.add(event)
    db.session.commit()
    return event


def _rows(html: str) -> int:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return body.count("<tr>")


def test_admins_reach_the_audit_log_from_the_navigation_and_others_are_refused(client, login, make_user):
    admin = make_user(Role.ADMIN)
    login(admin)
    home = client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/audit"' in home
    assert client.get("/admin/audit").status_code == 200
    for role in (Role.RESEARCHER, Role.OBSERVER, Role.CLIENT):
        other = client.application.test_client()
        login(make_user(role), on=other)
        assert other.get("/admin/audit").status_code == 403
        assert 'href="/admin/audit"' not in other.get("/", follow_redirects=True).get_data(as_text=True)
    anonymous = client.application.test_client().get("/admin/audit")
    assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_the_audit_log_filters_by_who_what_when_and_object(client, login, db, make_user):
    admin, rita = make_user(Role.ADMIN, name="Ada Admin"), make_user(Role.RESEARCHER, name="Rita Researcher")
    _event(db, "study.update", actor=rita, object_id=7, when=datetime(2030, 3, 1, 9, tzinfo=UTC))
    _event(db, "participant.erase", actor=rita, object_type="Participant", object_id=3,
           when=datetime(2030, 3, 5, 9, tzinfo=UTC), details={"code": "P03"})
    _event(db, "participant.consent_withdraw", actor=admin, object_type="Participant", object_id=4,
           when=datetime(2030, 3, 9, 23, 30, tzinfo=UTC))
    _event(db, "user.sign_in_failed", when=datetime(2030, 3, 12, 9, tzinfo=UTC), object_type="",
           object_id=None)
    login(admin)  # adds a user.sign_in event of today
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    def shown(**args) -> int:
        response = client.get("/admin/audit", query_string=args)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return _rows(response.get_data(as_text=True))

    assert shown() == total
    assert shown(actor=rita.id) == 2
    assert shown(action="participant.erase") == 1
    assert shown(action="participant.") == 2  # the family
    assert shown(object_type="Participant") == 2
    assert shown(object_type="Participant", object_id=4) == 1
    assert shown(since="2030-03-02", until="2030-03-09") == 2  # until is inclusive, in the admin's zone (UTC)
    page = client.get("/admin/audit", query_string={"action": "participant.erase"}).get_data(as_text=True)
    assert "Rita Researcher" in page and "P03" in page and "Participant #3" in page


def test_the_audit_log_dates_follow_the_admins_time_zone(client, login, db, make_user):
    admin = make_user(Role.ADMIN, timezone="Pacific/Auckland")  # UTC+13 in March
    _event(db, "study.update", when=datetime(2030, 3, 9, 12, 30, tzinfo=UTC))  # 10 March, 01:30 there
    login(admin)
    html = client.get("/admin/audit", query_string={"since": "2030-03-10", "until": "2030-03-10",
                                                    "action": "study.update"}).get_data(as_text=True)
    assert _rows(html) == 1


def test_the_audit_log_is_paginated_in_sql(client, login, db, make_user):
    admin = make_user(Role.ADMIN)
    for number in range(60):
        db.session.add(AuditEvent(action="task.update", object_type="Task", object_id=number + 1, details={}))
    db.session.commit()
    login(admin)
    first = client.get("/admin/audit?action=task.update").get_data(as_text=True)
    assert _rows(first) == 50 and "Page 1 of 2" in first
    assert 'href="/admin/audit?page=2&amp;action=task.update"' in first
    second = client.get("/admin/audit?page=2&action=task.update").get_data(as_text=True)
    assert _rows(second) == 10
    assert "No events match the filter" in client.get("/admin/audit?page=9&action=task.update").get_data(
        as_text=True)
    query = audit.search(audit.AuditFilter(action="task.update"))
    assert "ORDER BY" in str(query)


@pytest.mark.parametrize("args", [
    {"since": "not a date"}, {"until": "2030-02-30"}, {"object_id": "abc"}, {"object_id": "99999999999999"},
    {"object_id": "0"}, {"actor": "123456789"}, {"action": "no.such"},
    {"since": "2030-03-02", "until": "2030-03-01"},
    {"since": "0001-01-01", "until": "9999-12-31"},
])
def test_bad_filters_answer_with_a_field_error_never_a_500(client, login, make_user, args):
    login(make_user(Role.ADMIN))
    response = client.get("/admin/audit", query_string=args)
    if args.get("since") == "0001-01-01":
        assert response.status_code == 200  # the calendar's ends are simply no bound
    else:
        assert response.status_code == 400
        assert 'class="field has-error"' in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["0", "-1", "1e20", "abc", "100001"])
def test_bad_page_numbers_answer_404(client, login, make_user, page):
    login(make_user(Role.ADMIN))
    assert client.get(f"/admin/audit?page={page}").status_code == 404


def test_study_data_edits_and_rights_are_recorded(db, make_user, make_study, make_participant):
    study = make_study()
    participant = make_participant(study, consented=False)
    planning.record_consent(participant, datetime(2025, 1, 1).date(), "v3", study.owner)
    planning.update_participant(participant, study.owner, version=participant.version, name="Jo Newname",
                                email=participant.personal.email, phone="+1 555 0100", segments={})
    planning.withdraw_consent(participant, study.owner)
    db.session.commit()
    events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "Participant")
                                     .order_by(AuditEvent.id)))
    assert [e.action for e in events] == ["participant.consent", "participant.update",
                                          "participant.consent_withdraw"]
    update = next(e for e in events if e.action == "participant.update")
    assert update.details == {"code": "P01", "fields": ["name", "phone"]}  # names of fields, never values


def test_the_audit_log_names_system_actions_and_spells_out_details(client, login, db, make_user):
    admin = make_user(Role.ADMIN)
    _event(db, "user.create", object_type="User", object_id=9,
           details={"email": "x@example.com", "role": "client"})
    _event(db, "study.update", actor=make_user(Role.RESEARCHER),
           details={"changed_fields": ["title", "goals"], "version": 3})
    login(admin)
    page = client.get("/admin/audit", query_string={"action": "user.create"}).get_data(as_text=True)
    assert "System (command line or background work)" in page
    assert "<dt>email</dt> <dd>x@example.com</dd>" in page and "<dt>role</dt> <dd>client</dd>" in page
    page = client.get("/admin/audit", query_string={"action": "study.update"}).get_data(as_text=True)
    assert "<dt>changed fields</dt> <dd>title, goals</dd>" in page and "<dt>version</dt> <dd>3</dd>" in page
