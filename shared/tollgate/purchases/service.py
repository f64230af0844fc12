"""Buying tokens, as one service: it routes Stripe's events to the module whose job each is.

- purchase_records.py: the purchase (the procurement ticket) and its statuses
- payment_facts.py: what Stripe tells us, as plain values; purchase_ports.py: the provider and store ports
- checkout.py: buying (a pending purchase with its Checkout Session) and reading purchases
- fulfilment.py: crediting a paid session once, failed payments, operator review of mismatched payments
- take_back_rules.py (pure figures) and take_back.py: refunds, disputes and won disputes
- reconciliation.py: fulfilling sessions whose webhook was lost

Exactly once, in two layers:

1. Every Stripe event id is recorded in the same transaction as the change it causes, and a recorded
   event is not applied again (for ``EVENT_DEDUPE_S``, enforced when read, not by TTL).
2. Every change of a purchase is a compare-and-set on its ``version``, and the changes are monotonic:
   pending → paid happens once; refunds take back a cumulative share (an older refund event arriving late
   takes nothing); a dispute takes back what is left and is given back once. So the same fact arriving
   through another event, the reconciler, or after the dedupe window, still changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tollgate.core.clock import Clock
from tollgate.core.ids import IdGenerator
from tollgate.core.models import Principal
from tollgate.purchases.ports import (
    Applied,
    Checkout,
    EventMark,
    LotTake,
    ProjectLookup,
    PurchaseChange,
    PurchaseRepository,
    WebhookVerifier,
)
from tollgate.purchases.rules_catalog import CatalogRepository
from tollgate.purchases.rules_payment_facts import (
    ChargeFacts,
    CheckoutRequest,
    CheckoutSession,
    DisputeFacts,
    PaymentEvent,
    PriceFacts,
    WebhookSignatureInvalid,
)
from tollgate.purchases.rules_records import (
    Purchase,
    PurchasePage,
    PurchaseStatus,
    purchase_entry_id,
    purchase_lot_id,
)
from tollgate.purchases.service_checkout import IDEMPOTENCY_SCOPE, MAX_QUANTITY, Buying, check_stripe_price
from tollgate.purchases.service_fulfilment import Fulfilment, Outcome
from tollgate.purchases.service_reconciliation import Reconciler, ReconcileReport
from tollgate.purchases.service_take_back import TakeBack
from tollgate.purchases.service_topup import CardGateway, TopUpRepository, TopUps

__all__ = [
    "EVENT_DEDUPE_S",
    "IDEMPOTENCY_SCOPE",
    "MAX_QUANTITY",
    "Applied",
    "ChargeFacts",
    "Checkout",
    "CheckoutRequest",
    "CheckoutSession",
    "DisputeFacts",
    "EventMark",
    "LotTake",
    "Outcome",
    "PaymentEvent",
    "PriceFacts",
    "ProjectLookup",
    "Purchase",
    "PurchaseChange",
    "PurchasePage",
    "PurchaseRepository",
    "PurchaseService",
    "PurchaseStatus",
    "ReconcileReport",
    "WebhookSignatureInvalid",
    "WebhookVerifier",
    "check_stripe_price",
    "purchase_entry_id",
    "purchase_lot_id",
]

EVENT_DEDUPE_S = 7 * 86400  # Stripe retries for 3 days; an event id is remembered for 7
_SESSION_PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
_SESSION_FAILED = ("checkout.session.async_payment_failed", "checkout.session.expired")
_QUIET = (
    Outcome.IGNORED,
    Outcome.UNMATCHED,
    Outcome.NOT_PAID,
    Outcome.ALREADY_CREDITED,
    Outcome.NOTHING_TO_TAKE,
    Outcome.IN_REVIEW,
)


class PurchaseService:
    def __init__(
        self,
        purchases: PurchaseRepository,
        catalog: CatalogRepository,
        projects: ProjectLookup,
        checkout: Checkout,
        verifier: WebhookVerifier,
        clock: Clock,
        ids: IdGenerator,
        portal_base_url: Callable[[], str],
        log: Callable[[str, dict[str, Any]], None] | None = None,
        topup_settings: TopUpRepository | None = None,
        cards: CardGateway | None = None,
    ) -> None:
        log = log or (lambda _message, _fields: None)
        self._purchases = purchases
        self._verifier = verifier
        self._clock = clock
        self.buying = Buying(purchases, catalog, projects, checkout, clock, ids, portal_base_url)
        self.fulfilment = Fulfilment(purchases, clock, log)
        self.take_back = TakeBack(purchases, checkout, self.fulfilment, clock, log)
        self.reconciler = Reconciler(checkout, self.fulfilment, clock)
        self.topups: TopUps | None = None
        if topup_settings is not None and cards is not None:
            self.topups = TopUps(
                topup_settings, purchases, catalog, cards, self.fulfilment, clock, portal_base_url, log
            )

    # Buying and reading

    def create(
        self,
        caller: Principal,
        pack_id: str,
        quantity: int,
        po_number: str | None,
        project_id: str | None,
        idempotency_key: str,
    ) -> Purchase:
        return self.buying.create(caller, pack_id, quantity, po_number, project_id, idempotency_key)

    def get(self, caller: Principal, purchase_id: str) -> Purchase:
        return self.buying.get(caller, purchase_id)

    def list(self, caller: Principal, cursor: str | None, limit: int) -> PurchasePage:
        return self.buying.list(caller, cursor, limit)

    # Stripe's events

    def handle_webhook(self, payload: bytes, signature: str | None) -> tuple[PaymentEvent, Outcome]:
        event = self._verifier.verify(payload, signature)
        return event, self.apply_event(event)

    def apply_event(self, event: PaymentEvent) -> Outcome:
        now = self._clock.now()
        if self._purchases.event_seen(event.id, now):
            return Outcome.DUPLICATE
        mark = EventMark(event.id, event.type, now, now + EVENT_DEDUPE_S)
        outcome = self._route(event, mark)
        # Nothing changed, so nothing recorded the event; remember it, so that its retries stop here.
        if outcome in _QUIET and not self._purchases.record_event(mark):
            return Outcome.DUPLICATE
        return outcome

    def _route(self, event: PaymentEvent, mark: EventMark) -> Outcome:
        session, dispute = event.session, event.dispute
        if event.type in _SESSION_PAID + _SESSION_FAILED:
            if session is None or session.tenant_id is None or session.purchase_id is None:
                return Outcome.IGNORED
            if event.type in _SESSION_PAID:
                return self.fulfilment.fulfil(session, "stripe:webhook", mark)
            return self.fulfilment.fail(session, "stripe:webhook", mark)
        if event.intent is not None:  # auto top-up's off-session payments
            return self._intent(event, mark)
        if event.type == "charge.refunded" and event.charge is not None:
            return self.take_back.on_refund(event.charge, mark)
        if dispute is None:
            return Outcome.IGNORED
        if event.type == "charge.dispute.created":
            return self.take_back.on_dispute(dispute, mark)
        won = event.type == "charge.dispute.closed" and dispute.status == "won"
        if won or event.type == "charge.dispute.funds_reinstated":
            return self.take_back.on_dispute_won(dispute, mark)
        return Outcome.IGNORED

    def _intent(self, event: PaymentEvent, mark: EventMark) -> Outcome:
        if self.topups is None or event.intent is None:
            return Outcome.IGNORED
        return self.topups.on_intent(event.type, event.intent, mark)

    def fulfil(self, session: CheckoutSession, actor: str, mark: EventMark | None = None) -> Outcome:
        return self.fulfilment.fulfil(session, actor, mark)

    # Operators

    def reconcile(self, since_s: int, actor: str = "system:reconcile") -> ReconcileReport:
        return self.reconciler.reconcile(since_s, actor)

    def under_review(self) -> Sequence[Purchase]:
        return self.fulfilment.under_review()

    def resolve(self, purchase_id: str, credit: bool, reason: str, actor: str) -> Purchase:
        return self.fulfilment.resolve(purchase_id, credit, reason, actor)
