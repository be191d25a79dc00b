"""Every /api/v1 response a test receives is checked against the served OpenAPI document.

The test client calls `validate_api_response` after each request: the path, method and status must
be documented and a JSON body must match the documented schema (formats included). An unknown path
or method must get the documented error shape. A failure raises `AssertionError` inside the test.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

PREFIX = "/api/v1/"
DOCUMENT_PATH = "/api/v1/openapi.json"
_documents: list[dict[str, Any]] = []


def served_document(app) -> dict[str, Any]:
    """The document as the app serves it (fetched once per process: every app serves the same one)."""
    if not _documents:
        response = app.test_client().get(DOCUMENT_PATH)
        assert response.status_code == 200, response.status
        _documents.append(response.get_json())
    return _documents[0]


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def match_path(document: dict[str, Any], path: str) -> str | None:
    """The documented path template `path` falls under (the most literal one when several do)."""
    matches = [t for t in document["paths"] if _template_regex(t).match(path)]
    return max(matches, key=lambda t: len(re.sub(r"\{[^}]+\}", "", t)), default=None)


@cache
def _validator(template: str, method: str, status: str) -> Draft202012Validator | None:
    document = _documents[0]
    if template == "":
        schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    else:
        content = document["paths"][template][method]["responses"][status].get("content", {})
        if "application/json" not in content:
            return None
        schema = dict(content["application/json"]["schema"])
    schema["components"] = document["components"]
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _check_body(response, validator: Draft202012Validator | None, where: str) -> None:
    if validator is None:
        assert response.mimetype != "application/json", f"{where}: JSON body where none is documented"
        return
    assert response.mimetype == "application/json", f"{where}: answered {response.mimetype}, not JSON"
    errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.absolute_path))
    assert not errors, f"{where}: body does not match the document: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:200]}" for e in errors[:5])


def validate_api_response(response, app) -> None:
    """Fail unless `response` (to a request under /api/v1) is what the served document promises."""
    request = getattr(response, "request", None)
    if request is None or not request.path.startswith(PREFIX) or request.path == DOCUMENT_PATH:
        return
    method = request.method.lower()
    if method in ("head", "options"):
        return
    document = served_document(app)
    template = match_path(document, request.path)
    where = f"{request.method} {request.path} -> {response.status_code}"
    if template is None or method not in document["paths"][template]:
        expected = 404 if template is None else 405
        assert response.status_code == expected, f"{where}: undocumented operation"
        _check_body(response, _validator("", "", ""), where)
        return
    responses = document["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{where}: status not documented for {method.upper()} {template}"
    if response.mimetype == "text/event-stream":
        assert "text/event-stream" in responses[status].get("content", {}), f"{where}: undocumented stream"
        return
    _check_body(response, _validator(template, method, status), where)
