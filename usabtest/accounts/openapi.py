"""The accounts part of the OpenAPI document."""

from typing import Any

SCHEMAS: dict[str, Any] = {
    "User": {
        "type": "object",
        "required": ["id", "email", "name", "role", "timezone"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string", "format": "email"},
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "researcher", "observer", "client"]},
            "timezone": {"type": "string"},
            "organisation": {"type": "string", "nullable": True},
        },
    },
}

PATHS: dict[str, Any] = {
    "/me": {
        "get": {
            "summary": "The authenticated user",
            "responses": {
                "200": {
                    "description": "The user the token or session belongs to",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}},
                },
                "401": {
                    "description": "Not authenticated",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
    }
}
