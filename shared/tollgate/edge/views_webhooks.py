"""How webhook endpoints and their delivery attempts look in API answers (never a secret, but once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tollgate.edge.views import iso

if TYPE_CHECKING:
    from tollgate.events.service_webhooks import DeliveryAttempt, WebhookEndpoint


def endpoint_view(endpoint: WebhookEndpoint, secret: str | None = None, now: int | None = None) -> dict[str, Any]:
    overlap = endpoint.previous_until if endpoint.previous_secret_sealed else None
    if overlap is not None and now is not None and now >= overlap:
        overlap = None
    view: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "status": endpoint.status.value,
        "created_at": iso(endpoint.created_at),
        "rotated_at": iso(endpoint.rotated_at),
        "previous_secret_expires_at": iso(overlap),
        "failing_since": iso(endpoint.failing_since),
        "disabled_at": iso(endpoint.disabled_at),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def attempt_view(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "event_id": attempt.event_id,
        "event_type": attempt.event_type,
        "webhook_id": attempt.webhook_id,
        "attempt": attempt.number,
        "at": iso(attempt.at),
        "outcome": attempt.outcome.value,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "next_attempt_at": iso(attempt.next_attempt_at),
    }
