"""The planning part of the OpenAPI document (paths relative to /api/v1)."""

from typing import Any


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _page_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    }


_ERRORS = {
    "401": _json(_ref("Error"), "Not authenticated"),
}
_NOT_FOUND = {"404": _json(_ref("Error"), "No such object, or not visible to the caller")}
_BAD_PAGE = {"400": _json(_ref("Error"), "Bad page or per_page")}
_PAGE_PARAMS = [{"$ref": "#/components/parameters/page"}, {"$ref": "#/components/parameters/per_page"}]


def _id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


_PERSON = {"type": "object", "required": ["id", "name"],
           "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}

SCHEMAS: dict[str, Any] = {
    "StudySummary": {
        "type": "object",
        "required": ["id", "title", "client", "product", "method", "status", "owner"],
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "client": {"type": "string", "description": "The client organisation's name"},
            "product": {"type": "string"},
            "method": {"type": "string", "enum": ["in_person", "remote_moderated"]},
            "status": {"type": "string", "enum": ["draft", "active", "closed"]},
            "owner": _PERSON,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "StudyDetail": {
        "allOf": [
            _ref("StudySummary"),
            {
                "type": "object",
                "required": ["goals", "tasks", "counts"],
                "properties": {
                    "goals": {"type": "string"},
                    "tasks": {"type": "array", "items": _ref("Task")},
                    "counts": {
                        "type": "object",
                        "properties": {name: {"type": "integer"} for name in (
                            "tasks", "participants", "consented", "sessions_planned", "sessions_done",
                            "sessions_no_show", "sessions_cancelled")},
                    },
                },
            },
        ],
    },
    "Task": {
        "type": "object",
        "required": ["id", "position", "title"],
        "properties": {
            "id": {"type": "integer"},
            "position": {"type": "integer", "minimum": 1},
            "title": {"type": "string"},
            "scenario": {"type": "string"},
            "success_criteria": {"type": "string"},
            "time_limit_s": {"type": "integer", "nullable": True},
        },
    },
    "StudySession": {
        "type": "object",
        "required": ["id", "study_id", "participant", "starts_at", "ends_at", "timezone", "duration_min",
                     "status", "moderator", "observers"],
        "properties": {
            "id": {"type": "integer"},
            "study_id": {"type": "integer"},
            "participant": {
                "type": "object",
                "description": "Pseudonym only: personal details never leave the planning pages",
                "properties": {"id": {"type": "integer"}, "code": {"type": "string"},
                               "has_consent": {"type": "boolean"}},
            },
            "starts_at": {"type": "string", "format": "date-time", "description": "UTC"},
            "ends_at": {"type": "string", "format": "date-time", "description": "UTC"},
            "timezone": {"type": "string", "description": "IANA zone the session was scheduled in"},
            "duration_min": {"type": "integer"},
            "status": {"type": "string",
                       "enum": ["scheduled", "in_progress", "completed", "no_show", "cancelled"]},
            "moderator": _PERSON,
            "observers": {"type": "array", "items": _PERSON},
            "location": {"type": "string"},
            "video_link": {"type": "string"},
            "ics_uid": {"type": "string"},
            "ics_sequence": {"type": "integer"},
        },
    },
    "StudyPage": _page_of("StudySummary"),
    "StudySessionPage": _page_of("StudySession"),
}

PATHS: dict[str, Any] = {
    "/studies": {
        "get": {
            "summary": "Studies the caller may open (clients: none)",
            "parameters": _PAGE_PARAMS,
            "responses": {"200": _json(_ref("StudyPage"), "A page of studies"), **_BAD_PAGE, **_ERRORS},
        }
    },
    "/studies/{study_id}": {
        "get": {
            "summary": "One study with its task script and progress counts",
            "parameters": [_id_param("study_id")],
            "responses": {"200": _json(_ref("StudyDetail"), "The study"), **_ERRORS, **_NOT_FOUND},
        }
    },
    "/studies/{study_id}/sessions": {
        "get": {
            "summary": "A study's sessions in time order",
            "parameters": [_id_param("study_id"), *_PAGE_PARAMS],
            "responses": {"200": _json(_ref("StudySessionPage"), "A page of sessions"), **_BAD_PAGE,
                          **_ERRORS, **_NOT_FOUND},
        }
    },
    "/sessions/{session_id}": {
        "get": {
            "summary": "One session",
            "parameters": [_id_param("session_id")],
            "responses": {"200": _json(_ref("StudySession"), "The session"), **_ERRORS, **_NOT_FOUND},
        }
    },
}
