"""What every model shares: the strict request base, the answer base, constrained text and amounts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from tollgate.core import limits


class RequestModel(BaseModel):
    """A request body: unknown fields are refused, and nothing is coerced (``"5"`` is not 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def example(body: dict[str, Any]) -> ConfigDict:
    """A request model's example, as a person would send it: the document's default body for the route
    (Swagger UI's "Try it out"); ``tests/unit/test_contract_document.py`` runs each through its model."""
    return ConfigDict(json_schema_extra={"examples": [body]})


class AnswerModel(BaseModel):
    """An answer body: exactly these fields (the document says ``additionalProperties: false``)."""

    model_config = ConfigDict(extra="forbid")


Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=limits.NAME_MAX,
        pattern=limits.TEXT_PATTERN,
        description="Free text, no control characters.",
    ),
]


def json_integer(value: Any) -> Any:
    """A JSON integer: ``5`` or ``5.0`` (JSON Schema's integers include integral numbers), never ``"5"`` or
    ``true``. Anything else is left for the field's own check to refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Tokens = Annotated[
    int, Field(ge=0, le=limits.MAX_TOKENS, description="A token amount, 0…10^15."), BeforeValidator(json_integer)
]
Timestamp = Annotated[
    str, Field(description="ISO-8601 UTC, e.g. 2026-11-22T17:00:00Z.", json_schema_extra={"format": "date-time"})
]
