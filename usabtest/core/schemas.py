"""Shared pieces of the API's pydantic models: base classes, text and time types, pages, the error shape.

Each domain declares its request and response models in its own `schemas.py` on top of these; the
API layer turns them into validation, serialisation and the OpenAPI document. No Flask here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    create_model,
    model_validator,
)

MAX_PER_PAGE = 200
MAX_PAGE = 100_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every table the API addresses
T = TypeVar("T")


# C0 control characters and DEL: nobody types them, PostgreSQL refuses NUL, and line breaks in a
# name or title could break the headers of a mail that carries it. Multi-line texts keep tab and
# line breaks; single-line ones keep tab only.
_CONTROL_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def control_character_problem(value: str, *, multiline: bool) -> str | None:
    """Why `value` cannot be stored as typed (a sentence for people), or None when it can."""
    found = (_CONTROL_MULTI_LINE if multiline else _CONTROL_SINGLE_LINE).search(value)
    if found is not None:
        char = found.group()
        if char in "\r\n":
            return "must be a single line (no line breaks)"
        if char == "\x00":
            return "must not contain NUL characters"
        return f"must not contain control characters (U+{ord(char):04X} found)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode"
    return None


def storable(value: str) -> str:
    """`value` when it is one line of text every database can store (no control characters)."""
    problem = control_character_problem(value, multiline=False)
    if problem:
        raise ValueError(f"text {problem}")
    return value


def storable_text(value: str) -> str:
    """`value` when it is text of several lines every database can store (tab and line breaks kept)."""
    problem = control_character_problem(value, multiline=True)
    if problem:
        raise ValueError(f"text {problem}")
    return value


def text(max_length: int, *, min_length: int = 0, multiline: bool = False) -> object:
    """A string type with surrounding spaces stripped, length limits, and storable characters only.

    `multiline` texts (notes, goals, report texts) may hold tabs and line breaks; others may not.
    """
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length,
                                            max_length=max_length),
                     AfterValidator(storable_text if multiline else storable)]


Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# ISO 8601 with an explicit "+00:00", exactly as the API has always written times.
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class InputModel(BaseModel):
    """A JSON request body: unknown keys are refused and JSON types are taken strictly ("3" is not 3)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _change_schema(schema: dict[str, Any]) -> None:
    # A field left out of a PATCH is unchanged: it has no default, and null is not one of its values.
    for prop in schema.get("properties", {}).values():
        if prop.get("default", "") is None:
            del prop["default"]
    # At least one field to change besides the required ones (the version it was based on).
    schema["minProperties"] = 1 + len(schema.get("required", []))


class ChangeModel(InputModel):
    """A PATCH body: only the fields sent change, and at least one must be sent."""

    model_config = ConfigDict(json_schema_extra=_change_schema)

    @model_validator(mode="after")
    def _something_to_change(self) -> ChangeModel:
        if not self.model_fields_set - {"version"}:
            raise ValueError("send at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by name (without the version they were based on)."""
        return self.model_dump(exclude_unset=True, exclude={"version"})


VERSION_OUT = ("Rises by one with every saved edit of the record's editable fields; send it back as "
               "`version` when you change the record")
Version = Annotated[int, Field(ge=1, le=MAX_ID, description=(
    "The `version` of the record your change is based on (as last read). When the record has been "
    "saved since, nothing changes and the answer is 409 with the record as it is now in `current`"))]


class VersionedChange(ChangeModel):
    """A PATCH of a record people edit: the fields to change and the version they were based on."""

    version: Version


class QueryModel(BaseModel):
    """Query-string parameters: text converted to the declared types; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")


class OutputModel(BaseModel):
    """A response body, built from ORM objects; every field is always present in the JSON."""

    model_config = ConfigDict(from_attributes=True, json_schema_serialization_defaults_required=True)


class PageQuery(QueryModel):
    """`?page=&per_page=` of every paginated list."""

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1")
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE, description="Items per page")


class Page(OutputModel, Generic[T]):
    """One page of a list: the items and where they sit in the whole."""

    items: list[T]
    page: int
    per_page: int
    total: int = Field(description="Items in the whole list")
    pages: int = Field(description="Number of pages")


class ErrorDetail(OutputModel):
    """What went wrong: the HTTP status, a sentence for people, and a message per faulty field."""

    status: int
    message: str
    fields: dict[str, str] = Field(
        description="Field name (or dotted path, e.g. `answers.3`) to its problem; empty when the "
                    "request as a whole is at fault"
    )


class Error(OutputModel):
    """The body of every error answer of the API."""

    error: ErrorDetail


class StaleEditError(Error):
    """409: an error answer that, when the change was based on an old version, carries the record now."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)


def stale_edit_error(name: str, current: type[BaseModel]) -> type[StaleEditError]:
    """The 409 body of an endpoint changing a `current` record: the error, plus the record as it is now."""
    return create_model(name, __base__=StaleEditError, __doc__=(
        "The error answer; `current` is present when the change was based on an old version: the record "
        "as it is now, to show the user and to take the `version` of for a new attempt"),
        current=(current | None, Field(None, description="The record as it is now (stale edits only)")))
