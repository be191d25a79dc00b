"""Drafts, frozen versions, the client portal, share links, notification mails and the CLI."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.test_reports_pdf import pdf_text
from usabtest.accounts.models import Role
from usabtest.core.models import AuditEvent
from usabtest.db import utcnow
from usabtest.reports import services
from usabtest.reports.models import PublishedReport, ShareLink

# These studies have gaps the pre-publish check lists: publishing from the pages needs a reason.
GAPS_OK = {"gap_reason": "Interim issue"}
PUBLISH = {"confirmed": "yes", **GAPS_OK}


@pytest.fixture
def study(make_study, make_org):
    """A study for "Northwind" with two tasks."""
    return make_study(tasks=2, title="Mobile banking: payments", organisation=make_org("Northwind"))


@pytest.fixture
def published(db, study):
    """Version 1 of the study's report."""
    report = services.publish(study, study.owner, "A4", "First issue")
    db.session.commit()
    return report


def test_researcher_downloads_a_draft_on_a4_or_letter(client, login, study):
    login(study.owner)
    for size in ("A4", "Letter"):
        response = client.get(f"/studies/{study.id}/report/draft?page_size={size}")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert "mobile-banking-payments-report-draft.pdf" in response.headers["Content-Disposition"]
        assert "Draft" in pdf_text(response.data)


def test_draft_with_unknown_page_size_is_refused_with_a_message(client, login, study):
    login(study.owner)
    response = client.get(f"/studies/{study.id}/report/draft?page_size=A0", follow_redirects=True)
    assert response.status_code == 200
    assert "Choose A4 or Letter" in response.get_data(as_text=True)


def test_publishing_freezes_numbered_versions(client, login, study, db):
    login(study.owner)
    first = client.post(f"/studies/{study.id}/report/publish",
                        data={"page_size": "Letter", "change_note": "For the steering group", **PUBLISH})
    assert first.status_code == 302
    client.post(f"/studies/{study.id}/report/publish", data={"page_size": "A4", **PUBLISH})
    versions = db.session.scalars(sa.select(PublishedReport).order_by(PublishedReport.version)).all()
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].page_size == "Letter" and versions[0].change_note == "For the steering group"
    assert versions[0].published_by_id == study.owner.id
    assert versions[0].sha256 == hashlib.sha256(versions[0].pdf).hexdigest()
    assert "Version 2" in pdf_text(versions[1].pdf)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "report.publish")) == 2


def test_published_version_downloads_byte_identical_after_the_study_changes(client, login, study, published,
                                                                           db):
    frozen = published.sha256
    study.title = "Renamed study"
    services.save_narrative(study, study.owner, version=1, executive_summary="Completely rewritten.")
    study.tasks[0].title = "A different task"
    db.session.commit()
    login(study.owner)
    response = client.get(f"/reports/{published.id}/download")
    assert response.status_code == 200
    assert hashlib.sha256(response.data).hexdigest() == frozen
    assert "Renamed study" not in pdf_text(response.data)


def test_too_long_change_note_shows_a_form_error(client, login, study, db):
    login(study.owner)
    response = client.post(f"/studies/{study.id}/report/publish", data={"page_size": "A4",
                                                                        "change_note": "x" * 2001})
    assert response.status_code == 400
    assert "2000" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedReport)) == 0


def test_study_report_page_lists_versions_with_hash_prefix(client, login, study, published):
    login(study.owner)
    page = client.get(f"/studies/{study.id}/report").get_data(as_text=True)
    assert published.sha256[:12] in page
    assert "First issue" in page
    assert f"/reports/{published.id}/download" in page
    assert "Publish new version" in page and "Download draft PDF" in page


def test_client_of_the_organisation_downloads_with_filename_and_type(client, login, make_user, study,
                                                                    published):
    login(make_user(Role.CLIENT, organisation=study.organisation))
    response = client.get(f"/reports/{published.id}/download")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=mobile-banking-payments-report-v1.pdf")
    assert response.data == published.pdf


def test_portal_lists_only_the_clients_own_versions_and_is_their_home(client, login, make_user, make_study,
                                                                     study, published, db):
    other = make_study(title="Someone else's study")
    services.publish(other, other.owner)
    db.session.commit()
    login(make_user(Role.CLIENT, organisation=study.organisation))
    page = client.get("/portal").get_data(as_text=True)
    assert "Mobile banking: payments" in page
    assert f"/reports/{published.id}/download" in page
    assert "Someone else" not in page
    assert client.get("/").location == "/portal"
    assert ">Home<" not in page  # one page for their reports, not two near-identical ones


@pytest.mark.parametrize("role", [Role.OBSERVER, Role.RESEARCHER])
def test_portal_is_for_clients_only(client, login, make_user, role):
    login(make_user(role))
    assert client.get("/portal").status_code == 403


def test_client_of_another_organisation_gets_404(client, login, make_user, published):
    login(make_user(Role.CLIENT))
    assert client.get(f"/reports/{published.id}/download").status_code == 404


def test_observer_of_the_study_gets_404(client, login, make_user, make_session, study, published):
    observer = make_user(Role.OBSERVER)
    make_session(study=study, observers=[observer])
    login(observer)
    assert client.get(f"/reports/{published.id}/download").status_code == 404
    assert client.get(f"/studies/{study.id}/report/draft").status_code == 404
    assert client.post(f"/studies/{study.id}/report/publish", data={"page_size": "A4"}).status_code == 404
    assert client.post(f"/reports/{published.id}/share-links", data={"days": 5}).status_code == 404


def test_other_researcher_cannot_see_draft_or_versions(client, login, make_user, study, published):
    login(make_user(Role.RESEARCHER))
    assert client.get(f"/studies/{study.id}/report").status_code == 404
    assert client.get(f"/studies/{study.id}/report/draft").status_code == 404
    assert client.get(f"/reports/{published.id}/download").status_code == 404


def test_anonymous_user_is_sent_to_sign_in_without_the_pdf(client, study, published):
    for url in (f"/reports/{published.id}/download", f"/studies/{study.id}/report/draft", "/portal"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert b"%PDF" not in response.data


def test_missing_report_is_404(client, login, study):
    login(study.owner)
    assert client.get("/reports/999/download").status_code == 404


def _share(client, published, days=7) -> str:
    client.post(f"/reports/{published.id}/share-links", data={"days": days})
    page = client.get(f"/studies/{published.study_id}/report").get_data(as_text=True)
    start = page.index("http://localhost/shared/")
    return page[start:page.index('"', start)].removeprefix("http://localhost")


def test_share_link_downloads_without_an_account_until_revoked(app, client, login, study, published, db):
    login(study.owner)
    url = _share(client, published)
    anonymous = app.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200 and response.data == published.pdf
    assert response.headers["Content-Disposition"].startswith("attachment")
    link = db.session.scalar(sa.select(ShareLink))
    assert client.post(f"/share-links/{link.id}/revoke", data={"confirmed": "yes"}).status_code == 302
    assert anonymous.get(url).status_code == 404


def test_expired_share_link_is_404(app, client, login, study, published, db):
    login(study.owner)
    url = _share(client, published, days=1)
    link = db.session.scalar(sa.select(ShareLink))
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert app.test_client().get(url).status_code == 404


def test_forged_share_token_is_404(client, published, db):
    link = services.create_share_link(published, None, 3)
    db.session.commit()
    token = services.share_token(link)
    assert client.get(f"/shared/{token[:-2]}xx").status_code == 404
    assert client.get("/shared/not-a-token").status_code == 404


def test_share_link_days_are_validated(client, login, study, published, db):
    login(study.owner)
    response = client.post(f"/reports/{published.id}/share-links", data={"days": 365})
    assert response.status_code == 400
    assert "between 1 and 90 days" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ShareLink)) == 0


@pytest.mark.config(MAIL_SERVER="127.0.0.1", PUBLIC_URL="https://ux.example.org")
def test_publishing_mails_the_clients_a_portal_link_not_the_pdf(client, login, make_user, study, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "send_mail", lambda message, **kw: sent.append((message, kw)) or True)
    first = make_user(Role.CLIENT, organisation=study.organisation, email="ada@northwind.example")
    make_user(Role.CLIENT, organisation=study.organisation, email="bo@northwind.example")
    make_user(Role.CLIENT, email="stranger@elsewhere.example")
    make_user(Role.CLIENT, organisation=study.organisation, email="gone@northwind.example", active=False)
    login(study.owner)
    question = client.post(f"/studies/{study.id}/report/publish", data={"page_size": "A4", **GAPS_OK})
    assert "2 client users of Northwind will be e-mailed" in question.get_data(as_text=True)
    assert sent == []
    response = client.post(f"/studies/{study.id}/report/publish",
                           data={"page_size": "A4", **PUBLISH}, follow_redirects=True)
    assert "2 client users will get an email" in response.get_data(as_text=True)
    assert sorted(m["To"] for m, _ in sent) == ["ada@northwind.example", "bo@northwind.example"]
    message, options = sent[0]
    assert options == {"purpose": "report_published", "study_id": study.id}
    body = message.get_content()
    assert "https://ux.example.org/portal" in body and first.name in body
    assert not any(part.get_content_type() == "application/pdf" for part in message.walk())


def test_without_mail_publishing_says_nobody_was_notified(client, login, study):
    login(study.owner)
    page = client.post(f"/studies/{study.id}/report/publish", data={"page_size": "A4", **PUBLISH},
                       follow_redirects=True).get_data(as_text=True)
    assert "Mail is not configured" in page


def test_cli_builds_a_draft_and_publishes(runner, study, tmp_path, db):
    out = tmp_path / "draft.pdf"
    result = runner.invoke(args=["report", "build", str(study.id), "--out", str(out),
                                 "--page-size", "Letter"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    result = runner.invoke(args=["report", "publish", str(study.id), "--note", "CLI issue",
                                 "--by", study.owner.email])
    assert result.exit_code != 0 and "say why this version is published" in result.output
    assert "Missing: Executive summary: Executive summary" in result.output
    result = runner.invoke(args=["report", "publish", str(study.id), "--note", "CLI issue",
                                 "--by", study.owner.email, "--reason", "Interim read-out"])
    assert result.exit_code == 0, result.output
    assert "Published version 1" in result.output
    report = db.session.scalar(sa.select(PublishedReport))
    assert report.change_note == "CLI issue" and report.published_by_id == study.owner.id
    assert report.gap_reason == "Interim read-out" and report.gaps


def test_cli_reports_unknown_study_and_publisher(runner, study):
    result = runner.invoke(args=["report", "build", "999", "--out", "/tmp/never.pdf"])
    assert result.exit_code != 0 and "no study with id 999" in result.output
    result = runner.invoke(args=["report", "publish", str(study.id), "--by", "nobody@example.com"])
    assert result.exit_code != 0 and "no researcher or admin" in result.output


def test_study_overview_page_shows_the_report_panel(client, login, study, published):
    login(study.owner)
    page = client.get(f"/studies/{study.id}").get_data(as_text=True)
    # The study has gaps: the overview leads to the pre-publish check instead of publishing at once.
    assert "Check and publish" in page and "Publish new version" not in page
    assert published.sha256[:12] in page
    assert f'name="next" value="/studies/{study.id}"' in page


def test_simultaneous_publish_of_the_same_number_is_reported_not_crashed(client, login, study, published,
                                                                         monkeypatch, db):
    monkeypatch.setattr(services, "next_version", lambda _study: 1)
    login(study.owner)
    page = client.post(f"/studies/{study.id}/report/publish", data={"page_size": "A4", **PUBLISH},
                       follow_redirects=True).get_data(as_text=True)
    assert "Another version was published at the same moment" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedReport)) == 1
