"""The ports of buying: the payment provider (``Checkout``), the webhook verifier and the purchase store,
with the one change record the store applies in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from tollgate.core.idempotency import StoredAnswer
from tollgate.core.models import LedgerEntry, Lot
from tollgate.events.rules import Event
from tollgate.purchases.rules_payment_facts import (
    ChargeFacts,
    CheckoutRequest,
    CheckoutSession,
    PaymentEvent,
    PriceFacts,
)
from tollgate.purchases.rules_records import Purchase, PurchasePage


class Checkout(Protocol):
    """The payment provider. Every method raises ``UpstreamUnavailable`` when the provider fails."""

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession: ...

    def checkout_session(self, session_id: str) -> CheckoutSession: ...

    def session_for_payment_intent(self, payment_intent_id: str) -> CheckoutSession | None: ...

    def charge(self, charge_id: str) -> ChargeFacts | None:
        """None when Stripe has no such charge (it answers 404): nothing to take back or give back."""
        ...

    def completed_sessions(self, created_since: int) -> Iterable[CheckoutSession]:
        """Complete Checkout Sessions created at or after ``created_since``, newest first."""
        ...


class PriceLookup(Protocol):
    def price(self, price_id: str) -> PriceFacts:
        """``InvalidField`` if there is no such price; ``UpstreamUnavailable`` if the provider fails."""
        ...


class WebhookVerifier(Protocol):
    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent:
        """The event, if ``signature`` is a valid, fresh signature of ``payload`` under a configured secret.
        Raises ``WebhookSignatureInvalid`` otherwise."""
        ...


@dataclass(frozen=True)
class EventMark:
    event_id: str
    event_type: str
    recorded_at: int
    purge_at: int


@dataclass(frozen=True)
class LotTake:
    """Change a live lot's stored ``remaining`` by ``-tokens`` (a take-back lowers it; a give-back, with
    negative ``tokens``, restores it). See domain/lots.py."""

    lot_id: str
    tokens: int


@dataclass(frozen=True)
class PurchaseChange:
    """One transaction: the purchase (compare-and-set on ``expected_version``), and optionally a ledger entry
    with its balance change, a new lot, a lot take and the event that caused it."""

    purchase: Purchase
    expected_version: int
    entry: LedgerEntry | None = None
    new_lot: Lot | None = None
    lot_take: LotTake | None = None
    event: EventMark | None = None
    now: int = 0
    notices: tuple[Event, ...] = ()  # outbox events, written in the same transaction


class Applied(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # the purchase (or the pool's next lot end, or the lot) moved: read again and retry
    DUPLICATE_EVENT = "duplicate_event"  # the event was recorded by someone else first


class PurchaseRepository(Protocol):
    """Every write that changes a pool's balance is one of ``credit``, ``take_back`` and ``give_back``;
    ``save`` changes the purchase (and records the event) without touching the pool."""

    def create(self, purchase: Purchase, idempotency_key: str, answer: StoredAnswer, now: int) -> None:
        """The pending purchase and its idempotent answer together; ``Replayed`` if the key was used."""
        ...

    def stored_answer(self, tenant_id: str, idempotency_key: str) -> StoredAnswer | None: ...

    def find(self, tenant_id: str, purchase_id: str) -> Purchase | None: ...

    def find_under_review(self, purchase_id: str) -> Purchase | None:
        """A purchase of any tenant that is (or was, until resolved just now) under review; for operators."""
        ...

    def under_review(self) -> list[Purchase]: ...

    def page(self, tenant_id: str, cursor: str | None, limit: int) -> PurchasePage:
        """Newest first."""
        ...

    def lot(self, tenant_id: str, lot_id: str) -> Lot | None: ...

    def event_seen(self, event_id: str, now: int) -> bool: ...

    def record_event(self, mark: EventMark) -> bool:
        """Record an event that changed nothing; False if it was recorded before."""
        ...

    def save(self, change: PurchaseChange) -> Applied: ...

    def credit(self, change: PurchaseChange) -> Applied:
        """Credit a paid purchase: its lot, a positive ledger entry and the purchase, together."""
        ...

    def take_back(self, change: PurchaseChange) -> Applied:
        """A refund or dispute: a negative ledger entry, the lot lowered when still live, the purchase."""
        ...

    def give_back(self, change: PurchaseChange) -> Applied:
        """A won dispute: a positive ledger entry, the lot restored (or a new lot), the purchase."""
        ...


class ProjectLookup(Protocol):
    def get(self, tenant_id: str, project_id: str) -> Any:
        """``NotFound`` if the tenant has no such project."""
        ...
