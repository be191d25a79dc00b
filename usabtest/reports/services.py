"""Drafts, frozen published versions, client notification and share links.

Services change models and flush; the caller (view or CLI) commits once.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from usabtest.accounts.models import Role, User
from usabtest.core import audit
from usabtest.core.errors import Conflict, InvalidInput, NotFound
from usabtest.core.mail import header_text, send_mail
from usabtest.core.versioning import StaleVersion, claim
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.planning.models import Study
from usabtest.reports import checks, narrative, pdf, snapshot
from usabtest.reports.data import build_report_data
from usabtest.reports.document import DRAFT_LABEL, ReportData
from usabtest.reports.models import PublishedReport, ReportNarrative, ShareLink

SHARE_SALT = "usabtest.report-share-link"
SHARE_DAYS_DEFAULT = 14
SHARE_DAYS_MAX = 90


def narrative_of(study: Study) -> ReportNarrative:
    """The study's report texts; a blank, unsaved set at version 1 when none was written yet."""
    found = db.session.scalar(sa.select(ReportNarrative).where(ReportNarrative.study_id == study.id))
    return found or ReportNarrative(study_id=study.id, version=1, **dict.fromkeys(narrative.NAMES, ""))


def save_narrative(study: Study, actor: User | None, *, version: int | None, **texts: str) -> ReportNarrative:
    """Change the report texts given in `texts`, as edited from `version` of them.

    Texts are kept as written (Markdown), without surrounding blank space. The first save creates
    the study's row; two first saves at the same moment are told apart like any other edit.
    """
    unknown = set(texts) - set(narrative.NAMES)
    if unknown:
        raise InvalidInput(f"unknown report text: {', '.join(sorted(unknown))}")
    for name, value in texts.items():
        if len(value) > narrative.MAX_LENGTH:
            raise InvalidInput(f"{narrative.LABELS[name]} is {len(value):,} characters long; the limit is "
                               f"{narrative.MAX_LENGTH:,}.", name)
    record = narrative_of(study)
    if record.id is None:
        if version != 1:
            # Nothing saved yet means version 1: any other number was not read from this server.
            raise Conflict(f"The report texts are at version 1 (none saved yet), not {version}: "
                           "reload them and save again.", "version")
        try:
            with db.session.begin_nested():
                db.session.add(record)
        except IntegrityError:
            # Someone saved the first texts a moment earlier: this change was based on none of them.
            raise StaleVersion(_created_meanwhile(study), version) from None
    claim(record, version)
    for name, value in texts.items():
        setattr(record, name, value.strip())
    audit.record(actor, "report.narrative.update", record,
                 {"study_id": study.id, "fields": sorted(texts)})
    db.session.flush()
    return record


def _created_meanwhile(study: Study) -> ReportNarrative:
    db.session.expire_all()
    return narrative_of(study)


def render_draft(study: Study, page_size: str = "A4") -> bytes:
    """The study's current report as PDF bytes, labelled as a draft."""
    return pdf.render(build_report_data(study.id, DRAFT_LABEL), page_size)


def draft_document(study: Study) -> ReportData:
    """The study's current report as plain data, labelled as a draft (for the DOCX and PPTX)."""
    return build_report_data(study.id, DRAFT_LABEL)


def version_document(report: PublishedReport) -> ReportData:
    """What `report` showed when it was published, for its other formats.

    NotFound for a version published before snapshots were kept: only its PDF exists.
    """
    if report.document is None:
        raise NotFound(f"Version {report.version} was published before reports were kept in other formats: "
                       "only its PDF exists. Publish a new version to get them.")
    return snapshot.decode(report.document)


def next_version(study: Study) -> int:
    """The number the next published version of `study` gets."""
    current = db.session.scalar(
        sa.select(sa.func.max(PublishedReport.version)).where(PublishedReport.study_id == study.id)
    )
    return (current or 0) + 1


def publish(study: Study, publisher: User | None, page_size: str = "A4",
            change_note: str = "", gap_reason: str | None = None) -> PublishedReport:
    """Freeze the current report as the study's next numbered version.

    The pre-publish check's gaps are stored with the version. People publishing (the pages, the
    CLI) pass `gap_reason`: when the check finds gaps it must say why the version goes out anyway.
    `None` publishes without asking (demo data, tests, scripts that build their own studies).
    """
    if page_size not in pdf.PAGE_SIZES:
        raise InvalidInput("Choose A4 or Letter as the page size.", "page_size")
    gaps = checks.check_study(study).gaps
    reason = (gap_reason or "").strip()
    if gap_reason is not None and gaps and not reason:
        raise InvalidInput(f"The pre-publish check found {len(gaps)} gap{'s' if len(gaps) != 1 else ''}: "
                           "fill them in, or say why this version is published with them.", "gap_reason")
    version = next_version(study)
    # The version is dated by its publication, to the second: the title page, the file's creation
    # date and the record all say the same moment.
    published_at = utcnow().replace(microsecond=0)
    document = replace(build_report_data(study.id, f"Version {version}"), generated_on=published_at)
    data = pdf.render(document, page_size)
    report = PublishedReport(
        study_id=study.id, version=version, pdf=data, sha256=hashlib.sha256(data).hexdigest(),
        document=snapshot.encode(document), page_size=page_size, change_note=(change_note or "").strip(),
        published_by=publisher, published_at=published_at, gaps=gaps, gap_reason=reason,
    )
    try:
        # A savepoint: if someone published this number a moment earlier, only this insert is
        # undone and the request can still answer (and roll back) cleanly.
        with db.session.begin_nested():
            db.session.add(report)
    except IntegrityError:
        raise Conflict("Another version was published at the same moment. Check the list and publish "
                       "again if needed.") from None
    audit.record(publisher, "report.publish", report,
                 {"study_id": study.id, "version": version, "sha256": report.sha256, "gaps": len(gaps),
                  "gap_reason": reason})
    return report


WITHDRAW_REASON_MAX = 2000


def withdraw(report: PublishedReport, actor: User | None, reason: str) -> None:
    """Take `report` back from the client: off the portal, its share links dead; researchers keep it."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why this version is withdrawn: the reason is kept with it.", "reason")
    if len(reason) > WITHDRAW_REASON_MAX:
        raise InvalidInput(f"Keep the reason under {WITHDRAW_REASON_MAX:,} characters.", "reason")
    if report.withdrawn:
        raise Conflict(f"Version {report.version} was already withdrawn on {report.withdrawn_at:%d %b %Y}.")
    # One statement decides between two people withdrawing at the same moment.
    table = PublishedReport.__table__
    now = utcnow()
    taken = db.session.execute(
        sa.update(table).where(table.c.id == report.id, table.c.withdrawn_at.is_(None))
        .values(withdrawn_at=now, withdrawn_by_id=getattr(actor, "id", None), withdraw_reason=reason)
    ).rowcount
    db.session.refresh(report)
    if taken != 1:
        raise Conflict(f"Version {report.version} was withdrawn by someone else a moment ago.")
    audit.record(actor, "report.withdraw", report,
                 {"study_id": report.study_id, "version": report.version, "reason": reason})
    db.session.flush()


def notify_withdrawal(report: PublishedReport) -> int:
    """Tell each active client user of the organisation that `report` was withdrawn; returns how many."""
    study = report.study
    queued = 0
    for user in client_recipients(study):
        message = EmailMessage()
        message["To"] = user.email
        message["Subject"] = header_text(f"Report withdrawn: {study.title} (version {report.version})")
        message.set_content(
            f"Hello {user.name},\n\nVersion {report.version} of the usability report for \"{study.title}\" "
            f"has been withdrawn and can no longer be downloaded.\n\nReason: {report.withdraw_reason}\n\n"
            "Please do not pass on copies you may have kept. Published versions that remain are on your "
            f"portal:\n{_portal_url()}\n")
        queued += send_mail(message, purpose="report_withdrawn", study_id=study.id)
    return queued


def client_recipients(study: Study) -> list[User]:
    """The active client users of the study's organisation: who a publication notice goes to."""
    return list(db.session.scalars(
        sa.select(User).where(User.organisation_id == study.organisation_id, User.role == Role.CLIENT,
                              User.active.is_(True)).order_by(User.id)
    ))


def notify_clients(report: PublishedReport) -> int:
    """Queue a mail to each active client user of the study's organisation; returns how many.

    The mail links to the portal, never attaches the PDF: access stays behind sign-in.
    """
    study = report.study
    users = client_recipients(study)
    portal = _portal_url()
    queued = 0
    for user in users:
        message = EmailMessage()
        message["To"] = user.email
        message["Subject"] = header_text(f"New report: {study.title} (version {report.version})")
        message.set_content(_notification_text(user, report, portal))
        queued += send_mail(message, purpose="report_published", study_id=study.id)
    return queued


def _portal_url() -> str:
    # Built from PUBLIC_URL, not the request: the CLI has no request, and mails must not
    # carry whatever Host header a request happened to send.
    with current_app.test_request_context("/"):
        path = url_for("reports.portal")
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def _notification_text(user: User, report: PublishedReport, portal: str) -> str:
    note = f"\nWhat changed: {report.change_note}\n" if report.change_note else ""
    return (
        f"Hello {user.name},\n\n"
        f"Version {report.version} of the usability report for \"{report.study.title}\" has been "
        f"published.\n{note}\nSign in to read and download it:\n{portal}\n\n"
        "For your security the report is not attached to this mail.\n"
    )


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-") or "study"


def download_name(report: PublishedReport, extension: str = "pdf") -> str:
    """A safe file name such as "mobile-banking-app-report-v2.pdf"."""
    return f"{_slug(report.study.title)}-report-v{report.version}.{extension}"


def draft_name(study: Study, extension: str = "pdf") -> str:
    """File name of a draft download."""
    return f"{_slug(study.title)}-report-draft.{extension}"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SHARE_SALT)


def create_share_link(report: PublishedReport, creator: User | None, days: int) -> ShareLink:
    """A link to `report` that works without an account for `days` days, until revoked."""
    if not 1 <= days <= SHARE_DAYS_MAX:
        raise InvalidInput(f"A share link lasts between 1 and {SHARE_DAYS_MAX} days.", "days")
    link = ShareLink(report_id=report.id, expires_at=utcnow() + timedelta(days=days),
                     created_by_id=getattr(creator, "id", None))
    db.session.add(link)
    db.session.flush()
    audit.record(creator, "report.share_link.create", link, {"report_id": report.id, "days": days})
    return link


def revoke_share_link(link: ShareLink, actor: User | None) -> None:
    """Stop `link` from working (idempotent)."""
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.record(actor, "report.share_link.revoke", link, {"report_id": link.report_id})
        db.session.flush()


def share_token(link: ShareLink) -> str:
    """The signed token that identifies `link` in its URL."""
    return _serializer().dumps(link.id)


def link_is_live(link: ShareLink) -> bool:
    """Not revoked and not expired."""
    return link.revoked_at is None and link.expires_at > utcnow()


def report_for_token(token: str) -> PublishedReport | None:
    """The report a share token opens, or None if it is forged, expired or revoked."""
    try:
        # The expiry lives in the row (the creator chose it); max_age only bounds very old tokens.
        link_id = _serializer().loads(token, max_age=SHARE_DAYS_MAX * 86400 + 3600)
    except BadSignature:
        return None
    if not isinstance(link_id, int):
        return None
    link = db.session.get(ShareLink, link_id)
    if link is None or not link_is_live(link) or link.report.withdrawn:
        return None
    return link.report
