"""The JSON API under /api/v1: token or session auth, JSON errors, pagination helpers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from usabtest.extensions import csrf, db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Token-authenticated clients cannot hold a CSRF token; cookie-authenticated writes are
# checked in `_protect_cookie_writes` instead.
csrf.exempt(bp)

MAX_PER_PAGE = 200


class ApiError(HTTPException):
    """An error answered as JSON: `{"error": {"status", "message", "field"?}}`."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(description=message)
        self.code = status
        self.field = field


def error_response(status: int, message: str, field: str | None = None):
    """The JSON body and status every API error uses."""
    body: dict[str, Any] = {"status": status, "message": message}
    if field:
        body["field"] = field
    return jsonify(error=body), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.code, exc.description, exc.field)


@bp.before_request
def _protect_cookie_writes() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or not current_app.config["WTF_CSRF_ENABLED"]:
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    csrf.protect()


def api_login_required(view: Callable) -> Callable:
    """401 JSON (never a redirect) when neither a session nor a bearer token authenticates."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            raise ApiError(401, "authentication required: sign in or send 'Authorization: Bearer'")
        return view(*args, **kwargs)

    return wrapped


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 naming what is wrong with it."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "request body must be valid JSON with Content-Type application/json")
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def get_or_404(model, ident: int, message: str | None = None):
    """Fetch by primary key or answer a JSON 404."""
    obj = db.session.get(model, ident)
    if obj is None:
        raise ApiError(404, message or f"{model.__name__.lower()} {ident} not found")
    return obj


def require_api(allowed: bool, what: str = "resource") -> None:
    """JSON 404 unless `allowed`, mirroring `usabtest.policy.require`."""
    if not allowed:
        raise ApiError(404, f"{what} not found")


def _page_args() -> tuple[int, int]:
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", 50))
    except ValueError:
        raise ApiError(400, "page and per_page must be integers", "page") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(400, f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}", "page")
    return page, per_page


def paginated(query: sa.Select, serialize: Callable[[Any], dict]) -> dict[str, Any]:
    """Run `query` one page at a time (`?page=&per_page=`) into a JSON-ready dict."""
    page, per_page = _page_args()
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False, count=True)
    return {
        "items": [serialize(item) for item in pagination.items],
        "page": page,
        "per_page": per_page,
        "total": pagination.total,
        "pages": pagination.pages,
    }


def abort_json(status: int, message: str, field: str | None = None):
    """Raise an `ApiError`; shorthand for views."""
    raise ApiError(status, message, field)


__all__ = [
    "ApiError",
    "abort_json",
    "api_login_required",
    "bp",
    "error_response",
    "get_or_404",
    "json_body",
    "paginated",
    "require_api",
]
