"""Withdrawing a published version, and publishing twice at the same moment."""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa

from usabtest import builders
from usabtest.accounts.models import Role
from usabtest.core.models import AuditEvent
from usabtest.reports import services
from usabtest.reports.models import PublishedReport

REASON = "Wrong participant numbers in task 2"


@pytest.fixture
def study(make_study, make_org):
    """A study for "Northwind" with one task."""
    return make_study(tasks=1, title="Banking study", organisation=make_org("Northwind"))


@pytest.fixture
def published(db, study):
    """Version 1 of the study's report, with a live share link."""
    report = services.publish(study, study.owner, "A4", "First issue")
    db.session.commit()
    return report


def _withdraw(client, report, reason=REASON, **extra):
    return client.post(f"/reports/{report.id}/withdraw", data={"reason": reason, **extra})


def test_withdrawing_asks_first_naming_what_happens(client, login, study, published, db):
    services.create_share_link(published, study.owner, 7)
    db.session.commit()
    login(study.owner)
    page = _withdraw(client, published).get_data(as_text=True)
    assert "Withdraw version 1 of the report" in page
    assert "Client users of Northwind no longer see or download version 1." in page
    assert "1 live share link to it stops working." in page and REASON in page
    db.session.expire_all()
    assert db.session.get(PublishedReport, published.id).withdrawn_at is None


def test_a_withdrawn_version_leaves_the_portal_download_and_share_links(app, client, login, make_user, study,
                                                                        published, db):
    link = services.create_share_link(published, study.owner, 7)
    token = services.share_token(link)
    db.session.commit()
    customer = make_user(Role.CLIENT, organisation=study.organisation)
    login(customer)
    assert client.get(f"/reports/{published.id}/download").status_code == 200
    assert client.get(f"/shared/{token}").status_code == 200
    researcher = login(study.owner, on=app.test_client())
    assert _withdraw(researcher, published, confirmed="yes").status_code == 302
    assert client.get(f"/reports/{published.id}/download").status_code == 404
    for url in ("/portal", "/"):
        assert f"/reports/{published.id}/download" not in client.get(url).get_data(as_text=True)
    assert client.get(f"/shared/{token}").status_code == 404


def test_researchers_and_the_audit_log_keep_the_withdrawn_version(client, login, study, published, db):
    login(study.owner)
    _withdraw(client, published, confirmed="yes")
    db.session.expire_all()
    report = db.session.get(PublishedReport, published.id)
    assert report.withdrawn_at is not None and report.withdrawn_by_id == study.owner.id
    assert report.withdraw_reason == REASON
    page = client.get(f"/studies/{study.id}/report").get_data(as_text=True)
    assert "Withdrawn" in page and REASON in page and study.owner.name in page
    assert client.get(f"/reports/{published.id}/download").status_code == 200
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "report.withdraw"))
    assert event.actor_id == study.owner.id and event.details["reason"] == REASON


@pytest.mark.parametrize("reason, message", [
    ("", "Say why this version is withdrawn"),
    ("   ", "Say why this version is withdrawn"),
    ("x" * 2001, "under 2,000 characters"),
])
def test_withdrawing_needs_a_reason(client, login, study, published, db, reason, message):
    login(study.owner)
    response = _withdraw(client, published, reason, confirmed="yes")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PublishedReport, published.id).withdrawn_at is None


def test_withdrawing_twice_is_refused_with_a_message(client, login, study, published, db):
    login(study.owner)
    _withdraw(client, published, confirmed="yes")
    again = client.post(f"/reports/{published.id}/withdraw", data={"reason": "Again", "confirmed": "yes"},
                        follow_redirects=True)
    assert again.status_code == 200 and "already withdrawn" in again.get_data(as_text=True)
    with pytest.raises(services.Conflict):
        services.withdraw(db.session.get(PublishedReport, published.id), study.owner, "Again")


def test_a_withdrawn_version_cannot_get_a_new_share_link(client, login, study, published, db):
    login(study.owner)
    _withdraw(client, published, confirmed="yes")
    page = client.post(f"/reports/{published.id}/share-links", data={"days": 7},
                       follow_redirects=True).get_data(as_text=True)
    assert "was withdrawn: it cannot be shared" in page


def test_only_the_studys_researchers_withdraw(client, login, make_user, study, published, db):
    for user in (make_user(), make_user(Role.CLIENT, organisation=study.organisation)):
        login(user)
        assert _withdraw(client, published, confirmed="yes").status_code in (403, 404)
    db.session.expire_all()
    assert db.session.get(PublishedReport, published.id).withdrawn_at is None


@pytest.mark.config(MAIL_SERVER="127.0.0.1", PUBLIC_URL="https://ux.example.org")
def test_the_client_organisation_is_told_by_mail(client, login, make_user, study, published, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "send_mail", lambda message, **kw: sent.append((message, kw)) or True)
    make_user(Role.CLIENT, organisation=study.organisation, email="ada@northwind.example")
    make_user(Role.CLIENT, email="stranger@elsewhere.example")
    login(study.owner)
    question = _withdraw(client, published).get_data(as_text=True)
    assert "1 client user of Northwind will be e-mailed" in question and sent == []
    assert "It has no live share link." in question
    page = _withdraw(client, published, confirmed="yes")
    assert page.status_code == 302
    assert [m["To"] for m, _ in sent] == ["ada@northwind.example"]
    message, options = sent[0]
    assert options == {"purpose": "report_withdrawn", "study_id": study.id}
    assert "withdrawn" in message["Subject"] and REASON in message.get_content()


def test_without_mail_withdrawing_says_nobody_was_told(client, login, study, published):
    login(study.owner)
    page = client.post(f"/reports/{published.id}/withdraw", data={"reason": REASON, "confirmed": "yes"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Mail is not configured, so nobody was told." in page


def _signed_in_opener(base: str, email: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"email": email, "password": builders.DEFAULT_PASSWORD}).encode()
    opener.open(f"{base}/login", data=form, timeout=30)
    return opener


def test_publishing_twice_at_the_same_moment_gives_two_versions_or_one_refusal(live_server, study, db):
    """Two researchers' publish requests on a real server, released together: never a 500."""
    email, study_id = study.owner.email, study.id
    db.session.commit()
    openers = [_signed_in_opener(live_server, email) for _ in range(2)]
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()
    form = urllib.parse.urlencode({"page_size": "A4", "confirmed": "yes", "gap_reason": "Twice"}).encode()

    def publish(opener: urllib.request.OpenerDirector) -> None:
        barrier.wait()
        try:
            response = opener.open(f"{live_server}/studies/{study_id}/report/publish", data=form, timeout=60)
            answer = (response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            answer = (error.code, error.read().decode())
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=publish, args=(opener,)) for opener in openers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200, 200]  # after the redirect to the report page
    db.session.rollback()  # a fresh snapshot of what the server committed
    versions = sorted(db.session.scalars(sa.select(PublishedReport.version)).all())
    assert versions in ([1, 2], [1])
    if versions == [1]:
        assert any("Another version was published at the same moment" in page for _, page in answers)


def test_the_cli_withdraws_a_version_with_a_reason(runner, study, published, db):
    missing = runner.invoke(args=["report", "withdraw", str(study.id), "1"])
    assert missing.exit_code != 0 and "--reason" in missing.output
    unknown = runner.invoke(args=["report", "withdraw", str(study.id), "9", "--reason", "x"])
    assert unknown.exit_code != 0 and "no published version 9" in unknown.output
    blank = runner.invoke(args=["report", "withdraw", str(study.id), "1", "--reason", " "])
    assert blank.exit_code != 0 and "Say why" in blank.output
    done = runner.invoke(args=["report", "withdraw", str(study.id), "1", "--reason", REASON,
                               "--by", study.owner.email])
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    report = db.session.get(PublishedReport, published.id)
    assert report.withdraw_reason == REASON and report.withdrawn_by_id == study.owner.id
