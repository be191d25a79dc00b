"""Sign-in, sign-out, profile, and the admin's user pages."""

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from usabtest.accounts import services
from usabtest.accounts.forms import (
    ConfirmForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    UserCreateForm,
    UserRoleForm,
)
from usabtest.accounts.models import Organisation, Role, User
from usabtest.core import confirm
from usabtest.core.audit import record
from usabtest.core.confirm import Confirmation, plural
from usabtest.core.errors import DomainError
from usabtest.core.forms import show_refusal
from usabtest.core.urls import safe_next
from usabtest.extensions import db, limiter
from usabtest.policy import role_required

bp = Blueprint("accounts", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.find_user_by_email(form.email.data)
        if services.check_password(user, form.password.data) and user.active:
            login_user(user, remember=form.remember.data)
            services.note_sign_in(user)
            return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
        if user is not None and not user.active and services.check_password(user, form.password.data):
            form.form_errors.append("This account is deactivated. Ask an administrator.")
        else:
            form.form_errors.append("Wrong email or password.")
    return render_template("accounts/login.html", form=form), 200 if not form.errors else 400


@bp.post("/logout")
@login_required
def logout():
    """Sign out here and everywhere: bumping the version voids copies of the cookie."""
    form = ConfirmForm()
    if form.validate_on_submit():
        services.revoke_sessions(current_user)
        record(current_user, "user.sign_out", current_user)
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """Name, time zone and password."""
    form = ProfileForm(obj=current_user, prefix="profile")
    password_form = PasswordChangeForm(prefix="password")
    if form.submit.data and form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.timezone = form.timezone.data
        flash("Profile saved.", "success")
        return redirect(url_for("accounts.profile"))
    if password_form.submit.data and password_form.validate_on_submit():
        if not services.check_password(current_user, password_form.current_password.data):
            password_form.current_password.errors.append("Current password is wrong.")
        else:
            services.change_password(current_user, password_form.new_password.data)
            login_user(current_user._get_current_object())  # stay signed in here, new version
            flash("Password changed. Other devices have been signed out.", "success")
            return redirect(url_for("accounts.profile"))
    status = 400 if form.errors or password_form.errors else 200
    return render_template(
        "accounts/profile.html", form=form, password_form=password_form
    ), status


@bp.route("/admin/users", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def admin_users():
    """List users and create new ones."""
    organisations = _all_organisations()
    form = UserCreateForm()
    form.set_organisations(organisations)
    if form.validate_on_submit():
        try:
            org = _organisation_for(form)
            user = services.create_user(
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                password=form.password.data,
                organisation=org,
                actor=current_user,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"User {user.email} created.", "success")
            return redirect(url_for("accounts.admin_users"))
    users = db.session.scalars(sa.select(User).order_by(User.role, User.email)).all()

    def role_form(**data) -> UserRoleForm:
        row = UserRoleForm(**data)
        row.set_organisations(organisations)
        return row

    return render_template(
        "admin/users.html", users=users, form=form, confirm=ConfirmForm(), role_form=role_form
    ), 400 if form.errors else 200


def _all_organisations() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).order_by(Organisation.name_key)))


def _organisation_for(form) -> Organisation | None:
    if form.role.data != Role.CLIENT.value:
        return None
    return db.session.get(Organisation, form.organisation.data)


def _deactivation_question(user: User) -> Confirmation:
    tokens = services.live_token_count(user)
    lines = [f"{user.name} can no longer sign in, and is signed out everywhere at once.",
             f"{plural(tokens, 'API token')} stop{'s' if tokens == 1 else ''} working." if tokens
             else "They have no API tokens.",
             "Their private calendar feed stops answering, and they can no longer be put on sessions.",
             "Sessions they are already on keep them listed: re-staff those you still need."]
    if user.role == Role.CLIENT:
        lines[2] = "Their organisation's report notices are no longer e-mailed to them."
        lines.pop()
    lines.append("Nothing they wrote is deleted. You can reactivate the account later.")
    return Confirmation(title=f"Deactivate {user.name} ({user.email})?", consequences=lines,
                        confirm_label="Deactivate", cancel_url=url_for("accounts.admin_users"),
                        fields={"active": "no"})


@bp.route("/admin/users/<int:user_id>/active", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def admin_toggle_active(user_id: int):
    """Deactivate (after asking) or reactivate a user."""
    user = db.get_or_404(User, user_id)
    if user.id == current_user.id:
        flash("You cannot deactivate yourself.", "error")
        return redirect(url_for("accounts.admin_users"))
    # The buttons name the state they want, so a repeated or stale click never flips it back.
    wanted = {"yes": True, "no": False}.get(request.form.get("active", ""), not user.active)
    if wanted == user.active:
        flash(f"{user.email} is already {'active' if user.active else 'deactivated'}.", "info")
        return redirect(url_for("accounts.admin_users"))
    if not wanted and not confirm.confirmed():
        return confirm.ask(_deactivation_question(user))
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        services.set_active(user, wanted, current_user)
        flash(f"{user.email} is now {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("accounts.admin_users"))


@bp.post("/admin/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def admin_change_role(user_id: int):
    """Change a user's role."""
    user = db.get_or_404(User, user_id)
    form = UserRoleForm(prefix=f"u{user.id}")
    form.set_organisations(_all_organisations())
    if form.validate_on_submit():
        if user.id == current_user.id:
            flash("You cannot change your own role.", "error")
            return redirect(url_for("accounts.admin_users"))
        services.set_role(user, Role(form.role.data), _organisation_for(form), current_user)
        flash(f"{user.email} is now {user.role.label}.", "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(f"{user.email}: {error}", "error")
    return redirect(url_for("accounts.admin_users"))
