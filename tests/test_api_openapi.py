"""The OpenAPI document at /api/v1/openapi.json stays in step with every registered API route."""

import re

from usabtest.api.openapi import build_document

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _shape(path: str) -> str:
    """A path with every parameter name blanked, so `/x/<int:id>` and `/x/{id}` compare equal."""
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", path))


def _registered(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule == PREFIX or rule.rule.startswith(PREFIX + "/"):
            methods = {m.lower() for m in rule.methods - IGNORED_METHODS}
            routes.setdefault(_shape(rule.rule.removeprefix(PREFIX)), set()).update(methods)
    return routes


def _documented(document) -> dict[str, set[str]]:
    return {_shape(path): {m for m in item if m in HTTP_METHODS} for path, item in document["paths"].items()}


def test_every_api_route_is_documented_with_its_methods_and_nothing_else(app):
    registered, documented = _registered(app), _documented(build_document())
    missing = {p: sorted(m - documented.get(p, set())) for p, m in registered.items()
               if m - documented.get(p, set())}
    stale = {p: sorted(m - registered.get(p, set())) for p, m in documented.items()
             if m - registered.get(p, set())}
    assert missing == {}, f"routes missing from the OpenAPI document: {missing}"
    assert stale == {}, f"documented operations with no route: {stale}"


def test_document_placeholders_match_declared_path_parameters(app):
    for path, item in build_document()["paths"].items():
        placeholders = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            declared = {p["name"] for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                        if "$ref" not in p and p.get("in") == "path"}
            assert declared <= placeholders, f"{method.upper()} {path} declares unknown path parameters"


def test_served_document_is_valid_json_with_planning_schemas(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    for path in ("/studies", "/studies/{study_id}", "/studies/{study_id}/sessions", "/sessions/{session_id}"):
        assert "get" in document["paths"][path]
    schemas = document["components"]["schemas"]
    for name in ("StudySummary", "StudyDetail", "StudySession", "StudyPage", "StudySessionPage", "Error"):
        assert name in schemas


def test_every_schema_reference_resolves(app):
    document = build_document()
    text = repr(document)
    for kind, name in re.findall(r"#/components/(schemas|parameters)/(\w+)", text):
        assert name in document["components"][kind], f"dangling reference to {kind}/{name}"
