"""Events to the tenant (the outbox), as ``GET /v1/events`` lists them."""

from __future__ import annotations

from typing import Any

from pydantic import Field, JsonValue

from tollgate.core.schema import AnswerModel, Timestamp
from tollgate.events.models_payloads import DATA
from tollgate.events.rules import EVENT_TYPES

_EVENT_TYPES: dict[str, JsonValue] = {"enum": list(sorted(EVENT_TYPES))}  # noqa: C413 (list[JsonValue])


def _typed_data(schema: dict[str, Any]) -> None:
    """The document says which shapes ``data`` takes: one per event type (the payload models, which the
    document's ``webhooks`` section defines as components); the answer itself is not re-validated here."""
    names = sorted({model.__name__ for model in DATA.values()})
    description = schema.get("description")
    schema.clear()
    schema["anyOf"] = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    if description:
        schema["description"] = description


class Event(AnswerModel):
    id: str = Field(description="The event's id; the same event delivered twice has the same id.")
    type: str = Field(json_schema_extra=_EVENT_TYPES)
    created_at: Timestamp
    data: dict[str, Any] = Field(
        description="What happened, by `type` (the payloads under `webhooks`): ids, amounts, statuses; never a secret.",
        json_schema_extra=_typed_data,
    )


class EventsAnswer(AnswerModel):
    events: list[Event] = Field(description="Newest first, the last 30 days.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
