"""Pages of client organisations: the list, creating one, and one organisation with its people and studies.

An organisation is an accounts record, but its page also shows planning's studies and the reports
published for them, so it is composed here, on top of the domains, like the home pages. Who may
see, create, rename and staff an organisation is decided in `usabtest.policy`.
"""

from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from usabtest import policy
from usabtest.accounts import services
from usabtest.accounts.forms import ClientUserAddForm, ClientUserCreateForm, ConfirmForm, OrganisationForm
from usabtest.accounts.models import Organisation, Role, User
from usabtest.core.errors import DomainError, discard_changes
from usabtest.core.forms import show_refusal
from usabtest.core.urls import safe_next
from usabtest.extensions import db
from usabtest.planning.models import Study
from usabtest.reports.models import PublishedReport

bp = Blueprint("organisations", __name__)

STAFF = (Role.ADMIN, Role.RESEARCHER)


def _visible(org_id: int) -> Organisation:
    return policy.get_or_404(Organisation, org_id, policy.can_see_organisation)


@bp.get("/organisations")
@policy.role_required(*STAFF)
def index():
    """The organisations the user may see, with how many client users and studies each has."""
    orgs = db.session.scalars(
        policy.organisations_visible_to(current_user)
        .options(selectinload(Organisation.users)).order_by(Organisation.name_key)
    ).all()
    studies = _visible_studies([org.id for org in orgs])
    return render_template("organisations/index.html", orgs=orgs, studies=studies)


def _visible_studies(org_ids: list[int]) -> dict[int, list[Study]]:
    """Per organisation, the studies of it the user may open (others stay hidden from them)."""
    query = policy.studies_visible_to(current_user).where(Study.organisation_id.in_(org_ids))
    by_org: dict[int, list[Study]] = {org_id: [] for org_id in org_ids}
    for study in db.session.scalars(query.order_by(Study.title, Study.id)):
        by_org[study.organisation_id].append(study)
    return by_org


@bp.route("/organisations/new", methods=["GET", "POST"])
@policy.role_required(*STAFF)
def new():
    """Create a client organisation; another spelling of an existing name is refused, naming it."""
    policy.forbid_unless(policy.can_create_organisation(current_user))
    form = OrganisationForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    duplicate = None
    if form.validate_on_submit():
        try:
            org = services.create_organisation(form.name.data, current_user)
        except services.DuplicateOrganisation as exc:
            duplicate = exc.existing
            show_refusal(form, exc)
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Organisation “{org.name}” created.", "success")
            return redirect(_after_creation(org, form.next.data))
    return render_template(
        "organisations/new.html", form=form, duplicate=duplicate,
        duplicate_visible=duplicate is not None and policy.can_see_organisation(current_user, duplicate),
    ), 400 if form.errors else 200


def _after_creation(org: Organisation, next_page: str | None) -> str:
    """Back to the study form that asked for the organisation (with it chosen), else its page."""
    target = safe_next(next_page)
    if target and target.startswith("/studies/") and "?" not in target:
        return f"{target}?{urlencode({'organisation': org.id})}"
    return url_for("organisations.detail", org_id=org.id)


@bp.get("/organisations/<int:org_id>")
@policy.role_required(*STAFF)
def detail(org_id: int):
    """One organisation: its client users (admins manage them here) and the studies the user may open."""
    org = _visible(org_id)
    return _render_detail(org)


def _render_detail(org: Organisation, *, rename: OrganisationForm | None = None,
                   add: ClientUserAddForm | None = None, create: ClientUserCreateForm | None = None,
                   status: int = 200):
    manage = policy.can_manage_client_users(current_user, org)
    clients = db.session.scalars(
        sa.select(User).where(User.organisation_id == org.id).order_by(User.name, User.email)).all()
    studies = _visible_studies([org.id])[org.id]
    latest = _latest_reports([s.id for s in studies])
    if rename is None and policy.can_rename_organisation(current_user, org):
        rename = OrganisationForm(prefix="rename", formdata=None, name=org.name)
    if manage:
        add = add or ClientUserAddForm(prefix="add", formdata=None)
        _offer_client_users(add, org)
        create = create or ClientUserCreateForm(prefix="create", formdata=None)
    return render_template(
        "organisations/detail.html", org=org, clients=clients, studies=studies, latest=latest,
        manage=manage, rename=rename, add=add, create=create, confirm=ConfirmForm(),
    ), status


def _latest_reports(study_ids: list[int]) -> dict[int, int]:
    """The newest published version number of each study that has one."""
    query = (sa.select(PublishedReport.study_id, sa.func.max(PublishedReport.version))
             .where(PublishedReport.study_id.in_(study_ids)).group_by(PublishedReport.study_id))
    return {study_id: version for study_id, version in db.session.execute(query)}


def _offer_client_users(form: ClientUserAddForm, org: Organisation) -> None:
    """Client users not in `org`: those without an organisation first, then by organisation."""
    others = db.session.scalars(
        sa.select(User).options(selectinload(User.organisation))
        .where(User.role == Role.CLIENT,
               sa.or_(User.organisation_id.is_(None), User.organisation_id != org.id))
        .order_by(User.organisation_id.is_not(None), User.email)
    ).all()
    form.user.choices = [("", "Choose a client user")] + [
        (u.id, f"{u.name} <{u.email}> ({'in ' + u.organisation.name if u.organisation else 'no organisation'}"
               f"{'' if u.active else ', deactivated'})") for u in others]


def _managed(org_id: int) -> Organisation:
    org = _visible(org_id)
    policy.forbid_unless(policy.can_manage_client_users(current_user, org))
    return org


@bp.post("/organisations/<int:org_id>/rename")
@policy.role_required(*STAFF)
def rename(org_id: int):
    """Correct the organisation's name (the same duplicate rule as creating one)."""
    org = _visible(org_id)
    policy.forbid_unless(policy.can_rename_organisation(current_user, org))
    form = OrganisationForm(prefix="rename")
    if form.validate_on_submit():
        old = org.name
        try:
            services.rename_organisation(org, form.name.data, current_user)
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"“{old}” is now called “{org.name}”.", "success")
            return redirect(url_for("organisations.detail", org_id=org.id))
    return _render_detail(org, rename=form, status=400)


@bp.post("/organisations/<int:org_id>/clients")
@policy.role_required(Role.ADMIN)
def add_client(org_id: int):
    """Admin: put an existing client user into this organisation."""
    org = _managed(org_id)
    form = ClientUserAddForm(prefix="add")
    _offer_client_users(form, org)
    if form.validate_on_submit():
        user = db.session.get(User, form.user.data) if form.user.data else None
        if user is None:
            form.user.errors.append("Choose a client user from the list.")
        else:
            try:
                previous = services.add_client_user(org, user, current_user)
            except DomainError as exc:
                show_refusal(form, exc)
            else:
                moved = f" They no longer see the reports of {previous.name}." if previous else ""
                flash(f"{user.name} ({user.email}) now sees the reports of {org.name}.{moved}", "success")
                return redirect(url_for("organisations.detail", org_id=org.id))
    return _render_detail(org, add=form, status=400)


@bp.post("/organisations/<int:org_id>/clients/new")
@policy.role_required(Role.ADMIN)
def create_client(org_id: int):
    """Admin: create a client user of this organisation (as the user administration page does)."""
    org = _managed(org_id)
    form = ClientUserCreateForm(prefix="create")
    if form.validate_on_submit():
        try:
            user = services.create_user(email=form.email.data, name=form.name.data, role=Role.CLIENT,
                                        password=form.password.data, organisation=org, actor=current_user)
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Client user {user.email} created in {org.name}. Give them their initial password.",
                  "success")
            return redirect(url_for("organisations.detail", org_id=org.id))
    return _render_detail(org, create=form, status=400)


@bp.post("/organisations/<int:org_id>/clients/<int:user_id>/remove")
@policy.role_required(Role.ADMIN)
def remove_client(org_id: int, user_id: int):
    """Admin: take a client user out of this organisation (their account stays)."""
    org = _managed(org_id)
    user = db.get_or_404(User, user_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.remove_client_user(org, user, current_user)
        except DomainError as exc:
            discard_changes()
            flash(exc.message, "error")
        else:
            flash(f"{user.name} ({user.email}) no longer sees the reports of {org.name}. Their account "
                  "stays; add them to an organisation or deactivate it on the Users page.", "success")
    return redirect(url_for("organisations.detail", org_id=org.id))
