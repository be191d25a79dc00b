"""The application factory."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Flask, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from usabtest import paths
from usabtest.analysis import figures
from usabtest.config import load_config
from usabtest.core import operations, uploads
from usabtest.core.errors import DomainError, InvalidInput, changes_discarded, changes_kept
from usabtest.core.schemas import control_character_problem
from usabtest.core.urls import IdConverter
from usabtest.db import configure_server_pool, configure_sqlite, utcnow
from usabtest.extensions import babel, csrf, db, limiter, login_manager, migrate
from usabtest.timefmt import format_clock, format_local, format_relative

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)


def create_app(test_config: dict | None = None) -> Flask:
    """Build a configured application; `test_config` overrides everything else."""
    app = Flask(
        "usabtest",
        instance_relative_config=True,
        template_folder=str(paths.TEMPLATES),
        static_folder=str(paths.STATIC),
    )
    app.request_class = uploads.Request  # recordings may be larger than other request bodies
    load_config(app, test_config)
    app.url_map.converters["int"] = IdConverter  # before any route is declared
    register_extensions(app)
    operations.init_app(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_input_checks(app)
    register_unit_of_work(app)
    register_templating(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind every extension to `app`."""
    # Model modules must be imported before the metadata is used (migrations, create_all).
    from usabtest import models  # noqa: F401

    # Database errors end up in logs: they must not carry the statement's values (names, notes).
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "hide_parameters": True}
    db.init_app(app)
    migrate.init_app(app, db, directory=str(paths.MIGRATIONS), compare_type=True, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_locale, default_translation_directories=str(paths.TRANSLATIONS))
    _configure_login(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine)
            else:
                configure_server_pool(engine, float(app.config["DATABASE_PING_IDLE_SECONDS"]))


def _locale() -> str:
    """English, except on the participant screen, whose view sets the study's language."""
    return g.get("screen_language") or "en"


def _configure_login(app: Flask) -> None:
    from usabtest.accounts import services, signin
    from usabtest.api import TOKEN_READ_BY_VIEW

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(services.load_session_user)
    signin.init_app(app)

    @login_manager.request_loader
    def _load_from_bearer(req):
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        try:
            return services.user_for_token(header.removeprefix("Bearer ").strip())
        except services.TokenRefused as refused:
            g.token_refused = str(refused)  # the 401 says why (RFC 6750)
            return None

    @app.before_request
    def _a_token_names_the_caller():
        # A request that sends a token acts as the token's owner (or nobody, for a refused token),
        # whoever is signed in in the same browser: Flask-Login would look at the cookie first.
        # The note write finds the token's holder in its own one query (`api.TOKEN_READ_BY_VIEW`).
        if request.endpoint in TOKEN_READ_BY_VIEW:
            return
        if request.headers.get("Authorization", "").startswith("Bearer "):
            g._login_user = _load_from_bearer(request) or login_manager.anonymous_user()

    @app.after_request
    def _say_why_a_token_was_refused(response):
        if response.status_code == 401 and g.get("token_refused"):
            response.headers["WWW-Authenticate"] = (
                f'Bearer error="invalid_token", error_description="{g.token_refused}"')
        return response

    @login_manager.unauthorized_handler
    def _unauthorized():
        if _wants_json():
            return _json_error(401, "authentication required")
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def register_blueprints(app: Flask) -> None:
    """Attach each domain's pages and the JSON API."""
    from usabtest import api
    from usabtest.accounts.views import bp as accounts_bp
    from usabtest.analysis.views import bp as analysis_bp
    from usabtest.analysis.views import study_panel as analysis_study_panel
    from usabtest.home.views import bp as home_bp
    from usabtest.observe.views import bp as observe_bp
    from usabtest.observe.views import session_panel as observe_session_panel
    from usabtest.organisations.views import bp as organisations_bp
    from usabtest.participants.views import bp as participants_bp
    from usabtest.planning.views import bp as planning_bp
    from usabtest.planning.views import register_session_panels, register_study_panels
    from usabtest.reports.views import bp as reports_bp
    from usabtest.reports.views import study_panel as reports_study_panel

    for blueprint in (home_bp, accounts_bp, planning_bp, observe_bp, analysis_bp, reports_bp,
                      organisations_bp, participants_bp):
        app.register_blueprint(blueprint)
    # The study overview (a planning page) shows the later domains' panels: wired here, so
    # planning never imports analysis or reports.
    register_study_panels(app, analysis_study_panel, reports_study_panel)
    register_session_panels(app, observe_session_panel)
    api.init_app(app)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            # Pages, exports and API answers carry personal data: no copy in shared or disk caches.
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _json_error(status: int, message: str, fields: dict[str, str] | None = None, **extra):
    body = {"error": {"status": status, "message": message, "fields": fields or {}}}
    body.update({key: value for key, value in extra.items() if value is not None})
    return jsonify(body), status


def register_input_checks(app: Flask) -> None:
    """Pages refuse a query string holding control characters before any view reads it.

    Views pass filters such as `?q=` on to the database, and PostgreSQL refuses NUL outright. The API
    declares its query parameters with storable text types (422 naming the parameter) instead.
    """

    @app.before_request
    def _refuse_control_characters_in_the_query():
        if _wants_json():
            return
        for name, value in request.args.items(multi=True):
            problem = control_character_problem(name, multiline=False)
            if problem:
                raise InvalidInput(f"The address is not valid: a parameter's name {problem}.", status=400)
            problem = control_character_problem(value, multiline=False)
            if problem:
                raise InvalidInput(f"The address is not valid: its “{name}” value {problem}.", status=400)


def register_unit_of_work(app: Flask) -> None:
    """Commit each request's work once when it succeeds; roll it back otherwise.

    Views and API handlers never commit: services flush, and this is the one commit point of a
    request. CLI commands and background work keep their own explicit transactions.
    """

    @app.after_request
    def _finish_unit_of_work(response):
        if (response.status_code < 400 or changes_kept()) and not changes_discarded():
            # A request that never used the session (a note stored by its one statement in
            # autocommit) has nothing to commit: committing would begin a transaction to end it.
            if db.session().in_transaction():
                db.session.commit()
        else:
            db.session.rollback()
        return response


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the product's style; JSON under /api/."""

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        message = f"The form expired or was not sent from this site ({exc.description}). "
        if _wants_json():
            return _json_error(400, message.strip())
        return render_template("errors/400.html", message=message + "Please try again."), 400

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        db.session.rollback()
        if _wants_json():
            # A change based on an old version also carries the record as it is now.
            return _json_error(exc.status, exc.message, exc.fields, current=getattr(exc, "current", None))
        page = SimpleNamespace(code=exc.status, name=HTTP_STATUS_CODES.get(exc.status, "Error"),
                               description=exc.message)
        return render_template("errors/generic.html", error=page), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 413:
            exc.description = _too_large_message(app)
        if _wants_json():
            return _json_error(exc.code or 500, exc.description or exc.name)
        template = f"errors/{exc.code}.html" if exc.code in (403, 404, 500) else "errors/generic.html"
        return render_template(template, error=exc), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error", exc_info=exc)
        if _wants_json():
            return _json_error(500, "internal error; it has been logged")
        return render_template("errors/500.html"), 500


def _too_large_message(app: Flask) -> str:
    # The request's own limit: a view taking recordings accepts more than the application's default.
    whole, field = request.max_content_length, app.config.get("MAX_FORM_MEMORY_SIZE")
    limits = [f"{whole / (1024 * 1024):g} MB in all" if whole else "",
              f"{field // 1000:,} KB in one text field" if field else ""]
    return ("The request is larger than this server accepts (" + " and ".join(filter(None, limits))
            + "): send a smaller file or a shorter text.")


def register_templating(app: Flask) -> None:
    """Filters and globals shared by every template."""

    # Figures on pages round like the report and the CSV: half up (`analysis.figures`).
    app.add_template_filter(figures.decimal, "figure")
    app.add_template_filter(figures.percent, "percent")
    # One way to write a length of time everywhere: "2:00", "1:05:00" (`timefmt.format_clock`).
    app.add_template_filter(format_clock, "clock")

    @app.template_filter("localtime")
    def _localtime(value, fmt: str = "%a %d %b %Y, %H:%M"):
        tz_name = current_user.timezone if current_user.is_authenticated else "UTC"
        return format_local(value, tz_name, fmt)

    @app.template_filter("relative")
    def _relative(value) -> str:
        return format_relative(value, utcnow()) if value is not None else ""

    @app.context_processor
    def _globals():
        from usabtest.accounts.models import Role
        from usabtest.analysis.models import SEVERITY_LABELS

        return {"Role": Role, "SEVERITY_LABELS": SEVERITY_LABELS}


def register_cli(app: Flask) -> None:
    """The `usabtest` command groups, also on the app's own CLI (`flask --app usabtest`, test runners)."""
    from usabtest.cli import COMMANDS, load_command

    for name, (target, _help) in COMMANDS.items():
        app.cli.add_command(load_command(target), name)
