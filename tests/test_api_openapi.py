"""The served OpenAPI document: valid, complete, one error shape, and generated from the models."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from tests.conftest import PASSWORD
from tests.openapi_check import match_path, validate_api_response
from usabtest.core.schemas import Error

PREFIX = "/api/v1"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
SCHEMA_MODULES = ("usabtest.core.schemas", "usabtest.accounts.schemas", "usabtest.planning.schemas",
                  "usabtest.observe.schemas")


def _shape(path: str) -> str:
    """A path with every parameter blanked, so `/x/<int:id>` and `/x/{id}` compare equal."""
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", path))


def _registered(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            methods = {m.lower() for m in rule.methods} & HTTP_METHODS
            routes.setdefault(_shape(rule.rule), set()).update(methods)
    return routes


def test_served_document_passes_the_openapi_validator(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert {"bearerAuth", "cookieAuth"} <= set(document["components"]["securitySchemes"])


def test_every_api_route_is_documented_with_its_methods_and_nothing_else(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    registered = _registered(app)
    documented = {_shape(path): {m for m in item if m in HTTP_METHODS}
                  for path, item in document["paths"].items()}
    assert registered == documented


def test_every_error_answer_is_declared_with_the_one_error_schema(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith("4")}
            assert "422" in errors, (method, path)
            if path != "/api/v1/openapi.json":
                assert "401" in errors, (method, path)
            for code, answer in errors.items():
                schema = answer["content"]["application/json"]["schema"]
                if code == "409" and schema["$ref"].endswith("Conflict"):
                    # An edit based on a version: the one error shape, plus the record now in `current`.
                    stale = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                    assert stale["required"] == ["error"], (method, path)
                    assert stale["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
                    assert set(stale["properties"]) == {"error", "current"}, (method, path)
                    continue
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_every_patch_of_an_edited_record_requires_the_version_it_was_based_on(client):
    document = client.get("/api/v1/openapi.json").get_json()
    # Every PATCH but a team member's role (a membership, not a record people edit in a form).
    patches = {path: item["patch"] for path, item in document["paths"].items()
               if "patch" in item and path != "/api/v1/studies/{study_id}/team/{user_id}"}
    assert set(patches) >= {"/api/v1/studies/{study_id}", "/api/v1/tasks/{task_id}",
                            "/api/v1/participants/{participant_id}", "/api/v1/sessions/{session_id}",
                            "/api/v1/sessions/{session_id}/notes/{note_id}", "/api/v1/findings/{finding_id}"}
    schemas = document["components"]["schemas"]
    for path, operation in patches.items():
        body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schemas[body_ref.rsplit("/", 1)[1]]
        assert "version" in body["required"], path
        assert body["minProperties"] == 2, path  # the version and at least one change
        answer = schemas[operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                         .rsplit("/", 1)[1]]
        assert "version" in answer["required"], path
        conflict = operation["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
        assert conflict.endswith("Conflict"), path


def test_writes_declare_400_and_object_paths_declare_404(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "get":
                assert "400" in operation["responses"], (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)


def test_the_error_shape_is_the_one_the_app_answers(client):
    body = client.get("/api/v1/me").get_json()
    assert Error.model_validate(body).error.status == 401
    assert set(body["error"]) == {"status", "message", "fields"}


def test_schema_names_are_unique_across_domains():
    models: dict[str, str] = {}
    for module_name in SCHEMA_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseModel) and value.__module__ == module_name:
                assert name not in models, f"{name} is declared in {models[name]} and {module_name}"
                models[name] = module_name


def test_request_paths_resolve_to_one_documented_template(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert match_path(document, "/api/v1/studies/3/tasks/order") == "/api/v1/studies/{study_id}/tasks/order"
    assert match_path(document, "/api/v1/tasks/4") == "/api/v1/tasks/{task_id}"
    assert match_path(document, "/api/v1/nothing/here") is None


def test_the_response_check_catches_a_renamed_key_and_an_undocumented_status(app, client, make_study):
    study = make_study(title="Checked")
    client.post("/login", data={"email": study.owner.email, "password": PASSWORD})
    response = client.get("/api/v1/studies")
    assert response.status_code == 200  # the client has already checked it against the document
    renamed = response.get_data(as_text=True).replace('"items"', '"results"')
    response.set_data(renamed)
    with pytest.raises(AssertionError, match="body does not match the document"):
        validate_api_response(response, app)
    response.status_code = 418
    with pytest.raises(AssertionError, match="status not documented"):
        validate_api_response(response, app)
