"""This domain's part of the OpenAPI document (paths relative to /api/v1)."""

from typing import Any

PATHS: dict[str, Any] = {}
SCHEMAS: dict[str, Any] = {}
