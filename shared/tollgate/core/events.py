"""The outbox event as the kernel writes it: a plain record, with the types a tenant may hear about.

The kernel writes an event in the transaction of the change that causes it (``PoolTransaction.event``), so
the record lives here, below both the kernel and ``tollgate.events`` (which builds, lists and delivers
events: ``tollgate.events.rules``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES: frozenset[str] = frozenset(
    {
        "purchase.paid",
        "purchase.refunded",
        "purchase.disputed",
        "purchase.needs_review",
        "balance.low",
        "balance.depleted",
        "balance.recovered",
        "forecast.depletion_soon",
        "lot.expiring",
        "lot.expired",
        "lease.expired",
        "key.expiring",
        "action.pending",
        "action.escalated",
        "action.approved",
        "action.denied",
        "action.expired",
        "budget.exhausted",  # a budget level's left reached 0: once per level per period
        "topup.succeeded",  # an auto top-up's payment succeeded (its purchase.paid says what it credited)
        "topup.failed",  # an auto top-up's payment failed (its purchase is failed, not counted this month)
        "topup.disabled",  # three consecutive failures switched auto top-up off
        "webhook.test",  # POST /v1/webhook-endpoints/{id}/test: to that endpoint only
        "webhook_endpoint.disabled",  # an endpoint whose every attempt failed for 5 days
    }
)
RETENTION_S = 30 * 86_400  # listed for 30 days; DynamoDB's TTL cleans up after that


@dataclass(frozen=True)
class Event:
    """One event of one tenant. ``data`` is the event's JSON object (ids and amounts, never a secret)."""

    id: str
    tenant_id: str
    type: str
    at: int
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
