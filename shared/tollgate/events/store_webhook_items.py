"""Webhook endpoints, deliveries and their attempts in the table (keys in ``tollgate.kernel.keys``).

- An endpoint (sk ``WHEP#…``) holds its secret sealed (``tollgate.events.sealing``), never in clear.
- A delivery (sk ``WHDL#<endpoint>#<event>``) is one event to one endpoint: the payload, its status and its
  next attempt, on the ``by_due`` index (shard ``WEBHOOK``) only while it is pending. Every change to it is
  conditioned on its ``version``, so two notifier runs never attempt it both.
- Attempts (pk ``T#<tenant>#W``) are written in the transaction of the delivery's change, with their own
  deterministic key (a retried write cannot add one twice). Response bodies are never stored.
- The tenant's number of endpoints is an item of its own (sk ``WHEPS``), changed in the transaction that
  adds or deletes one and conditioned on the number read: the limit holds under concurrent creates.
- Deliveries and attempts are purged by TTL 35 and 30 days after they start (clean-up only).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from tollgate.events.service_webhooks import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    WebhookEndpoint,
)
from tollgate.kernel import keys
from tollgate.kernel.table import TableModel

ATTEMPT_TTL_S = 30 * 86_400
DELIVERY_TTL_S = 35 * 86_400
DELIVERY, ATTEMPT, ENDPOINT, COUNT = "delivery", "attempt", "endpoint", "endpoint_count"  # transaction labels


class WebhookEndpointItem(TableModel):
    endpoint_id = UnicodeAttribute()
    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    created_at = NumberAttribute()
    secret_sealed = UnicodeAttribute()
    previous_secret_sealed = UnicodeAttribute(null=True)
    previous_until = NumberAttribute(null=True)
    rotated_at = NumberAttribute(null=True)
    failing_since = NumberAttribute(null=True)
    disabled_at = NumberAttribute(null=True)
    version = NumberAttribute(default=0)


class WebhookEndpointCountItem(TableModel):
    """How many endpoints a tenant has. Absent for a tenant whose endpoints predate it: then the endpoints
    are counted, and the first create writes it."""

    endpoints = NumberAttribute()


class _WebhookDueIndex(GlobalSecondaryIndex["WebhookDeliveryItem"]):
    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class WebhookDeliveryItem(TableModel):
    endpoint_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    body = UnicodeAttribute()
    status = UnicodeAttribute()
    attempts = NumberAttribute()
    first_attempt_at = NumberAttribute()
    next_attempt_at = NumberAttribute(null=True)
    version = NumberAttribute()
    due_shard = UnicodeAttribute(null=True)  # present only while the delivery is pending
    due_at = NumberAttribute(null=True)
    by_due = _WebhookDueIndex()


class WebhookAttemptItem(TableModel):
    endpoint_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    webhook_id = UnicodeAttribute()
    number = NumberAttribute()
    at = NumberAttribute()
    status_code = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    duration_ms = NumberAttribute()
    outcome = UnicodeAttribute()
    next_attempt_at = NumberAttribute(null=True)


# --------------------------------------------------------------------------------------- mapping


def to_endpoint(tenant_id: str, item: WebhookEndpointItem) -> WebhookEndpoint:
    def optional(value: Any) -> int | None:
        return None if value is None else int(value)

    return WebhookEndpoint(
        id=item.endpoint_id,
        tenant_id=tenant_id,
        url=item.url,
        events=tuple(str(e) for e in (item.events or ())),
        description=item.description,
        status=EndpointStatus(item.status),
        created_at=int(item.created_at),
        secret_sealed=item.secret_sealed,
        previous_secret_sealed=item.previous_secret_sealed,
        previous_until=optional(item.previous_until),
        rotated_at=optional(item.rotated_at),
        failing_since=optional(item.failing_since),
        disabled_at=optional(item.disabled_at),
        version=int(item.version or 0),
    )


def endpoint_item(endpoint: WebhookEndpoint) -> WebhookEndpointItem:
    return WebhookEndpointItem(
        keys.tenant_pk(endpoint.tenant_id),
        keys.webhook_endpoint_sk(endpoint.id),
        endpoint_id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        status=endpoint.status.value,
        created_at=endpoint.created_at,
        secret_sealed=endpoint.secret_sealed,
        previous_secret_sealed=endpoint.previous_secret_sealed,
        previous_until=endpoint.previous_until,
        rotated_at=endpoint.rotated_at,
        failing_since=endpoint.failing_since,
        disabled_at=endpoint.disabled_at,
        version=endpoint.version,
    )


def to_delivery(tenant_id: str, item: WebhookDeliveryItem) -> Delivery:
    return Delivery(
        tenant_id=tenant_id,
        endpoint_id=item.endpoint_id,
        event_id=item.event_id,
        event_type=item.event_type,
        body=item.body,
        status=DeliveryStatus(item.status),
        attempts=int(item.attempts),
        first_attempt_at=int(item.first_attempt_at),
        next_attempt_at=None if item.next_attempt_at is None else int(item.next_attempt_at),
        version=int(item.version),
    )


def delivery_item(delivery: Delivery) -> WebhookDeliveryItem:
    pending = delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    return WebhookDeliveryItem(
        keys.tenant_pk(delivery.tenant_id),
        keys.webhook_delivery_sk(delivery.endpoint_id, delivery.event_id),
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        body=delivery.body,
        status=delivery.status.value,
        attempts=delivery.attempts,
        first_attempt_at=delivery.first_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
        version=delivery.version,
        due_shard=keys.WEBHOOK_DUE_SHARD if pending else None,
        due_at=delivery.next_attempt_at if pending else None,
        purge_at=delivery.first_attempt_at + DELIVERY_TTL_S,
    )


def to_attempt(tenant_id: str, item: WebhookAttemptItem) -> DeliveryAttempt:
    return DeliveryAttempt(
        tenant_id=tenant_id,
        endpoint_id=item.endpoint_id,
        event_id=item.event_id,
        event_type=item.event_type,
        webhook_id=item.webhook_id,
        number=int(item.number),
        at=int(item.at),
        status_code=None if item.status_code is None else int(item.status_code),
        error=item.error,
        duration_ms=int(item.duration_ms),
        outcome=AttemptOutcome(item.outcome),
        next_attempt_at=None if item.next_attempt_at is None else int(item.next_attempt_at),
    )


def attempt_item(attempt: DeliveryAttempt) -> WebhookAttemptItem:
    return WebhookAttemptItem(
        keys.webhook_attempts_pk(attempt.tenant_id),
        keys.webhook_attempt_sk(attempt.endpoint_id, attempt.at, attempt.id),
        endpoint_id=attempt.endpoint_id,
        event_id=attempt.event_id,
        event_type=attempt.event_type,
        webhook_id=attempt.webhook_id,
        number=attempt.number,
        at=attempt.at,
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
        outcome=attempt.outcome.value,
        next_attempt_at=attempt.next_attempt_at,
        purge_at=attempt.at + ATTEMPT_TTL_S,
    )


def failed_condition(exc: PutError | UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"
