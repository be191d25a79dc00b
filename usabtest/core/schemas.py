"""Shared pieces of the API's pydantic models: base classes, text and time types, pages, the error shape.

Each domain declares its request and response models in its own `schemas.py` on top of these; the
API layer turns them into validation, serialisation and the OpenAPI document. No Flask here.
"""

from __future__ import annotations

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


def storable(value: str) -> str:
    """`value` when every database can store it: PostgreSQL refuses NUL, UTF-8 lone surrogates."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode") from None
    return value


def text(max_length: int, *, min_length: int = 0) -> object:
    """A string type with surrounding spaces stripped, length limits, and storable characters only."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length,
                                            max_length=max_length), AfterValidator(storable)]


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
