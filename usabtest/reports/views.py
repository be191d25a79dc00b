"""Pages of the reports domain: drafts, publishing, versions, share links and the client portal."""

from __future__ import annotations

from io import BytesIO

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy.orm import defer, selectinload

from usabtest import policy
from usabtest.accounts.models import Role
from usabtest.core import confirm
from usabtest.core.confirm import Confirmation, plural
from usabtest.core.errors import DomainError, InvalidInput, discard_changes
from usabtest.core.forms import form_status, show_conflict, show_refusal
from usabtest.core.mail import mail_configured
from usabtest.core.urls import safe_next
from usabtest.core.versioning import StaleVersion
from usabtest.extensions import db
from usabtest.planning.models import Study
from usabtest.reports import charts, checks, formats, html, markdown, narrative, outline, services
from usabtest.reports.forms import DraftForm, NarrativeForm, PublishForm, ShareLinkForm, WithdrawForm
from usabtest.reports.models import PublishedReport, ShareLink

bp = Blueprint("reports", __name__)


@bp.app_template_filter("markdown")
def markdown_filter(text: str | None) -> Markup:
    """A researcher's Markdown text as safe HTML (raw HTML in it is shown as text)."""
    return Markup(markdown.to_html(text))


def _fix_url(fix: checks.Fix | None) -> str | None:
    if fix is None:
        return None
    return url_for(fix.endpoint, **dict(fix.args), _anchor=fix.anchor or None)


def publish_check(study: Study) -> dict:
    """The pre-publish check of `study` with a link to where each gap is filled in."""
    check = checks.check_study(study)
    return {
        "elements": [(element, _fix_url(element.fix)) for element in check.elements],
        "concerns": [(concern, _fix_url(concern.fix)) for concern in check.concerns],
        "missing": len(check.missing), "gaps": check.gaps,
    }


def report_panel(study: Study, publish_form: PublishForm | None = None,
                 share_form: ShareLinkForm | None = None, with_check: bool = False,
                 withdraw_form: WithdrawForm | None = None) -> dict | None:
    """What `reports/_study_panel.html` shows for `study`; None for users who may not manage it.

    `with_check`: show the pre-publish check in full (the report page). Elsewhere a study with gaps
    offers no Publish button, only the way to the check: publishing with gaps needs a reason.
    """
    if not policy.can_manage_study(current_user, study):
        return None
    versions = db.session.scalars(
        db.select(PublishedReport).where(PublishedReport.study_id == study.id)
        .options(defer(PublishedReport.pdf), selectinload(PublishedReport.published_by),
                 selectinload(PublishedReport.withdrawn_by))
        .order_by(PublishedReport.version.desc())
    ).all()
    links = db.session.scalars(
        db.select(ShareLink).join(PublishedReport).where(PublishedReport.study_id == study.id)
        .order_by(ShareLink.created_at.desc())
    ).all()
    here = request.full_path.rstrip("?") if request else ""
    written = services.narrative_of(study).texts()
    return {
        "texts_written": sum(1 for text in written.values() if text.strip()),
        "texts_total": len(written),
        "draft_form": DraftForm(formdata=None),
        "publish_form": publish_form or PublishForm(formdata=None, next=here),
        "share_form": share_form or ShareLinkForm(formdata=None, next=here),
        "withdraw_form": withdraw_form or WithdrawForm(formdata=None, next=here),
        "versions": versions,
        "links": [(link, services.link_is_live(link) and not link.report.withdrawn,
                   services.share_token(link)) for link in links],
        "mail_on": mail_configured(),
        "check": publish_check(study),
        "show_check": with_check,
    }


def study_panel(study: Study) -> tuple[str, dict] | None:
    """The report panel on the study overview, for the study's managers only."""
    panel = report_panel(study)
    return None if panel is None else ("reports/_study_panel.html", panel)


def _report_page(study: Study, status: int = 200, publish_form: PublishForm | None = None,
                 share_form: ShareLinkForm | None = None, withdraw_form: WithdrawForm | None = None,
                 **context):
    """The study's report page; a refused form comes back with its errors in the panel."""
    panel = report_panel(study, publish_form, share_form, with_check=True, withdraw_form=withdraw_form)
    return render_template("reports/study.html", study=study, reports_panel=panel, **context), status


def _managed_study(study_id: int) -> Study:
    return policy.get_or_404(Study, study_id, policy.can_manage_study)


def _back(target: str | None, study: Study):
    return redirect(safe_next(target) or url_for("reports.study_reports", study_id=study.id))


def _pdf_response(data: bytes, filename: str):
    response = send_file(BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/studies/<int:study_id>/report")
@login_required
def study_reports(study_id: int):
    """The study's report: draft download, publishing, versions and share links."""
    return _report_page(_managed_study(study_id))


@bp.route("/studies/<int:study_id>/report/texts", methods=["GET", "POST"])
@login_required
def texts(study_id: int):
    """Write the report's texts: summary, introduction, method and contact details (Markdown)."""
    study = _managed_study(study_id)
    record = services.narrative_of(study)
    form = NarrativeForm()
    if request.method == "GET":
        form.fill(record.texts(), record.version)
    elif form.validate_on_submit():
        try:
            services.save_narrative(study, current_user, version=form.based_on(),
                                    **{name: form[name].data or "" for name in narrative.NAMES})
        except StaleVersion as exc:
            show_conflict(form, exc, exc.record.texts())
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Report texts saved.", "success")
            return redirect(url_for("reports.texts", study_id=study.id))
    return render_template("reports/texts.html", study=study, form=form, saved=services.narrative_of(study),
                           groups=narrative.by_part(), limit=narrative.MAX_LENGTH), form_status(form)


@bp.get("/studies/<int:study_id>/report/draft")
@login_required
def draft(study_id: int):
    """Download the current draft as PDF."""
    study = _managed_study(study_id)
    form = DraftForm(request.args)
    if not form.validate():
        flash("Choose A4 or Letter as the page size.", "error")
        return redirect(url_for("reports.study_reports", study_id=study.id))
    return _pdf_response(services.render_draft(study, form.page_size.data), services.draft_name(study))


def _publish_question(study: Study, form: PublishForm, gaps: list[str]) -> Confirmation:
    version = services.next_version(study)
    clients = len(services.client_recipients(study))
    org = study.organisation.name
    if not mail_configured():
        told = "Mail is not configured on this server, so nobody is notified: tell the client yourself."
    elif clients:
        told = f"{plural(clients, 'client user')} of {org} will be e-mailed a link to their portal."
    else:
        told = f"{org} has no active client users, so nobody is e-mailed."
    return Confirmation(
        title=f"Publish version {version} of the report on “{study.title}”?",
        consequences=[f"Version {version} is frozen as it stands now ({form.page_size.data}); published "
                      "versions never change: to correct it, publish another version.",
                      *([f"It goes out with {plural(len(gaps), 'gap')} the pre-publish check found; your "
                         "reason is kept with the version."] if gaps else []),
                      f"Client users of {org} can download it from their portal at once.", told],
        confirm_label=f"Publish version {version}", danger=False,
        cancel_url=safe_next(form.next.data) or url_for("reports.study_reports", study_id=study.id),
    )


@bp.post("/studies/<int:study_id>/report/publish")
@login_required
def publish(study_id: int):
    """Freeze the current report as the next version and tell the client."""
    study = _managed_study(study_id)
    form = PublishForm()
    if not form.validate():
        return _report_page(study, 400, publish_form=form)
    gaps = checks.check_study(study).gaps
    if gaps and not (form.gap_reason.data or "").strip():
        form.gap_reason.errors = [f"The check below found {plural(len(gaps), 'gap')}: fill them in, or say "
                                  "why this version is published with them."]
        return _report_page(study, 400, publish_form=form)
    if not confirm.confirmed():
        return confirm.ask(_publish_question(study, form, gaps))
    try:
        report = services.publish(study, current_user, form.page_size.data, form.change_note.data or "",
                                  gap_reason=form.gap_reason.data or "")
    except InvalidInput as exc:
        show_refusal(form, exc)
        return _report_page(study, 400, publish_form=form)
    except DomainError as exc:
        discard_changes()
        flash(exc.message, "error")
        return _back(form.next.data, study)
    mailed = services.notify_clients(report)
    message = f"Version {report.version} published."
    if mailed:
        people = "client user" if mailed == 1 else "client users"
        message += f" {mailed} {people} will get an email with a link to the portal."
    elif mail_configured():
        message += " The client organisation has no active client users to notify."
    else:
        message += " Mail is not configured, so nobody was notified."
    flash(message, "success")
    return _back(form.next.data, study)


def _html_view(document, downloads: list[tuple[str, str]]):
    """A report as the accessible HTML page, drawn from the same data as its PDF."""
    return render_template(
        "reports/version.html", doc=document, downloads=downloads, headline=outline.headline(document),
        figures=html.figure_images(document), image_src=html.image_src, task_facts=outline.task_facts,
        overview_header=outline.OVERVIEW_HEADER, overview_row=outline.overview_row,
        finding_meta=outline.finding_meta, findings_intro=outline.FINDINGS_INTRO,
        recommendation_label=outline.recommendation_label, evidence_attribution=outline.evidence_attribution,
        screenshot_caption=outline.screenshot_caption,
        related_findings=lambda task: outline.related_findings(document, task),
        format_seconds=charts.format_seconds)


def _file_response(data: bytes, filename: str, mimetype: str):
    response = send_file(BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename,
                         max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _version_downloads(report: PublishedReport) -> list[tuple[str, str]]:
    downloads = [(f"Download PDF ({report.page_size})", url_for("reports.download", report_id=report.id))]
    if policy.can_manage_study(current_user, report.study):
        downloads += [(label, url_for("reports.version_file", report_id=report.id, file_format=kind))
                      for label, kind in (("Word document (DOCX)", "docx"),
                                          ("Findings slides (PPTX)", "pptx"))]
    return downloads


@bp.get("/reports/<int:report_id>/view")
@login_required
def view(report_id: int):
    """A published version as an accessible page, for whoever may download its PDF."""
    report = policy.get_or_404(PublishedReport, report_id, policy.can_download_report)
    return _html_view(services.version_document(report), _version_downloads(report))


@bp.get("/reports/<int:report_id>/download.<any(docx, pptx):file_format>")
@login_required
def version_file(report_id: int, file_format: str):
    """A published version as Word document or findings slides, for the study's researchers."""
    report = policy.get_or_404(PublishedReport, report_id,
                               lambda user, r: policy.can_manage_study(user, r.study))
    data = formats.render(file_format, services.version_document(report))
    return _file_response(data, services.download_name(report, file_format), formats.MIMETYPES[file_format])


@bp.get("/studies/<int:study_id>/report/draft/view")
@login_required
def draft_view(study_id: int):
    """The current draft as the page clients will read once it is published."""
    study = _managed_study(study_id)
    downloads = [("Download PDF (A4)", url_for("reports.draft", study_id=study.id, page_size="A4"))]
    downloads += [(label, url_for("reports.draft_file", study_id=study.id, file_format=kind))
                  for label, kind in (("Word document (DOCX)", "docx"), ("Findings slides (PPTX)", "pptx"))]
    return _html_view(services.draft_document(study), downloads)


@bp.get("/studies/<int:study_id>/report/draft.<any(docx, pptx):file_format>")
@login_required
def draft_file(study_id: int, file_format: str):
    """The current draft as Word document or findings slides."""
    study = _managed_study(study_id)
    data = formats.render(file_format, services.draft_document(study))
    return _file_response(data, services.draft_name(study, file_format), formats.MIMETYPES[file_format])


@bp.get("/reports/<int:report_id>/download")
@login_required
def download(report_id: int):
    """A published version, byte for byte as it was frozen."""
    report = policy.get_or_404(PublishedReport, report_id, policy.can_download_report)
    return _pdf_response(report.pdf, services.download_name(report))


def _withdraw_question(report: PublishedReport, reason: str, next_url: str | None) -> Confirmation:
    study = report.study
    org = study.organisation.name
    links = sum(1 for link in db.session.scalars(sa.select(ShareLink).where(ShareLink.report_id == report.id))
                if services.link_is_live(link))
    clients = len(services.client_recipients(study))
    if not mail_configured():
        told = "Mail is not configured on this server, so nobody is told: tell the client yourself."
    elif clients:
        told = (f"{plural(clients, 'client user')} of {org} will be e-mailed that it was withdrawn, "
                "with your reason.")
    else:
        told = f"{org} has no active client users, so nobody is e-mailed."
    return Confirmation(
        title=f"Withdraw version {report.version} of the report on “{study.title}”?",
        consequences=[f"Client users of {org} no longer see or download version {report.version}.",
                      (f"{plural(links, 'live share link')} to it stop{'s' if links == 1 else ''} working."
                       if links else "It has no live share link."),
                      f"Researchers keep it, marked withdrawn, with your reason: “{reason}”.", told,
                      "This cannot be undone: publish a new version if the client needs a report again."],
        confirm_label=f"Withdraw version {report.version}",
        cancel_url=safe_next(next_url) or url_for("reports.study_reports", study_id=study.id))


@bp.route("/reports/<int:report_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(report_id: int):
    """Take a published version back from the client, with a reason (asks first)."""
    report = policy.get_or_404(PublishedReport, report_id,
                               lambda user, r: policy.can_manage_study(user, r.study))
    study = report.study
    if request.method == "GET":
        return _back(request.args.get("next"), study)
    form = WithdrawForm()
    if not form.validate():
        return _report_page(study, 400, withdraw_form=form, withdraw_report_id=report.id)
    if report.withdrawn:
        flash(f"Version {report.version} was already withdrawn.", "info")
        return _back(form.next.data, study)
    if not confirm.confirmed():
        return confirm.ask(_withdraw_question(report, form.reason.data.strip(), form.next.data))
    try:
        services.withdraw(report, current_user, form.reason.data)
    except InvalidInput as exc:
        show_refusal(form, exc)
        return _report_page(study, 400, withdraw_form=form, withdraw_report_id=report.id)
    except DomainError as exc:
        discard_changes()
        flash(exc.message, "error")
        return _back(form.next.data, study)
    mailed = services.notify_withdrawal(report)
    message = f"Version {report.version} withdrawn: the client no longer sees it."
    if mailed:
        message += f" {plural(mailed, 'client user')} will be told by email."
    elif not mail_configured():
        message += " Mail is not configured, so nobody was told."
    flash(message, "success")
    return _back(form.next.data, study)


@bp.post("/reports/<int:report_id>/share-links")
@login_required
def create_share_link(report_id: int):
    """Create an expiring share link for one version."""
    report = db.get_or_404(PublishedReport, report_id)
    policy.require(policy.can_manage_study(current_user, report.study))
    form = ShareLinkForm()
    if not form.validate():
        return _report_page(report.study, 400, share_form=form, share_report_id=report.id)
    if report.withdrawn:
        flash(f"Version {report.version} was withdrawn: it cannot be shared.", "error")
        return _back(form.next.data, report.study)
    link = services.create_share_link(report, current_user, form.days.data)
    flash(f"Share link for version {report.version} created; it works until "
          f"{link.expires_at:%d %b %Y} (UTC) unless you revoke it.", "success")
    return _back(form.next.data, report.study)


@bp.route("/share-links/<int:link_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_share_link(link_id: int):
    """Stop a share link from working (asks first while it is live)."""
    link = db.get_or_404(ShareLink, link_id)
    study = link.report.study
    policy.require(policy.can_manage_study(current_user, study))
    if services.link_is_live(link) and not confirm.confirmed():
        return confirm.ask(Confirmation(
            title=f"Revoke this share link to version {link.report.version}?",
            consequences=[f"Anyone holding the link can no longer download version {link.report.version} "
                          f"(it would have worked until {link.expires_at:%d %b %Y}, UTC).",
                          "This cannot be undone: create a new link if someone still needs the report."],
            confirm_label="Revoke link",
            cancel_url=safe_next(request.values.get("next"))
            or url_for("reports.study_reports", study_id=study.id)))
    if request.method == "GET":
        return _back(request.args.get("next"), study)
    services.revoke_share_link(link, current_user)
    flash("Share link revoked.", "success")
    return _back(request.form.get("next"), study)


@bp.get("/shared/<token>")
def shared(token: str):
    """Download through a share link; forged, expired or revoked links are 404."""
    report = services.report_for_token(token)
    if report is None:
        abort(404)
    return _pdf_response(report.pdf, services.download_name(report))


@bp.get("/portal")
@policy.role_required(Role.CLIENT)
def portal():
    """A client's studies and their published versions."""
    reports = db.session.scalars(
        policy.published_reports_visible_to(current_user)
        .options(defer(PublishedReport.pdf), selectinload(PublishedReport.study))
        .order_by(Study.title, Study.id, PublishedReport.version.desc())
    ).all()
    studies: dict[int, tuple[Study, list[PublishedReport]]] = {}
    for report in reports:
        studies.setdefault(report.study_id, (report.study, []))[1].append(report)
    return render_template("reports/portal.html", studies=list(studies.values()))
