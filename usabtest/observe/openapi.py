"""The live console's part of the OpenAPI document (paths relative to /api/v1)."""

from typing import Any

from usabtest.observe.services import MAX_BODY, MAX_ELAPSED_MS, MAX_ERRORS, MAX_TAGS

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "Malformed JSON, a bad cursor, or a missing CSRF token on a cookie-authenticated write",
        401: "Not authenticated",
        403: "Visible, but reserved to the moderator, the study's researchers, or the note's author",
        404: "No such session (or task, or note) visible to you",
        409: "Refused in the session's current state (or the note id is taken by a different note)",
        422: "A field is invalid; `error.field` names it",
    }
    return {str(code): {"description": reasons[code], **_ERROR} for code in codes}


_SESSION_ID = {
    "name": "session_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_NOTE_ID = {
    "name": "note_id",
    "in": "path",
    "required": True,
    "description": "The note's client UUID",
    "schema": {"type": "string", "format": "uuid"},
}
_AFTER = {
    "name": "after",
    "in": "query",
    "required": False,
    "description": "Event cursor: only what happened after this event id",
    "schema": {"type": "integer", "minimum": 0},
}

_NOTE_FIELDS: dict[str, Any] = {
    "body": {"type": "string", "minLength": 1, "maxLength": MAX_BODY},
    "task_id": {
        "type": "integer",
        "nullable": True,
        "minimum": 1,
        "description": "A task of the session's study; null for none; omitted: the running task",
    },
    "tags": {
        "type": "array",
        "maxItems": MAX_TAGS,
        "items": {"type": "string", "description": "problem, quote, positive, idea, bug or a study tag"},
    },
    "severity": {"type": "integer", "nullable": True, "minimum": 0, "maximum": 4},
    "elapsed_ms": {
        "type": "integer",
        "nullable": True,
        "minimum": 0,
        "maximum": MAX_ELAPSED_MS,
        "description": "Time since the session started; omitted: computed by the server",
    },
}

SCHEMAS: dict[str, Any] = {
    "NoteCreate": {
        "type": "object",
        "required": ["id", "body"],
        "properties": {
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "Chosen by the client; resending the same note is harmless",
            },
            **_NOTE_FIELDS,
        },
    },
    "NoteUpdate": {
        "type": "object",
        "minProperties": 1,
        "properties": {k: v for k, v in _NOTE_FIELDS.items() if k != "elapsed_ms"},
    },
    "Note": {
        "type": "object",
        "required": [
            "id",
            "seq",
            "session_id",
            "task_id",
            "author",
            "body",
            "tags",
            "severity",
            "elapsed_ms",
            "created_at",
            "edited_at",
            "deleted",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "seq": {"type": "integer"},
            "session_id": {"type": "integer"},
            "task_id": {"type": "integer", "nullable": True},
            "author": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "body": {"type": "string", "description": "Empty for a deleted note"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "severity": {"type": "integer", "nullable": True, "minimum": 0, "maximum": 4},
            "elapsed_ms": {"type": "integer", "minimum": 0},
            "created_at": {"type": "string", "format": "date-time"},
            "edited_at": {"type": "string", "format": "date-time", "nullable": True},
            "deleted": {"type": "boolean"},
        },
    },
    "NoteList": {
        "type": "object",
        "required": ["items", "cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Note")},
            "cursor": {"type": "integer", "description": "Pass as `after` to get later changes"},
        },
    },
    "TaskEnd": {
        "type": "object",
        "required": ["outcome"],
        "properties": {
            "outcome": {"type": "string", "enum": ["success", "assisted", "failure", "abandoned", "skipped"]},
            "errors": {"type": "integer", "minimum": 0, "maximum": MAX_ERRORS, "default": 0},
            "seq": {
                "type": "integer",
                "minimum": 1,
                "maximum": 7,
                "nullable": True,
                "description": "Single Ease Question answer; null when not asked",
            },
        },
    },
    "TaskAttempt": {
        "type": "object",
        "required": ["task_id", "started_at", "ended_at", "outcome", "errors", "seq"],
        "properties": {
            "task_id": {"type": "integer"},
            "started_at": {"type": "string", "format": "date-time"},
            "ended_at": {"type": "string", "format": "date-time", "nullable": True},
            "outcome": {
                "type": "string",
                "nullable": True,
                "enum": ["success", "assisted", "failure", "abandoned", "skipped", None],
            },
            "errors": {"type": "integer", "nullable": True},
            "seq": {"type": "integer", "nullable": True},
        },
    },
    "SessionLiveState": {
        "type": "object",
        "required": ["id", "status", "started_at", "ended_at", "current_task_id", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": ["scheduled", "in_progress", "completed", "no_show", "cancelled"],
            },
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "ended_at": {"type": "string", "format": "date-time", "nullable": True},
            "current_task_id": {"type": "integer", "nullable": True},
            "attempts": {"type": "array", "items": _ref("TaskAttempt")},
        },
    },
    "SusAnswers": {
        "type": "object",
        "required": ["answers"],
        "properties": {
            "answers": {
                "type": "array",
                "minItems": 10,
                "maxItems": 10,
                "items": {"type": "integer", "minimum": 1, "maximum": 5},
                "description": "Answers to the ten standard statements, in order",
            }
        },
    },
    "Sus": {
        "type": "object",
        "required": ["session_id", "answers", "score", "updated_at"],
        "properties": {
            "session_id": {"type": "integer"},
            "answers": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 5}},
            "score": {"type": "number", "minimum": 0, "maximum": 100},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "LiveEvent": {
        "type": "object",
        "description": "One `data:` line of the stream. Note events carry the note as it is now.",
        "required": ["id", "kind", "at"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {
                "type": "string",
                "enum": [
                    "note.created",
                    "note.updated",
                    "note.deleted",
                    "session.started",
                    "session.ended",
                    "task.started",
                    "task.ended",
                    "sus.recorded",
                ],
            },
            "at": {"type": "string", "format": "date-time"},
            "note": _ref("Note"),
            "actor": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "task": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "position": {"type": "integer"},
                },
            },
            "elapsed_ms": {"type": "integer"},
            "outcome": {"type": "string"},
            "errors": {"type": "integer"},
            "seq": {"type": "integer", "nullable": True},
            "score": {"type": "number"},
        },
    },
    "CsrfToken": {
        "type": "object",
        "required": ["csrf_token"],
        "properties": {"csrf_token": {"type": "string"}},
    },
    "ScreenLink": {
        "type": "object",
        "required": ["url"],
        "properties": {"url": {"type": "string", "format": "uri"}},
    },
}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _state_op(summary: str, params: list, body: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": {
            "200": _json("SessionLiveState", "The session's status and task attempts"),
            **_errors(400, 401, 403, 404, 409, 422),
        },
    }
    if body:
        op["requestBody"] = _body(body)
    return op


PATHS: dict[str, Any] = {
    "/csrf": {
        "get": {
            "summary": "A fresh CSRF token for cookie-authenticated writes",
            "responses": {"200": _json("CsrfToken", "The token to send as X-CSRFToken"), **_errors(401)},
        }
    },
    "/sessions/{session_id}/notes": {
        "post": {
            "summary": "Add a note (idempotent on its UUID)",
            "parameters": [_SESSION_ID],
            "requestBody": _body("NoteCreate"),
            "responses": {
                "201": _json("Note", "Created"),
                "200": _json("Note", "The same note was already stored; here it is"),
                **_errors(400, 401, 404, 409, 422),
            },
        },
        "get": {
            "summary": "The session's notes, or those changed after an event cursor",
            "parameters": [_SESSION_ID, _AFTER],
            "responses": {
                "200": _json("NoteList", "Notes (without `after`: the live ones)"),
                **_errors(400, 401, 404),
            },
        },
    },
    "/sessions/{session_id}/notes/{note_id}": {
        "patch": {
            "summary": "Edit your own note",
            "parameters": [_SESSION_ID, _NOTE_ID],
            "requestBody": _body("NoteUpdate"),
            "responses": {"200": _json("Note", "The edited note"), **_errors(400, 401, 403, 404, 409, 422)},
        },
        "delete": {
            "summary": "Delete your own note (soft, audited, repeatable)",
            "parameters": [_SESSION_ID, _NOTE_ID],
            "responses": {
                "200": _json("Note", "The deleted note, without its text"),
                **_errors(400, 401, 403, 404),
            },
        },
    },
    "/sessions/{session_id}/stream": {
        "get": {
            "summary": "Live events as Server-Sent Events; resumes after Last-Event-ID",
            "description": "Each event has an `id:` line and a JSON `data:` line (LiveEvent). Comment lines "
            "are heartbeats. The server closes the stream after a few minutes; "
            "EventSource reconnects by itself.",
            "parameters": [
                _SESSION_ID,
                _AFTER,
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "responses": {
                "200": {
                    "description": "An event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **_errors(400, 401, 404),
            },
        }
    },
    "/sessions/{session_id}/start": {
        "post": _state_op("Start the session (needs the participant's consent)", [_SESSION_ID])
    },
    "/sessions/{session_id}/end": {
        "post": _state_op("End the session; the participant screen closes", [_SESSION_ID])
    },
    "/sessions/{session_id}/tasks/{task_id}/start": {
        "post": _state_op("Start a task", [_SESSION_ID, _TASK_ID])
    },
    "/sessions/{session_id}/tasks/{task_id}/end": {
        "post": _state_op(
            "End the running task with its outcome, errors and SEQ", [_SESSION_ID, _TASK_ID], "TaskEnd"
        )
    },
    "/sessions/{session_id}/sus": {
        "post": {
            "summary": "Enter (or correct) the ten SUS answers after the session",
            "parameters": [_SESSION_ID],
            "requestBody": _body("SusAnswers"),
            "responses": {
                "201": _json("Sus", "Stored"),
                "200": _json("Sus", "Corrected"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        },
        "get": {
            "summary": "The session's SUS answers and score",
            "parameters": [_SESSION_ID],
            "responses": {"200": _json("Sus", "Answers and score"), **_errors(401, 404)},
        },
    },
    "/sessions/{session_id}/screen": {
        "post": {
            "summary": "The participant screen's secret link (valid until the session ends)",
            "parameters": [_SESSION_ID],
            "responses": {"200": _json("ScreenLink", "The link"), **_errors(400, 401, 403, 404, 409)},
        }
    },
}
