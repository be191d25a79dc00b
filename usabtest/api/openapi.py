"""The OpenAPI 3 document at /api/v1/openapi.json, assembled from each domain's part."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from usabtest import __version__
from usabtest.accounts import openapi as accounts_openapi
from usabtest.api import bp
from usabtest.observe import openapi as observe_openapi
from usabtest.planning import openapi as planning_openapi

PARTS = (accounts_openapi, planning_openapi, observe_openapi)

COMMON_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            }
        },
    },
}

COMMON_PARAMETERS: dict[str, Any] = {
    "page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    "per_page": {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
    },
}


def build_document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    paths: dict[str, Any] = {}
    schemas = dict(COMMON_SCHEMAS)
    for part in PARTS:
        paths.update(part.PATHS)
        schemas.update(part.SCHEMAS)
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "usabtest API", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": COMMON_PARAMETERS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    """Serve the OpenAPI document."""
    return jsonify(build_document())
