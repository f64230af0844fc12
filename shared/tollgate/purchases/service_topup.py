"""Auto top-up: a saved card (Checkout in setup mode), the settings, and one off-session purchase per
crossing of the threshold.

The crossing comes from the table's stream (``process``): the pool item's change whose old ``available``
is at least the threshold and whose new one is below it. That change's stream sequence number names the
crossing: the purchase id and Stripe's Idempotency-Key derive from it, and the purchase is written only if
absent, in the transaction that counts it toward ``monthly_limit`` (a compare-and-set on the settings'
version). A redelivered record finds its purchase and asks Stripe again with the same key, which answers
the same PaymentIntent. Enabling auto top-up while below the threshold is a crossing named after the
settings' version.

The tokens arrive as for any purchase: ``payment_intent.succeeded`` on the webhook path credits the
purchase through ``Fulfilment`` (a lot, the ledger entry, ``purchase.paid``), once per Stripe event; a
``payment_intent.payment_failed`` marks it failed, uncounts it from its month and counts a consecutive
failure, the third switching auto top-up off (``topup.failed``, ``topup.disabled``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tollgate.core.clock import Clock
from tollgate.core.errors import Conflict, InvalidField, StoreBusy
from tollgate.core.events import Event
from tollgate.core.models import Principal
from tollgate.events.rules import new_event
from tollgate.purchases.ports import Applied, EventMark
from tollgate.purchases.rules_catalog import CatalogRepository
from tollgate.purchases.rules_payment_facts import CheckoutSession, IntentFacts, SavedCard
from tollgate.purchases.rules_records import Purchase, PurchaseStatus
from tollgate.purchases.rules_topup import (
    BUYER,
    TopUpSettings,
    after_failure,
    crossed,
    idempotency_key,
    refusal,
    started,
    topup_purchase_id,
)
from tollgate.purchases.service_fulfilment import Fulfilment, Outcome

ATTEMPTS = 6
Log = Callable[[str, dict[str, Any]], None]


class TopUpRepository(Protocol):
    def get(self, tenant_id: str) -> TopUpSettings | None: ...

    def pool(self, tenant_id: str) -> tuple[int, str | None]: ...

    def save(self, settings: TopUpSettings, expected_version: int, events: Sequence[Event] = ()) -> Applied: ...

    def start(self, settings: TopUpSettings, expected_version: int, purchase: Purchase) -> Applied: ...

    def settle(
        self,
        settings: TopUpSettings,
        expected_version: int,
        purchase: Purchase,
        purchase_version: int,
        mark: EventMark | None,
        events: Sequence[Event],
    ) -> Applied: ...


class CardGateway(Protocol):
    def setup_session(self, customer_id: str, tenant_id: str, success_url: str, cancel_url: str) -> tuple[str, str]: ...

    def cards(self, customer_id: str) -> list[SavedCard]: ...

    def pay_off_session(
        self,
        customer_id: str,
        payment_method: str,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> IntentFacts: ...


class PurchaseFinder(Protocol):
    def find(self, tenant_id: str, purchase_id: str) -> Purchase | None: ...


@dataclass
class TopUpBatch:
    records: int = 0
    crossings: int = 0
    started: int = 0
    failed: list[str] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in self.failed]}


def _number(image: Mapping[str, Any], name: str) -> int | None:
    value = image.get(name, {})
    return int(value["N"]) if isinstance(value, dict) and "N" in value else None


def switched_on(record: Mapping[str, Any]) -> tuple[str, str, int] | None:
    """(tenant id, crossing name, time) of a change of the settings item that switched auto top-up on while
    ``available`` was below the threshold (``below``, decided by the ``PUT`` from the pool it read)."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    data = record.get("dynamodb", {})
    key = data.get("Keys", {})
    pk, sk = key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")
    if not pk.startswith("T#") or pk.count("#") != 1 or sk != "TOPUP":
        return None
    new = data.get("NewImage") or {}
    if not new.get("enabled", {}).get("BOOL") or not new.get("below", {}).get("BOOL"):
        return None
    created = data.get("ApproximateCreationDateTime")
    at = int(float(created)) if created is not None else 0
    return pk[2:], f"enable-v{_number(new, 'version') or 0}", at


def pool_crossing(record: Mapping[str, Any]) -> tuple[str, str, int, int | None, int | None] | None:
    """(tenant id, sequence number, time, old available, new available) of a pool item's change."""
    if record.get("eventName") != "MODIFY":
        return None
    data = record.get("dynamodb", {})
    key = data.get("Keys", {})
    pk, sk = key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")
    if not pk.startswith("T#") or pk.count("#") != 1 or sk != "TENANT":
        return None
    created = data.get("ApproximateCreationDateTime")
    at = int(float(created)) if created is not None else 0
    old, new = data.get("OldImage") or {}, data.get("NewImage") or {}
    return pk[2:], str(data.get("SequenceNumber", "")), at, _number(old, "available"), _number(new, "available")


class TopUps:
    def __init__(
        self,
        settings: TopUpRepository,
        purchases: PurchaseFinder,
        catalog: CatalogRepository,
        cards: CardGateway,
        fulfilment: Fulfilment,
        clock: Clock,
        portal_base_url: Callable[[], str],
        log: Log | None = None,
    ) -> None:
        self._settings = settings
        self._purchases = purchases
        self._catalog = catalog
        self._cards = cards
        self._fulfilment = fulfilment
        self._clock = clock
        self._portal = portal_base_url
        self._log = log or (lambda _message, _fields: None)

    # the portal

    def now(self) -> int:
        return self._clock.now()

    def setup(self, caller: Principal) -> tuple[str, str]:
        customer = self._customer(caller.tenant_id)
        portal = self._portal()
        return self._cards.setup_session(
            customer, caller.tenant_id, f"{portal}/billing?setup=success", f"{portal}/billing?setup=cancelled"
        )

    def cards(self, caller: Principal) -> list[SavedCard]:
        return self._cards.cards(self._customer(caller.tenant_id))

    def read(self, caller: Principal) -> tuple[TopUpSettings | None, SavedCard | None]:
        found = self._settings.get(caller.tenant_id)
        cards = self._cards.cards(self._customer(caller.tenant_id)) if found is not None else []
        return found, (cards[0] if cards else None)

    def put(
        self, caller: Principal, enabled: bool, threshold: int, pack_id: str, quantity: int, monthly_limit: int
    ) -> TopUpSettings:
        if self._catalog.pack(pack_id) is None:
            raise InvalidField("pack_id", f"no pack {pack_id} in the catalog")
        tenant_id = caller.tenant_id
        if enabled and not self._cards.cards(self._customer(tenant_id)):
            raise Conflict("no saved card: save one first (POST /v1/payment-methods/setup), then enable auto top-up")
        for _ in range(ATTEMPTS):
            now = self._clock.now()
            old = self._settings.get(tenant_id)
            available, _ = self._settings.pool(tenant_id)
            switched = enabled and (old is None or not old.enabled)
            base = old or TopUpSettings(tenant_id, False, threshold, pack_id, quantity, monthly_limit)
            new = replace(
                base,
                enabled=enabled,
                threshold=threshold,
                pack_id=pack_id,
                quantity=quantity,
                monthly_limit=monthly_limit,
                failures=0 if enabled and not base.enabled else base.failures,
                disabled_reason=None if enabled else base.disabled_reason,
                below=switched and available < threshold,  # a crossing: the stream's consumer buys
                version=base.version + 1,
                updated_at=now,
            )
            if self._settings.save(new, 0 if old is None else old.version) is not Applied.APPLIED:
                continue
            return new
        raise StoreBusy()

    def _customer(self, tenant_id: str) -> str:
        _, customer = self._settings.pool(tenant_id)
        if not customer:
            raise Conflict("this tenant has no payment-provider customer")
        return customer

    # the stream

    def process(self, records: Sequence[Mapping[str, Any]]) -> TopUpBatch:
        batch = TopUpBatch(records=len(records))
        read: dict[str, TopUpSettings | None] = {}  # one read per tenant per batch; a crossing reads again
        for record in records:
            enabled = switched_on(record)
            if enabled is not None:  # enabling while already below the threshold is a crossing
                if not self._enabled_below(*enabled, batch):
                    batch.failed.append(str(record.get("dynamodb", {}).get("SequenceNumber", "")))
                    break
                continue
            change = pool_crossing(record)
            if change is None:
                continue
            tenant_id, sequence, at, before, after = change
            if before is None or after is None or after >= before:
                continue  # no debit: nothing crossed downwards
            try:
                if tenant_id not in read:
                    read[tenant_id] = self._settings.get(tenant_id)
                settings = read[tenant_id]
                if settings is None or not crossed(before, after, settings.threshold):
                    continue
                batch.crossings += 1
                batch.started += self.buy(tenant_id, sequence, at or self._clock.now())
            except Exception:  # retried from this record; buying is idempotent per crossing
                self._log("top-up failed to start", {"tenant_id": tenant_id, "sequence": sequence})
                batch.failed.append(sequence)
                break
        return batch

    def _enabled_below(self, tenant_id: str, crossing: str, at: int, batch: TopUpBatch) -> bool:
        """False if it failed (and the batch is retried from it)."""
        try:
            if self._settings.get(tenant_id) is not None:
                batch.crossings += 1
                batch.started += self.buy(tenant_id, crossing, at or self._clock.now())
        except Exception:  # retried from this record; buying is idempotent per crossing
            self._log("top-up failed to start", {"tenant_id": tenant_id, "crossing": crossing})
            return False
        return True

    def buy(self, tenant_id: str, crossing: str, at: int) -> bool:
        """Start the crossing's purchase (once) and pay it off-session; True if this call started it."""
        purchase_id = topup_purchase_id(tenant_id, crossing, at)
        first = False
        for _ in range(ATTEMPTS):
            purchase = self._purchases.find(tenant_id, purchase_id)
            if purchase is not None:
                break
            settings = self._settings.get(tenant_id)
            why = refusal(settings, at)
            if settings is None or why is not None:
                self._log("top-up not bought", {"tenant_id": tenant_id, "crossing": crossing, "why": why})
                return False
            pack = self._catalog.pack(settings.pack_id)
            if pack is None:
                self._log("top-up pack gone", {"tenant_id": tenant_id, "pack_id": settings.pack_id})
                return False
            purchase = Purchase(
                id=purchase_id,
                tenant_id=tenant_id,
                buyer_key_id=BUYER,
                pack_id=pack.id,
                quantity=settings.quantity,
                tokens=pack.tokens * settings.quantity,
                amount=pack.price * settings.quantity,
                currency=pack.currency,
                valid_days=pack.valid_days,
                status=PurchaseStatus.PENDING,
                created_at=at,
                po_number=f"auto top-up {crossing}"[:64],
            )
            result = self._settings.start(started(settings, at), settings.version, purchase)
            if result is Applied.APPLIED:
                first = True
                break
        else:
            raise StoreBusy()
        if purchase.status is PurchaseStatus.PENDING:
            self._pay(purchase, crossing)
        return first

    def _pay(self, purchase: Purchase, crossing: str) -> None:
        customer = self._customer(purchase.tenant_id)
        cards = self._cards.cards(customer)
        if not cards:
            raise Conflict("no saved card")
        intent = self._cards.pay_off_session(
            customer,
            cards[0].id,
            purchase.amount,
            purchase.currency,
            {"tenant_id": purchase.tenant_id, "purchase_id": purchase.id, "topup": crossing},
            idempotency_key(purchase.tenant_id, crossing),
        )
        self._log("top-up paid off-session", {"purchase_id": purchase.id, "intent": intent.id, "status": intent.status})

    # the webhook

    def on_intent(self, event_type: str, intent: IntentFacts, mark: EventMark) -> Outcome:
        if intent.tenant_id is None or intent.purchase_id is None:
            return Outcome.IGNORED
        if event_type == "payment_intent.succeeded":
            return self._succeeded(intent, mark)
        if event_type == "payment_intent.payment_failed":
            return self._failed(intent, mark)
        return Outcome.IGNORED

    def _succeeded(self, intent: IntentFacts, mark: EventMark) -> Outcome:
        assert intent.tenant_id is not None and intent.purchase_id is not None
        purchase = self._purchases.find(intent.tenant_id, intent.purchase_id)
        if purchase is None or purchase.buyer_key_id != BUYER:
            return Outcome.IGNORED  # a Checkout payment's own intent: its session's events credit it
        session = CheckoutSession(
            id=intent.id,
            status="complete",
            payment_status="paid",
            created=0,
            payment_intent=intent.id,
            amount_total=intent.amount,
            currency=intent.currency,
            tenant_id=intent.tenant_id,
            purchase_id=intent.purchase_id,
        )
        outcome = self._fulfilment.fulfil(session, "stripe:webhook", mark)
        if outcome is Outcome.CREDITED and intent.tenant_id is not None and intent.purchase_id is not None:
            self._reset_failures(intent.tenant_id, intent.purchase_id, intent.amount)
        return outcome

    def _reset_failures(self, tenant_id: str, purchase_id: str, amount: int) -> None:
        for _ in range(ATTEMPTS):
            settings = self._settings.get(tenant_id)
            if settings is None:
                return
            now = self._clock.now()
            data = {"purchase_id": purchase_id, "amount": amount}
            event = new_event(tenant_id, "topup.succeeded", now, data, purchase_id, "succeeded")
            fresh = replace(settings, failures=0, below=False, version=settings.version + 1, updated_at=now)
            if self._settings.save(fresh, settings.version, (event,)) is Applied.APPLIED:
                return
        raise StoreBusy()

    def _failed(self, intent: IntentFacts, mark: EventMark) -> Outcome:
        assert intent.tenant_id is not None and intent.purchase_id is not None
        for _ in range(ATTEMPTS):
            purchase = self._purchases.find(intent.tenant_id, intent.purchase_id)
            settings = self._settings.get(intent.tenant_id)
            if purchase is None or settings is None or purchase.buyer_key_id != BUYER:
                return Outcome.IGNORED
            if purchase.status is not PurchaseStatus.PENDING:
                return Outcome.NOT_PAID if purchase.status is PurchaseStatus.FAILED else Outcome.ALREADY_CREDITED
            now = self._clock.now()
            failed = replace(
                purchase,
                status=PurchaseStatus.FAILED,
                failed_at=now,
                payment_intent_id=intent.id,
                version=purchase.version + 1,
            )
            after = after_failure(settings, purchase.created_at, now)
            data = {"purchase_id": purchase.id, "reason": intent.failure, "consecutive_failures": after.failures}
            events = [new_event(purchase.tenant_id, "topup.failed", now, data, purchase.id, "failed")]
            if settings.enabled and not after.enabled:
                reason = {"reason": after.disabled_reason, "consecutive_failures": after.failures}
                events.append(new_event(purchase.tenant_id, "topup.disabled", now, reason, purchase.id, "disabled"))
            result = self._settings.settle(after, settings.version, failed, purchase.version, mark, events)
            if result is Applied.APPLIED:
                self._log("top-up failed", {"purchase_id": purchase.id, "failures": after.failures})
                return Outcome.FAILED
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()
