"""The JSON API under /api/v1, declared once.

Handlers are plain Flask views on one Blueprint, decorated with `spec.validate`: the pydantic models
of each domain's `schemas.py` validate the request, serialise the answer and make the OpenAPI
document served at /api/v1/openapi.json. Authentication (bearer token or session cookie plus CSRF
header), object loading under `usabtest.policy`, pagination and the one error shape live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, request
from flask_login import current_user
from pydantic import BaseModel, ValidationError
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import InType, SecureType, SecuritySchemeData
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.utils import get_model_key, get_multidict_items

from usabtest import __version__
from usabtest.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from usabtest.core.schemas import MAX_ID, Error, PageQuery
from usabtest.core.versioning import StaleVersion
from usabtest.extensions import csrf, db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Token-authenticated clients cannot hold a CSRF token; cookie-authenticated writes are
# checked in `_protect_cookie_writes` instead.
csrf.exempt(bp)

PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
# Endpoints whose view finds a bearer token's holder in its own query (the note write, the live
# console's most frequent request), where the generic lookup would be one more query and object.
TOKEN_READ_BY_VIEW = frozenset({"api.create_note"})
EVENT_STREAMS = frozenset({"stream_session_events"})  # operation ids answering Server-Sent Events
# Operation ids whose request body is a file, not JSON (spectree declares JSON bodies only).
FILE_UPLOADS = {"upload_recording_file": "The audio or video file itself"}
ERROR_REASONS = {
    400: "Malformed JSON, or a cookie-authenticated write without its CSRF token",
    401: "Not authenticated: no session and no valid bearer token",
    403: "You may see this object but not do this to it",
    404: "No such object visible to you",
    409: "Refused in the object's current state, or clashing with another object",
    413: "The request body is larger than the server accepts",
    422: "Invalid input; `error.fields` names each faulty field",
}
STALE_EDIT_REASON = ("Based on an old version (someone saved since: `current` holds the record now), "
                     "or refused in the object's current state")


class NotAuthenticated(DomainError):
    """Neither a session nor a bearer token authenticates the request (401)."""

    status = 401


class MalformedRequest(DomainError):
    """The request body cannot be read as the JSON object the endpoint takes (400)."""

    status = 400


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin, reading request bodies as JSON (so JSON types are strict).

    The document is served by `openapi_document` below, without the UI pages (they load scripts
    from CDNs, which the Content-Security-Policy forbids).
    """

    def register_route(self, app: Any) -> None:
        """Only remember where the blueprint is mounted: the document has its own route."""
        app.record(lambda state: setattr(self, "blueprint_state", state))

    def request_validation(self, request, query, json, form, headers, cookies) -> None:
        """Validate the query string and the JSON body against their models."""
        if form is not None or headers is not None or cookies is not None:
            raise TypeError("the API declares query and JSON body models only")
        try:
            body = _body(json) if json is not None else None
            args = query.model_validate(get_multidict_items(request.args, query)) if query else None
        except ValidationError as exc:
            # Answered here in the API's one error shape (spectree's own answer has another shape).
            raise refusal_of(exc) from None
        request.context = Context(args, body, None, None, None)


def valid_body(model: type[BaseModel]) -> BaseModel | None:
    """The JSON body as `model` when it is one, else None (validation refuses it later, in order).

    For a loader that acts on the body before `spec.validate` runs (the note write): the parse is
    kept for the validation, so the body is still parsed once.
    """
    if not request.is_json:
        return None
    try:
        body = model.model_validate_json(request.get_data())
    except ValidationError:
        return None
    g.valid_body = body
    return body


def _body(model: type[BaseModel]) -> BaseModel:
    """The JSON body as `model`, parsed once by pydantic; a body it refuses is looked at again to
    say what is wrong with it (not JSON, not an object, nested too deeply) before naming fields."""
    parsed = g.pop("valid_body", None)
    if type(parsed) is model:
        return parsed
    if request.is_json:
        try:
            return model.model_validate_json(request.get_data())
        except ValidationError:
            _json_object_bytes()
            raise
    return model.model_validate_json(_json_object_bytes())


def _json_object_bytes() -> bytes:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # Python's parser recurses once per level of nesting
        raise MalformedRequest("request body must be valid JSON: it is nested too deeply") from None
    if data is None:
        raise MalformedRequest("request body must be valid JSON with Content-Type application/json")
    if not isinstance(data, dict):
        raise MalformedRequest("request body must be a JSON object")
    return request.get_data()


def fields_of(error: ValidationError) -> dict[str, str]:
    """One message per faulty field, keyed by its dotted path (`answers.3`)."""
    fields: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        # A bad dict key is reported at the dict itself (pydantic adds the key and "[key]").
        path = ".".join(str(part) for part in problem["loc"] if part not in ("", "[key]"))
        if path:
            fields.setdefault(path, problem["msg"].removeprefix("Value error, "))
    return fields


def refusal_of(error: ValidationError) -> DomainError:
    """The API's answer to a request that breaks its model: 400 for unreadable JSON, else 422."""
    problems = error.errors(include_url=False)
    if any(problem["type"] == "json_invalid" for problem in problems):
        return MalformedRequest("request body must be valid JSON: " + problems[0]["msg"])
    fields = fields_of(error)
    if not fields:
        return InvalidInput(problems[0]["msg"].removeprefix("Value error, "))
    first, message = next(iter(fields.items()))
    summary = f"{first}: {message}" if len(fields) == 1 else f"invalid fields: {', '.join(fields)}"
    return InvalidInput(summary, fields=fields)


def _schema_name(model: Any) -> str:
    # Component names are the models' own names (kept unique across domains by a test).
    return get_model_key(model).rsplit(".", 1)[0]


class _LazySpec(SpecTree):
    """A SpecTree that turns models into JSON Schema when the document is first asked for.

    spectree does it as each endpoint is declared: about a second of every process's start-up (the
    CLI, each server worker), although most processes never serve the document.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._undescribed: list[tuple[Any, Any]] = []

    def _add_model(self, model: Any, mode: Any = "validation") -> str:
        self._undescribed.append((model, mode))
        return self.naming_strategy(model)

    def _generate_spec(self) -> dict[str, Any]:
        while self._undescribed:
            super()._add_model(*self._undescribed.pop(0))
        return super()._generate_spec()


spec = _LazySpec(
    "flask",
    backend=_Plugin,
    mode="strict",
    title="usabtest API",
    version=__version__,
    description="Plan studies, run sessions and follow them live. Concepts: docs/api.md.",
    page_templates={},
    naming_strategy=_schema_name,
    nested_naming_strategy=lambda _parent, child: child,
    validation_error_model=Error,
    security_schemes=[
        SecurityScheme(name="bearerAuth", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")),
        SecurityScheme(name="cookieAuth", data=SecuritySchemeData(
            type=SecureType.API_KEY, field_in=InType.COOKIE, name="session",
            description="The sign-in cookie; writes also need the X-CSRFToken header")),
    ],
    security=[{"bearerAuth": []}, {"cookieAuth": []}],
)
spec.register(bp)


def _responses(ok: dict[int, type[BaseModel] | None], errors: Iterable[int],
               conflict: type[BaseModel] | None = None) -> Response:
    codes: dict[str, Any] = {f"HTTP_{status}": model for status, model in ok.items()}
    for status in sorted({401, 422, *errors}):
        codes[f"HTTP_{status}"] = (Error, ERROR_REASONS[status])
    if conflict is not None:
        codes["HTTP_409"] = (conflict, STALE_EDIT_REASON)
    return Response(**codes)


def reads(model: type[BaseModel] | None, *errors: int) -> Response:
    """Responses of a read: 200 with `model` (None: not JSON), 401, 422 and the `errors` listed."""
    return _responses({200: model}, errors)


def writes(ok: dict[int, type[BaseModel] | None] | type[BaseModel], *errors: int,
           conflict: type[BaseModel] | None = None) -> Response:
    """Responses of a write: `ok` (a model for 200, or {status: model}), 400, 401, 413, 422, `errors`.

    `conflict`: the 409 model of an edit based on a version (`core.schemas.stale_edit_error`).
    """
    return _responses(ok if isinstance(ok, dict) else {200: ok}, (400, 413, *errors), conflict)


@contextmanager
def showing_current(build: Callable[[], BaseModel]) -> Iterator[None]:
    """An edit based on an old version answers 409 with the record as it is now (`build()`)."""
    try:
        yield
    except StaleVersion as exc:
        exc.current = build().model_dump(mode="json")
        raise


def bearer_token() -> str | None:
    """The request's bearer token, when it sends one."""
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None


def refuse_token(reason: str) -> NotAuthenticated:
    """The 401 of a refused bearer token; the WWW-Authenticate header gives `reason` (RFC 6750)."""
    g.token_refused = reason
    return NotAuthenticated(_AUTHENTICATION_REQUIRED)


_AUTHENTICATION_REQUIRED = "authentication required: sign in or send 'Authorization: Bearer <token>'"


@bp.before_request
def _require_authentication() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if request.endpoint in TOKEN_READ_BY_VIEW and bearer_token() is not None:
        return
    if current_user.is_authenticated:
        return
    raise NotAuthenticated(_AUTHENTICATION_REQUIRED)


@bp.before_request
def _protect_cookie_writes() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or not current_app.config["WTF_CSRF_ENABLED"]:
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    csrf.protect()


def load(model: type, ident: int, may_see: Callable[[Any, Any], bool], what: str,
         options: Sequence[Any] = ()) -> Any:
    """The object with this id, or 404 when it is missing or hidden from the caller.

    `options` load what the permission check reads in the same query (joinedload ...).
    """
    obj = db.session.get(model, ident, options=options) if 1 <= ident <= MAX_ID else None
    if obj is None or not may_see(current_user, obj):
        raise NotFound(f"{what} {ident} not found")
    return obj


def allow(allowed: bool, message: str) -> None:
    """403 with `message` unless `allowed`: for objects the caller may see but not change."""
    if not allowed:
        raise Forbidden(message)


def loads(path_arg: str, loader: Callable[[int], Any], as_arg: str) -> Callable:
    """Decorator: replace the URL's `path_arg` id by `loader(id)` passed as `as_arg`.

    Put it above `spec.validate`, so a hidden or forbidden object answers 404 or 403 before the
    request body is looked at, as the pages do.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            kwargs[as_arg] = loader(kwargs.pop(path_arg))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def permits(check: Callable[[Any], bool], message: str) -> Callable:
    """Decorator: 403 with `message` unless `check(current_user)`; above `spec.validate`, so someone
    who may not use the endpoint is told so before the request body is looked at."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            allow(check(current_user), message)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def page_of(query: sa.Select, args: PageQuery, build: Callable[[Any], BaseModel]) -> dict[str, Any]:
    """One page of `query` (a page past the end is empty), ready for a `Page` model."""
    pagination = db.paginate(query, page=args.page, per_page=args.per_page, error_out=False, count=True)
    return {"items": [build(item) for item in pagination.items], "page": args.page,
            "per_page": args.per_page, "total": pagination.total, "pages": pagination.pages}


@bp.get("/openapi.json")
@spec.validate(resp=Response(HTTP_200=None), security={}, tags=["meta"])
def openapi_document():
    """This OpenAPI document."""
    return document()


def document() -> dict[str, Any]:
    """The OpenAPI document, with what spectree cannot declare (event streams' media type, file bodies)."""
    doc = spec.spec
    for item in doc["paths"].values():
        for operation in item.values():
            if operation["operationId"] in EVENT_STREAMS:
                operation["responses"]["200"]["content"] = {
                    "text/event-stream": {"schema": {"type": "string"}}
                }
            if operation["operationId"] in FILE_UPLOADS:
                operation["requestBody"] = {
                    "required": True, "description": FILE_UPLOADS[operation["operationId"]],
                    "content": {"application/octet-stream": {
                        "schema": {"type": "string", "format": "binary"}}},
                }
    return doc


def init_app(app: Flask) -> None:
    """Declare every endpoint and mount the API on `app`."""
    from usabtest.api import accounts, analysis, observe, planning, reports, team  # noqa: F401  (routes join `bp`)

    app.register_blueprint(bp)
