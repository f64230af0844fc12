"""Buying tokens: the purchase record (the procurement ticket), Checkout, fulfilment, refunds and disputes.

Pure rules: the payment provider is a port (``Checkout``), storage is a port (``PurchaseRepository``).

Exactly once, in two layers:

1. Every Stripe event id is recorded in the same transaction as the change it causes, and a recorded
   event is not applied again (for ``EVENT_DEDUPE_S``, enforced when read, not by TTL).
2. Every change of a purchase is a compare-and-set on its ``version``, and the changes are monotonic:
   pending → paid happens once; refunds take back ``tokens × amount_refunded / amount`` (cumulative, so an
   older refund event arriving late takes nothing); a dispute takes back what is left. So the same fact
   arriving through another event, the reconciler, or after the dedupe window, still changes nothing.

When order matters (a refund or dispute of a purchase not yet credited, because its
``checkout.session.completed`` is late or lost), the session is fetched again from Stripe and fulfilled
first, through the same code path as the webhook and the reconciler.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from tollgate.clock import Clock
from tollgate.domain.catalog import CatalogRepository
from tollgate.domain.errors import IdempotencyKeyReused, InvalidField, MalformedRequest, NotFound, StoreBusy
from tollgate.domain.models import EntryKind, LedgerEntry, Lot, Principal
from tollgate.domain.pool import IDEMPOTENCY_WINDOW_S, Replayed, StoredAnswer, request_fingerprint
from tollgate.domain.roles import Permission, require
from tollgate.ids import IdGenerator

EVENT_DEDUPE_S = 7 * 86400  # Stripe retries for 3 days; an event id is remembered for 7
MAX_QUANTITY = 1000
IDEMPOTENCY_SCOPE = "purchase"
_ATTEMPTS = 6


class PurchaseStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


@dataclass(frozen=True)
class Purchase:
    """A procurement ticket. ``tokens``, ``amount`` and ``valid_days`` are the pack as it was sold, so a
    later catalog change never alters what a purchase credits. ``taken_back`` is what refunds and the
    dispute together have debited from the pool; ``refunded_tokens`` is the refunds' share of it."""

    id: str
    tenant_id: str
    buyer_key_id: str
    pack_id: str
    quantity: int
    tokens: int
    amount: int
    currency: str
    valid_days: int | None
    status: PurchaseStatus
    created_at: int
    po_number: str | None = None
    project_id: str | None = None
    stripe_session_id: str | None = None
    checkout_url: str | None = None
    payment_intent_id: str | None = None
    charge_id: str | None = None
    lot_id: str | None = None
    paid_at: int | None = None
    failed_at: int | None = None
    refunded_tokens: int = 0
    amount_refunded: int = 0
    taken_back: int = 0
    disputed_at: int | None = None
    version: int = 0


@dataclass(frozen=True)
class PurchasePage:
    purchases: list[Purchase]
    cursor: str | None


# What the payment provider tells us, as plain values (billing/ translates Stripe's objects into these).


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    created: int
    url: str | None = None
    payment_intent: str | None = None
    amount_total: int | None = None
    currency: str | None = None
    tenant_id: str | None = None  # from the session's metadata, which only Tollgate sets
    purchase_id: str | None = None

    @property
    def paid(self) -> bool:
        return self.status == "complete" and self.payment_status == "paid"


@dataclass(frozen=True)
class ChargeFacts:
    id: str
    amount: int
    amount_refunded: int
    payment_intent: str | None = None
    tenant_id: str | None = None
    purchase_id: str | None = None


@dataclass(frozen=True)
class DisputeFacts:
    id: str
    charge: str
    amount: int
    payment_intent: str | None = None


@dataclass(frozen=True)
class PaymentEvent:
    """A verified webhook event: its id, type and the one object it carries."""

    id: str
    type: str
    created: int
    session: CheckoutSession | None = None
    charge: ChargeFacts | None = None
    dispute: DisputeFacts | None = None


@dataclass(frozen=True)
class CheckoutRequest:
    purchase_id: str
    tenant_id: str
    customer_id: str | None
    customer_email: str
    product_name: str
    unit_amount: int
    currency: str
    quantity: int
    stripe_price: str | None
    success_url: str
    cancel_url: str
    idempotency_key: str


class Checkout(Protocol):
    """The payment provider. Every method raises ``UpstreamUnavailable`` when the provider fails."""

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession: ...

    def checkout_session(self, session_id: str) -> CheckoutSession: ...

    def session_for_payment_intent(self, payment_intent_id: str) -> CheckoutSession | None: ...

    def charge(self, charge_id: str) -> ChargeFacts: ...

    def completed_sessions(self, created_since: int) -> Iterable[CheckoutSession]:
        """Complete Checkout Sessions created at or after ``created_since``, newest first."""
        ...


class WebhookSignatureInvalid(MalformedRequest):
    """The Stripe-Signature header is missing, forged, or too old; nothing was changed."""

    code = "INVALID_SIGNATURE"


class WebhookVerifier(Protocol):
    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent:
        """The event, if ``signature`` is a valid, fresh signature of ``payload`` under a configured secret.
        Raises ``WebhookSignatureInvalid`` otherwise."""
        ...


# Storage


@dataclass(frozen=True)
class EventMark:
    event_id: str
    event_type: str
    recorded_at: int
    purge_at: int


@dataclass(frozen=True)
class LotTake:
    """Lower a live lot's stored ``remaining`` by ``tokens`` (refunds and disputes; see domain/lots.py)."""

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


class Applied(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # the purchase (or the pool's next lot end, or the lot) moved: read again and retry
    DUPLICATE_EVENT = "duplicate_event"  # the event was recorded by someone else first


class PurchaseRepository(Protocol):
    def create(self, purchase: Purchase, idempotency_key: str, answer: StoredAnswer, now: int) -> None:
        """The pending purchase and its idempotent answer together; ``Replayed`` if the key was used."""
        ...

    def stored_answer(self, tenant_id: str, idempotency_key: str) -> StoredAnswer | None: ...

    def find(self, tenant_id: str, purchase_id: str) -> Purchase | None: ...

    def page(self, tenant_id: str, cursor: str | None, limit: int) -> PurchasePage:
        """Newest first."""
        ...

    def lot(self, tenant_id: str, lot_id: str) -> Lot | None: ...

    def event_seen(self, event_id: str, now: int) -> bool: ...

    def record_event(self, mark: EventMark) -> bool:
        """Record an event that changed nothing; False if it was recorded before."""
        ...

    def apply(self, change: PurchaseChange) -> Applied: ...


class ProjectLookup(Protocol):
    def get(self, tenant_id: str, project_id: str) -> Any:
        """``NotFound`` if the tenant has no such project."""
        ...


# Outcomes


class Outcome(StrEnum):
    CREDITED = "credited"
    ALREADY_CREDITED = "already_credited"
    NOT_PAID = "not_paid"
    FAILED = "failed"
    TAKEN_BACK = "taken_back"
    NOTHING_TO_TAKE = "nothing_to_take"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass
class ReconcileReport:
    checked: int = 0
    credited: list[str] = field(default_factory=list)
    already_credited: int = 0
    not_ours: int = 0

    def body(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "credited": self.credited,
            "already_credited": self.already_credited,
            "not_ours": self.not_ours,
        }


def purchase_entry_id(purchase_id: str) -> str:
    return f"le_{purchase_id}"


def purchase_lot_id(purchase_id: str) -> str:
    return f"lot_{purchase_id}"


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:12]


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
    ) -> None:
        self._purchases = purchases
        self._catalog = catalog
        self._projects = projects
        self._checkout = checkout
        self._verifier = verifier
        self._clock = clock
        self._ids = ids
        self._portal = portal_base_url
        self._log = log or (lambda _message, _fields: None)

    # Buying

    def create(
        self,
        caller: Principal,
        pack_id: str,
        quantity: int,
        po_number: str | None,
        project_id: str | None,
        idempotency_key: str,
    ) -> Purchase:
        """A pending purchase with its Checkout Session. The same Idempotency-Key and body answer with the
        same purchase (and create no second session); another body is a conflict."""
        if caller.role is not None:
            require(caller.role, Permission.BUY)
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidField("quantity", f"must be from 1 to {MAX_QUANTITY}")
        fingerprint = request_fingerprint("purchase", pack_id, quantity, po_number, project_id)
        now = self._clock.now()
        stored = self._purchases.stored_answer(caller.tenant_id, idempotency_key)
        if stored is not None:
            return self._with_session(caller, self._replayed(caller.tenant_id, stored, fingerprint, now))
        pack = self._catalog.pack(pack_id)
        if pack is None:
            raise InvalidField("pack_id", f"no pack {pack_id} in the catalog")
        if project_id is not None:
            try:
                self._projects.get(caller.tenant_id, project_id)
            except NotFound as exc:
                raise InvalidField("project_id", f"this tenant has no project {project_id}") from exc
        purchase = Purchase(
            id=self._ids.new_id("pu"),
            tenant_id=caller.tenant_id,
            buyer_key_id=caller.key_id,
            pack_id=pack.id,
            quantity=quantity,
            tokens=pack.tokens * quantity,
            amount=pack.price * quantity,
            currency=pack.currency,
            valid_days=pack.valid_days,
            status=PurchaseStatus.PENDING,
            created_at=now,
            po_number=po_number,
            project_id=project_id,
        )
        answer = StoredAnswer(fingerprint, 201, {"purchase_id": purchase.id}, now)
        try:
            self._purchases.create(purchase, idempotency_key, answer, now)
        except Replayed as replay:
            purchase = self._replayed(caller.tenant_id, replay.answer, fingerprint, now)
        return self._with_session(caller, purchase)

    def _replayed(self, tenant_id: str, stored: StoredAnswer, fingerprint: str, now: int) -> Purchase:
        if stored.request_hash != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different purchase")
        if now - stored.created_at > IDEMPOTENCY_WINDOW_S:
            raise IdempotencyKeyReused("this Idempotency-Key was used more than 24 hours ago")
        purchase = self._purchases.find(tenant_id, str(stored.body["purchase_id"]))
        if purchase is None:
            raise NotFound("the purchase of this Idempotency-Key is gone")
        return purchase

    def _with_session(self, caller: Principal, purchase: Purchase) -> Purchase:
        """Create the Checkout Session if this purchase has none yet (a retry after Stripe failed)."""
        if purchase.stripe_session_id is not None or purchase.status is not PurchaseStatus.PENDING:
            return purchase
        pack_name = self._pack_name(purchase)
        portal = self._portal()
        session = self._checkout.create_checkout_session(
            CheckoutRequest(
                purchase_id=purchase.id,
                tenant_id=purchase.tenant_id,
                customer_id=caller.tenant.stripe_customer_id,
                customer_email=caller.tenant.email,
                product_name=pack_name,
                unit_amount=purchase.amount // purchase.quantity,
                currency=purchase.currency,
                quantity=purchase.quantity,
                stripe_price=self._stripe_price(purchase),
                success_url=f"{portal}/purchases/{purchase.id}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{portal}/purchases/{purchase.id}?checkout=cancelled",
                idempotency_key=f"tollgate-checkout-{purchase.id}",
            )
        )
        for _ in range(_ATTEMPTS):
            updated = replace(
                purchase, stripe_session_id=session.id, checkout_url=session.url, version=purchase.version + 1
            )
            change = PurchaseChange(updated, purchase.version, now=self._clock.now())
            if self._purchases.apply(change) is Applied.APPLIED:
                return updated
            fresh = self._purchases.find(purchase.tenant_id, purchase.id)
            if fresh is None:
                raise NotFound(f"no purchase {purchase.id}")
            if fresh.stripe_session_id is not None:
                return fresh
            purchase = fresh
        raise StoreBusy()

    def _pack_name(self, purchase: Purchase) -> str:
        pack = self._catalog.pack(purchase.pack_id)
        name = pack.name if pack is not None and pack.name else f"{purchase.tokens // purchase.quantity} tokens"
        return f"Tollgate {name}"

    def _stripe_price(self, purchase: Purchase) -> str | None:
        pack = self._catalog.pack(purchase.pack_id)
        if pack is None or pack.stripe_price is None:
            return None
        same = pack.price * purchase.quantity == purchase.amount and pack.currency == purchase.currency
        return pack.stripe_price if same else None

    def get(self, caller: Principal, purchase_id: str) -> Purchase:
        if caller.role is not None:
            require(caller.role, Permission.READ_PURCHASES)
        purchase = self._purchases.find(caller.tenant_id, purchase_id)
        if purchase is None:
            raise NotFound(f"no purchase {purchase_id}")
        return purchase

    def list(self, caller: Principal, cursor: str | None, limit: int) -> PurchasePage:
        if caller.role is not None:
            require(caller.role, Permission.READ_PURCHASES)
        return self._purchases.page(caller.tenant_id, cursor, limit)

    # Stripe's events

    def handle_webhook(self, payload: bytes, signature: str | None) -> tuple[PaymentEvent, Outcome]:
        event = self._verifier.verify(payload, signature)
        return event, self.apply_event(event)

    def apply_event(self, event: PaymentEvent) -> Outcome:
        now = self._clock.now()
        if self._purchases.event_seen(event.id, now):
            return Outcome.DUPLICATE
        mark = EventMark(event.id, event.type, now, now + EVENT_DEDUPE_S)
        if event.type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            outcome = self._on_session(event.session, mark, self.fulfil)
        elif event.type in ("checkout.session.async_payment_failed", "checkout.session.expired"):
            outcome = self._on_session(event.session, mark, self._fail)
        elif event.type == "charge.refunded" and event.charge is not None:
            outcome = self._on_refund(event.charge, mark)
        elif event.type == "charge.dispute.created" and event.dispute is not None:
            outcome = self._on_dispute(event.dispute, mark)
        else:
            outcome = Outcome.IGNORED
        quiet = (Outcome.IGNORED, Outcome.NOT_PAID, Outcome.ALREADY_CREDITED, Outcome.NOTHING_TO_TAKE)
        # Nothing changed, so nothing recorded the event; remember it, so that its retries stop here.
        if outcome in quiet and not self._purchases.record_event(mark):
            return Outcome.DUPLICATE
        return outcome

    def _on_session(
        self,
        session: CheckoutSession | None,
        mark: EventMark,
        act: Callable[[CheckoutSession, str, EventMark | None], Outcome],
    ) -> Outcome:
        if session is None or session.tenant_id is None or session.purchase_id is None:
            return Outcome.IGNORED
        return act(session, "stripe:webhook", mark)

    def fulfil(self, session: CheckoutSession, actor: str, mark: EventMark | None = None) -> Outcome:
        """Credit a paid Checkout Session's purchase: a lot, a PURCHASE ledger entry and the purchase marked
        paid, in one transaction, once. The webhook, the reconciler and out-of-order events all come here."""
        if not session.paid:
            return Outcome.NOT_PAID
        for _ in range(_ATTEMPTS):
            purchase = self._purchase_of(session)
            if purchase is None:
                return Outcome.IGNORED
            if purchase.status not in (PurchaseStatus.PENDING, PurchaseStatus.FAILED):
                return Outcome.ALREADY_CREDITED
            if session.amount_total is not None and session.amount_total != purchase.amount:
                self._log(
                    "checkout amount differs from the purchase; crediting the purchase's tokens",
                    {"purchase_id": purchase.id, "session_amount": session.amount_total, "amount": purchase.amount},
                )
            now = self._clock.now()
            lot = Lot(
                id=purchase_lot_id(purchase.id),
                tenant_id=purchase.tenant_id,
                tokens=purchase.tokens,
                remaining=purchase.tokens,
                created_at=now,
                expires_at=now + purchase.valid_days * 86400 if purchase.valid_days else None,
                purchase_id=purchase.id,
            )
            entry = LedgerEntry(
                id=purchase_entry_id(purchase.id),
                tenant_id=purchase.tenant_id,
                kind=EntryKind.PURCHASE,
                amount=purchase.tokens,
                created_at=now,
                actor=actor,
                reason=f"purchase {purchase.id}: {purchase.quantity} × {purchase.pack_id}",
                project_id=purchase.project_id,
                purchase_id=purchase.id,
                lot_id=lot.id,
            )
            paid = replace(
                purchase,
                status=PurchaseStatus.PAID,
                stripe_session_id=session.id,
                payment_intent_id=session.payment_intent or purchase.payment_intent_id,
                lot_id=lot.id,
                paid_at=now,
                version=purchase.version + 1,
            )
            result = self._purchases.apply(PurchaseChange(paid, purchase.version, entry, lot, None, mark, now))
            if result is Applied.APPLIED:
                self._log("purchase credited", {"purchase_id": purchase.id, "tokens": purchase.tokens, "by": actor})
                return Outcome.CREDITED
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()

    def _fail(self, session: CheckoutSession, actor: str, mark: EventMark | None) -> Outcome:
        """The delayed payment failed or the session expired: pending → failed. Never undoes a payment."""
        del actor
        for _ in range(_ATTEMPTS):
            purchase = self._purchase_of(session)
            if purchase is None:
                return Outcome.IGNORED
            if purchase.status is not PurchaseStatus.PENDING:
                return Outcome.ALREADY_CREDITED if purchase.status is not PurchaseStatus.FAILED else Outcome.NOT_PAID
            now = self._clock.now()
            failed = replace(purchase, status=PurchaseStatus.FAILED, failed_at=now, version=purchase.version + 1)
            result = self._purchases.apply(PurchaseChange(failed, purchase.version, event=mark, now=now))
            if result is Applied.APPLIED:
                return Outcome.FAILED
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()

    def _purchase_of(self, session: CheckoutSession) -> Purchase | None:
        if session.tenant_id is None or session.purchase_id is None:
            return None
        purchase = self._purchases.find(session.tenant_id, session.purchase_id)
        if purchase is None or purchase.stripe_session_id not in (None, session.id):
            self._log("checkout session names no purchase of ours", {"session": session.id})
            return None
        return purchase

    # Taking tokens back

    def _on_refund(self, charge: ChargeFacts, mark: EventMark) -> Outcome:
        return self._take_back(charge, mark, dispute=False)

    def _on_dispute(self, dispute: DisputeFacts, mark: EventMark) -> Outcome:
        return self._take_back(self._checkout.charge(dispute.charge), mark, dispute=True)

    def _ref_of_charge(self, charge: ChargeFacts) -> tuple[str, str, CheckoutSession | None] | None:
        """(tenant, purchase, session?) for a charge: from its metadata, else from its Checkout Session."""
        if charge.tenant_id is not None and charge.purchase_id is not None:
            return charge.tenant_id, charge.purchase_id, None
        if charge.payment_intent is None:
            return None
        session = self._checkout.session_for_payment_intent(charge.payment_intent)
        if session is None or session.tenant_id is None or session.purchase_id is None:
            return None
        return session.tenant_id, session.purchase_id, session

    def _take_back(self, charge: ChargeFacts, mark: EventMark, dispute: bool) -> Outcome:
        ref = self._ref_of_charge(charge)
        if ref is None:
            return Outcome.IGNORED
        tenant_id, purchase_id, session = ref
        for _ in range(_ATTEMPTS):
            purchase = self._purchases.find(tenant_id, purchase_id)
            if purchase is None:
                return Outcome.IGNORED
            if purchase.status in (PurchaseStatus.PENDING, PurchaseStatus.FAILED):
                # The refund or dispute overtook the payment's own event: credit first, from Stripe's truth.
                session = session or self._session_of(purchase, charge)
                if session is None or self.fulfil(session, "stripe:webhook") not in (
                    Outcome.CREDITED,
                    Outcome.ALREADY_CREDITED,
                ):
                    self._log("money taken back from a purchase never paid", {"purchase_id": purchase.id})
                    return Outcome.IGNORED
                continue
            change = self._take_back_change(purchase, charge, dispute, mark)
            if change is None:
                return Outcome.NOTHING_TO_TAKE
            result = self._purchases.apply(change)
            if result is Applied.APPLIED:
                taken = change.entry.amount if change.entry is not None else 0
                self._log("tokens taken back", {"purchase_id": purchase.id, "tokens": -taken, "dispute": dispute})
                return Outcome.TAKEN_BACK
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()

    def _session_of(self, purchase: Purchase, charge: ChargeFacts) -> CheckoutSession | None:
        if purchase.stripe_session_id is not None:
            return self._checkout.checkout_session(purchase.stripe_session_id)
        if charge.payment_intent is not None:
            return self._checkout.session_for_payment_intent(charge.payment_intent)
        return None

    def _take_back_change(
        self, purchase: Purchase, charge: ChargeFacts, dispute: bool, mark: EventMark
    ) -> PurchaseChange | None:
        """Monotonic: what has been taken back only grows, to ``tokens × refunded / amount`` for refunds and
        to everything for a dispute, so events in any order and any number of times end in the same state."""
        refunded_tokens = purchase.refunded_tokens
        amount_refunded = max(purchase.amount_refunded, charge.amount_refunded)
        if charge.amount > 0:
            refunded_tokens = max(refunded_tokens, purchase.tokens * amount_refunded // charge.amount)
        disputed = dispute or purchase.status is PurchaseStatus.DISPUTED
        target = purchase.tokens if disputed else max(purchase.taken_back, refunded_tokens)
        delta = target - purchase.taken_back
        now = self._clock.now()
        if disputed:
            status = PurchaseStatus.DISPUTED
        elif charge.amount > 0 and amount_refunded >= charge.amount:
            status = PurchaseStatus.REFUNDED
        else:
            status = purchase.status
        updated = replace(
            purchase,
            status=status,
            charge_id=charge.id,
            payment_intent_id=purchase.payment_intent_id or charge.payment_intent,
            refunded_tokens=refunded_tokens,
            amount_refunded=amount_refunded,
            taken_back=target,
            disputed_at=purchase.disputed_at or (now if dispute else None),
            version=purchase.version + 1,
        )
        unchanged = replace(updated, version=purchase.version) == purchase
        if unchanged:
            return None
        entry = None
        take = None
        if delta > 0:
            kind = EntryKind.DISPUTE if dispute else EntryKind.REFUND
            what = "dispute" if dispute else f"refund of {amount_refunded} of {charge.amount} {purchase.currency}"
            entry = LedgerEntry(
                id=f"le_{purchase.id}_{kind.value[0]}{_digest(kind.value, target)}",
                tenant_id=purchase.tenant_id,
                kind=kind,
                amount=-delta,
                created_at=now,
                actor="stripe:webhook",
                reason=f"{what} on purchase {purchase.id}",
                project_id=purchase.project_id,
                purchase_id=purchase.id,
                lot_id=purchase.lot_id,
            )
            lot = self._purchases.lot(purchase.tenant_id, purchase.lot_id) if purchase.lot_id else None
            if lot is not None and not lot.expired and lot.remaining > 0:
                take = LotTake(lot.id, min(delta, lot.remaining))
        return PurchaseChange(updated, purchase.version, entry, None, take, mark, now)

    # Reconciliation

    def reconcile(self, since_s: int, actor: str = "system:reconcile") -> ReconcileReport:
        """Fulfil every paid Checkout Session of the last ``since_s`` seconds whose purchase is not credited:
        the webhook was lost for good. Safe to run at any time, twice, or while webhooks arrive."""
        report = ReconcileReport()
        for session in self._checkout.completed_sessions(self._clock.now() - since_s):
            if not session.paid:
                continue
            report.checked += 1
            outcome = self.fulfil(session, actor)
            if outcome is Outcome.CREDITED:
                report.credited.append(session.purchase_id or session.id)
            elif outcome is Outcome.ALREADY_CREDITED:
                report.already_credited += 1
            else:
                report.not_ours += 1
        return report
