"""Sign-in, sign-out, profile, and the admin's pages: users and the audit log."""

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from usabtest.accounts import services, signin, throttle
from usabtest.accounts.forms import (
    AuditFilterForm,
    ConfirmForm,
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    ResetPasswordForm,
    TokenCreateForm,
    UserCreateForm,
    UserRoleForm,
)
from usabtest.accounts.models import Organisation, Role, User
from usabtest.core import audit, confirm
from usabtest.core.audit import record
from usabtest.core.confirm import Confirmation, plural
from usabtest.core.errors import DomainError, keep_changes
from usabtest.core.forms import show_refusal
from usabtest.core.mail import mail_configured
from usabtest.core.schemas import MAX_PAGE
from usabtest.core.urls import safe_next
from usabtest.extensions import db, limiter
from usabtest.policy import role_required
from usabtest.timefmt import zone

bp = Blueprint("accounts", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password, throttled per account and per client address.

    Unknown, deactivated and wrong-password attempts do the same work (one password hash checked,
    the same rows written), so neither the answer's wording nor its timing tells them apart to
    someone without the password.
    """
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("accounts/login.html", form=form), 400 if form.errors else 200
    address, key = signin.client_address(), throttle.account_key(form.email.data)
    limits = signin.sign_in_limits()
    lockout, counts = throttle.sign_in_lockout(key, address, limits)
    if lockout is not None and signin.throttling_enabled():
        minutes = -(-lockout.retry_after // 60)
        where = "for this account" if lockout.scope == "account" else "from your network"
        form.form_errors.append(f"Too many failed sign-ins {where}. Try again in {minutes} "
                                f"minute{'s' if minutes != 1 else ''}, or reset your password.")
        response = make_response(render_template("accounts/login.html", form=form), 429)
        response.headers["Retry-After"] = str(lockout.retry_after)
        return response
    user = services.find_user_by_email(form.email.data)
    password_ok = services.check_password(user, form.password.data)  # a dummy hash when unknown
    if password_ok and user.active:
        signin.renew_csrf_secret()
        login_user(user, remember=form.remember.data)
        signin.begin(remember=form.remember.data)
        services.note_sign_in(user, address)
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    reason = "unknown account" if user is None else "wrong password" if not password_ok else "deactivated"
    throttle.note_sign_in_failure(user, key, address, reason, counts, limits)
    keep_changes()  # the failure counts (and is audited) although the page answers 400
    if reason == "deactivated":  # only someone who knows the password learns this
        form.form_errors.append("This account is deactivated. Ask an administrator.")
    else:
        form.form_errors.append("Wrong email or password.")
    return render_template("accounts/login.html", form=form), 400


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def forgot_password():
    """Ask for a reset link; the answer is the same whether or not the address has an account."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(
            form.email.data, lambda token: _public_url("accounts.reset_password", token=token))
        return render_template("accounts/forgot_sent.html", email=form.email.data.strip())
    return render_template("accounts/forgot.html", form=form,
                           mail_on=mail_configured()), 400 if form.errors else 200


def _public_url(endpoint: str, **values) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for(endpoint, **values)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def reset_password(token: str):
    """Choose a new password through a mailed link: works once, within the hour."""
    user = services.user_for_reset_token(token)
    if user is None:
        response = make_response(render_template("accounts/reset_invalid.html"), 404)
    else:
        form = ResetPasswordForm()
        if form.validate_on_submit():
            try:
                services.change_password(user, form.new_password.data, None, field="new_password",
                                         how="reset link")
            except DomainError as exc:
                show_refusal(form, exc)
            else:
                if current_user.is_authenticated:
                    logout_user()
                flash("Your password is changed. Sign in with it now.", "success")
                return redirect(url_for("accounts.login"))
        response = make_response(render_template("accounts/reset.html", form=form, user=user),
                                 400 if form.errors else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/logout")
@login_required
def logout():
    """Sign out here and everywhere: bumping the version voids copies of the cookie."""
    form = ConfirmForm()
    if form.validate_on_submit():
        services.revoke_sessions(current_user)
        record(current_user, "user.sign_out", current_user)
        logout_user()
        signin.end()
        flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """Name, time zone, password, API tokens."""
    form = ProfileForm(obj=current_user, prefix="profile")
    password_form = PasswordChangeForm(prefix="password")
    token_form = TokenCreateForm(prefix="token")
    if form.submit.data and form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.timezone = form.timezone.data
        flash("Profile saved.", "success")
        return redirect(url_for("accounts.profile"))
    if password_form.submit.data and password_form.validate_on_submit():
        if not services.check_password(current_user, password_form.current_password.data):
            password_form.current_password.errors.append("Current password is wrong.")
        else:
            try:
                services.change_password(current_user, password_form.new_password.data, field="new_password")
            except DomainError as exc:
                show_refusal(password_form, exc)
                return _profile_page(form, password_form, token_form, 400)
            login_user(current_user._get_current_object())  # stay signed in here, new version
            flash("Password changed. Other devices have been signed out and your API tokens revoked.",
                  "success")
            return redirect(url_for("accounts.profile"))
    status = 400 if form.errors or password_form.errors else 200
    return _profile_page(form, password_form, token_form, status)


def _profile_page(form, password_form, token_form, status: int = 200, new_token: str | None = None):
    response = make_response(render_template(
        "accounts/profile.html", form=form, password_form=password_form, token_form=token_form,
        tokens=services.tokens_of(current_user), new_token=new_token), status)
    response.headers["Cache-Control"] = "no-store"  # a new token is shown on this page once
    return response


@bp.post("/profile/tokens")
@login_required
def token_create():
    """Create a named API token and show it once, on the profile page itself (never in a cookie)."""
    token_form = TokenCreateForm(prefix="token")
    new_token = None
    if token_form.validate_on_submit():
        try:
            new_token = services.issue_token(current_user, token_form.name.data,
                                             expires_in_days=token_form.expires_in_days())
        except DomainError as exc:
            show_refusal(token_form, exc)
    status = 400 if token_form.errors or token_form.form_errors else 200
    return _profile_page(ProfileForm(obj=current_user, prefix="profile", formdata=None),
                         PasswordChangeForm(prefix="password", formdata=None),
                         TokenCreateForm(prefix="token", formdata=None) if new_token else token_form,
                         status, new_token)


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@login_required
def token_revoke(token_id: int):
    """Revoke one of one's own tokens (asks first)."""
    try:
        api_token = services.find_token(current_user, token_id)
    except DomainError:
        abort(404)
    back = url_for("accounts.profile", _anchor="api-tokens")
    if api_token.revoked_at is not None:
        flash(f"The token “{api_token.label}” was already revoked.", "info")
        return redirect(back)
    if not confirm.confirmed():
        return confirm.ask(Confirmation(
            title=f"Revoke the token “{api_token.label}”?", confirm_label="Revoke token", cancel_url=back,
            consequences=["Programs using it get “401 authentication required” from now on.",
                          "This cannot be undone; you can create a new token."]))
    if ConfirmForm().validate_on_submit():
        services.revoke_token(api_token, current_user)
        flash(f"Token “{api_token.label}” revoked.", "success")
    return redirect(back)


@bp.route("/profile/sign-out-everywhere", methods=["GET", "POST"])
@login_required
def sign_out_everywhere():
    """End every session of one's own, here included, and revoke all one's API tokens (asks first)."""
    if not confirm.confirmed():
        tokens = services.live_token_count(current_user)
        return confirm.ask(Confirmation(
            title="Sign out everywhere?", confirm_label="Sign out everywhere",
            cancel_url=url_for("accounts.profile"),
            consequences=["Every browser signed in as you is signed out, this one included.",
                          f"{plural(tokens, 'API token')} {'is' if tokens == 1 else 'are'} revoked: "
                          "programs using them stop working." if tokens else "You have no API tokens.",
                          "Sign in again with your password afterwards."]))
    if ConfirmForm().validate_on_submit():
        services.sign_out_everywhere(current_user)
        logout_user()
        signin.end()
        flash("You are signed out everywhere, and your API tokens are revoked.", "info")
        return redirect(url_for("accounts.login"))
    return redirect(url_for("accounts.profile"))


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
    token_counts = services.live_token_counts()

    def role_form(**data) -> UserRoleForm:
        row = UserRoleForm(**data)
        row.set_organisations(organisations)
        return row

    return render_template(
        "admin/users.html", users=users, form=form, confirm=ConfirmForm(), role_form=role_form,
        token_counts=token_counts), 400 if form.errors else 200


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


@bp.route("/admin/users/<int:user_id>/tokens/revoke", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def admin_revoke_tokens(user_id: int):
    """Revoke every API token of a user (asks first)."""
    user = db.get_or_404(User, user_id)
    back = url_for("accounts.admin_users")
    tokens = services.live_token_count(user)
    if not tokens:
        flash(f"{user.email} has no API token that works.", "info")
        return redirect(back)
    if not confirm.confirmed():
        return confirm.ask(Confirmation(
            title=f"Revoke the API tokens of {user.name} ({user.email})?", confirm_label="Revoke tokens",
            cancel_url=back,
            consequences=[f"{plural(tokens, 'API token')} stop{'s' if tokens == 1 else ''} working at once.",
                          "Their sign-in in browsers is not affected.",
                          "This cannot be undone; they can create new tokens."]))
    if ConfirmForm().validate_on_submit():
        count = services.revoke_all_tokens(user, current_user, "revoked by an administrator")
        flash(f"{plural(count, 'API token')} of {user.email} revoked.", "success")
    return redirect(back)


AUDIT_PER_PAGE = 50


def _start_of(day: date | None, tz_name: str) -> datetime | None:
    """Midnight of `day` in `tz_name`, in UTC; None for no day (or one beyond the calendar's ends)."""
    if day is None:
        return None
    try:
        return datetime.combine(day, time.min, tzinfo=zone(tz_name)).astimezone(UTC)
    except OverflowError:
        return None


def _audit_page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or len(raw) > len(str(MAX_PAGE)) or not 1 <= int(raw) <= MAX_PAGE:
        abort(404)
    return int(raw)


@bp.get("/admin/audit")
@role_required(Role.ADMIN)
def admin_audit():
    """The audit log, newest first, filtered by who, what, when and which object (admins only)."""
    page_number = _audit_page_number()
    users = db.session.scalars(sa.select(User).order_by(User.name, User.email)).all()
    form = AuditFilterForm(formdata=request.args)
    form.set_choices(users, audit.recorded_actions(), audit.recorded_object_types())
    if not form.validate():
        return render_template("admin/audit.html", form=form, events=None, users={}, args={}), 400
    until = form.until.data
    wanted = audit.AuditFilter(
        actor_id=int(form.actor.data) if form.actor.data else None, action=form.action.data or None,
        object_type=form.object_type.data or None, object_id=form.object_id.data,
        since=_start_of(form.since.data, current_user.timezone),
        until=_start_of(until + timedelta(days=1), current_user.timezone) if until and until < date.max
        else None)
    events = db.paginate(audit.search(wanted), page=page_number, per_page=AUDIT_PER_PAGE, error_out=False)
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("admin/audit.html", form=form, events=events, users={u.id: u for u in users},
                           args=args)
