"""Webhook endpoints and their delivery attempts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tollgate.core import limits
from tollgate.core.schema import AnswerModel, RequestModel, Timestamp, example
from tollgate.events.rules import EVENT_TYPES
from tollgate.events.service_webhooks import ALL_EVENTS, DESCRIPTION_MAX, TEST_EVENT, URL_MAX

# The types an endpoint may subscribe to: every event type but the test event (which names its endpoint),
# or "*" for all of them, those added later included.
SUBSCRIBABLE = (*sorted(t for t in EVENT_TYPES if t != TEST_EVENT), ALL_EVENTS)
EventType = Literal[SUBSCRIBABLE]  # type: ignore[valid-type]


class WebhookEndpointBody(RequestModel):
    model_config = example(
        {
            "url": "https://hooks.acme-robotics.example/tollgate",
            "events": ["purchase.paid", "balance.low"],
            "description": "Finance notifications",
        }
    )

    url: str = Field(
        min_length=1,
        max_length=URL_MAX,
        pattern=r"^https?://",
        description="https only; the address it resolves to must be public (checked again at every delivery).",
        examples=["https://hooks.example.com/tollgate"],
    )
    events: list[EventType] = Field(
        min_length=1,
        max_length=limits.MAX_LIST_ITEMS,
        description='Event types to deliver (see the Events section of the docs), or ["*"] for all.',
    )
    description: str | None = Field(default=None, min_length=1, max_length=DESCRIPTION_MAX, pattern=limits.TEXT_PATTERN)


class WebhookEndpoint(AnswerModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    status: Literal["enabled", "disabled"]
    created_at: Timestamp | None
    rotated_at: Timestamp | None
    previous_secret_expires_at: Timestamp | None = Field(
        description="Until then the previous secret signs too (after a rotation)."
    )
    failing_since: Timestamp | None = Field(description="The first failed attempt since the last success.")
    disabled_at: Timestamp | None


class NewWebhookEndpoint(WebhookEndpoint):
    secret: str = Field(description="The signing secret (`whsec_…`), shown in this answer only.")


class WebhookEndpointAnswer(AnswerModel):
    endpoint: WebhookEndpoint


class NewWebhookEndpointAnswer(AnswerModel):
    endpoint: NewWebhookEndpoint


class WebhookEndpointsAnswer(AnswerModel):
    endpoints: list[WebhookEndpoint]


class TestEvent(AnswerModel):
    id: str
    type: str
    created_at: Timestamp | None


class TestEventAnswer(AnswerModel):
    event: TestEvent


class DeliveryAttempt(AnswerModel):
    id: str
    event_id: str
    event_type: str
    webhook_id: str = Field(description="The `webhook-id` header: the same on every attempt of one event.")
    attempt: int
    at: Timestamp | None
    outcome: Literal["delivered", "failed"]
    status_code: int | None = Field(description="The receiver's HTTP status; null when none came back.")
    error: str | None = Field(description="Why the attempt failed (refused address, timeout, status…).")
    duration_ms: int
    next_attempt_at: Timestamp | None


class DeliveryAttemptsAnswer(AnswerModel):
    deliveries: list[DeliveryAttempt]
    next_cursor: str | None
