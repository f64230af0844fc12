"""Purchases, the Stripe events already applied, and the transactions that change a purchase together with
the pool, the ledger, the lot and the event record.

The balance-changing writes are three small functions, ``credit``, ``take_back`` and ``give_back``, each a
pool-kernel transaction (store/kernel.py); ``save`` changes a purchase without touching the pool."""

from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.condition import Condition

from tollgate.core.errors import InvalidField, NotFound
from tollgate.core.idempotency import Replayed, StoredAnswer
from tollgate.core.models import Lot
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.cursors import CURSORS, PURCHASE_CURSOR, text_at
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import IdempotencyItem, LotItem, PurchaseItem, StripeEventItem, TenantItem
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.kernel.records import to_lot
from tollgate.purchases.ports import Applied, EventMark, PurchaseChange
from tollgate.purchases.rules_records import Purchase, PurchasePage, PurchaseStatus
from tollgate.purchases.service_checkout import IDEMPOTENCY_SCOPE

_FIELDS = (
    "buyer_key_id",
    "pack_id",
    "quantity",
    "tokens",
    "amount",
    "currency",
    "valid_days",
    "created_at",
    "po_number",
    "project_id",
    "stripe_session_id",
    "checkout_url",
    "payment_intent_id",
    "charge_id",
    "lot_id",
    "paid_at",
    "failed_at",
    "refunded_tokens",
    "amount_refunded",
    "taken_back",
    "disputed_at",
    "dispute_taken",
    "dispute_won_at",
    "paid_amount",
    "paid_currency",
    "review_note",
    "reviewed_at",
    "version",
)
_NUMBERS = frozenset(
    {
        "quantity",
        "tokens",
        "amount",
        "valid_days",
        "created_at",
        "paid_at",
        "failed_at",
        "refunded_tokens",
        "amount_refunded",
        "taken_back",
        "disputed_at",
        "dispute_taken",
        "dispute_won_at",
        "paid_amount",
        "reviewed_at",
        "version",
    }
)


def purchase_item(purchase: Purchase) -> PurchaseItem:
    item = PurchaseItem(
        keys.tenant_pk(purchase.tenant_id),
        keys.purchase_sk(purchase.id),
        purchase_id=purchase.id,
        status=purchase.status.value,
        **{name: getattr(purchase, name) for name in _FIELDS},
    )
    if purchase.review_note is not None:  # held for review once: findable by its id alone, for good
        item.kind_pk = keys.KIND_REVIEW
        item.kind_sk = purchase.id
    return item


def to_purchase(tenant_id: str, item: PurchaseItem) -> Purchase:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(item, name)
        values[name] = int(value) if name in _NUMBERS and value is not None else value
    return Purchase(id=item.purchase_id, tenant_id=tenant_id, status=PurchaseStatus(item.status), **values)


def _token(change: PurchaseChange) -> str:
    return hashlib.sha256(repr(change).encode()).hexdigest()[:36]


class DynamoPurchaseRepository:
    def create(self, purchase: Purchase, idempotency_key: str, answer: StoredAnswer, now: int) -> None:
        tx = PoolTransaction(purchase.tenant_id, kernel.token("purchase-create", purchase.id))
        tx.put("purchase", purchase_item(purchase), PurchaseItem.pk.does_not_exist())
        tx.answer(IDEMPOTENCY_SCOPE, idempotency_key, answer, now)
        try:
            tx.commit()
        except Refused as refused:
            if kernel.ANSWER in refused:
                first = self.stored_answer(purchase.tenant_id, idempotency_key)
                if first is not None:
                    raise Replayed(first) from refused
            raise

    def stored_answer(self, tenant_id: str, idempotency_key: str) -> StoredAnswer | None:
        try:
            with busy_as_store_busy():
                item = IdempotencyItem.get(
                    keys.tenant_pk(tenant_id),
                    keys.idempotency_sk(IDEMPOTENCY_SCOPE, idempotency_key),
                    consistent_read=True,
                )
        except DoesNotExist:
            return None
        return StoredAnswer(item.request_hash, int(item.status_code), dict(item.response), int(item.created_at))

    def find(self, tenant_id: str, purchase_id: str) -> Purchase | None:
        try:
            keys.purchase_sk(purchase_id)  # a purchase id of another shape (from Stripe metadata) is absent
        except NotFound:
            return None
        try:
            with busy_as_store_busy():
                item = PurchaseItem.get(keys.tenant_pk(tenant_id), keys.purchase_sk(purchase_id), consistent_read=True)
        except DoesNotExist:
            return None
        return to_purchase(tenant_id, item)

    def page(self, tenant_id: str, cursor: str | None, limit: int) -> PurchasePage:
        start = _decode_cursor(cursor, tenant_id) if cursor else None
        with busy_as_store_busy():
            result = PurchaseItem.query(
                keys.tenant_pk(tenant_id),
                PurchaseItem.sk.startswith(keys.PURCHASE_SK_PREFIX),
                scan_index_forward=False,  # ids begin with their creation time: newest first
                limit=limit,
                last_evaluated_key=start,
                consistent_read=True,
            )
            purchases = [to_purchase(tenant_id, item) for item in result]
            last = result.last_evaluated_key
        return PurchasePage(purchases, _encode_cursor(tenant_id, last["sk"]["S"]) if last else None)

    def find_under_review(self, purchase_id: str) -> Purchase | None:
        with busy_as_store_busy():
            found = list(PurchaseItem.by_kind.query(keys.KIND_REVIEW, PurchaseItem.kind_sk == purchase_id))
        if not found:
            return None
        return self.find(keys.tenant_of(found[0].pk), purchase_id)  # the index is eventually consistent

    def under_review(self) -> list[Purchase]:
        with busy_as_store_busy():
            items = list(PurchaseItem.by_kind.query(keys.KIND_REVIEW))
        return [to_purchase(keys.tenant_of(item.pk), item) for item in items]

    def lot(self, tenant_id: str, lot_id: str) -> Lot | None:
        try:
            with busy_as_store_busy():
                item = LotItem.get(keys.tenant_pk(tenant_id), keys.lot_sk(lot_id), consistent_read=True)
        except DoesNotExist:
            return None
        return to_lot(tenant_id, item)

    def event_seen(self, event_id: str, now: int) -> bool:
        """Recorded and not yet past its dedupe window (enforced here; TTL only cleans up)."""
        try:
            with busy_as_store_busy():
                item = StripeEventItem.get(keys.stripe_event_pk(event_id), keys.STRIPE_EVENT_SK, consistent_read=True)
        except DoesNotExist:
            return False
        return item.purge_at is None or int(item.purge_at) > now

    @staticmethod
    def _event_item(mark: EventMark) -> StripeEventItem:
        return StripeEventItem(
            keys.stripe_event_pk(mark.event_id),
            keys.STRIPE_EVENT_SK,
            event_type=mark.event_type,
            recorded_at=mark.recorded_at,
            purge_at=mark.purge_at,
        )

    @staticmethod
    def _event_condition(now: int) -> Condition:
        return StripeEventItem.pk.does_not_exist() | (StripeEventItem.purge_at <= now)

    def mark_event(self, tx: PoolTransaction, mark: EventMark) -> None:
        """Record ``mark`` in ``tx`` (label ``event``): refused if it was recorded before."""
        tx.put("event", self._event_item(mark), self._event_condition(mark.recorded_at))

    def record_event(self, mark: EventMark) -> bool:
        try:
            with busy_as_store_busy():
                self._event_item(mark).save(condition=self._event_condition(mark.recorded_at))
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def save(self, change: PurchaseChange) -> Applied:
        """The purchase (and the event that changed it); the pool is not touched."""
        if change.entry is not None or change.new_lot is not None or change.lot_take is not None:
            raise ValueError("save changes no balance: use credit, take_back or give_back")
        return self._apply(change)

    def credit(self, change: PurchaseChange) -> Applied:
        """A paid purchase: its new lot, a positive ledger entry, the pool up by the lot's tokens."""
        if change.entry is None or change.new_lot is None or change.entry.amount <= 0:
            raise ValueError("a credit is a positive entry with its new lot")
        return self._apply(change)

    def take_back(self, change: PurchaseChange) -> Applied:
        """A refund or dispute: a negative ledger entry, the pool down, the live lot lowered."""
        if change.entry is None or change.entry.amount >= 0 or change.new_lot is not None:
            raise ValueError("a take-back is a negative entry and no new lot")
        return self._apply(change)

    def give_back(self, change: PurchaseChange) -> Applied:
        """A won dispute: a positive ledger entry, the pool up, the live lot restored or a new lot."""
        if change.entry is None or change.entry.amount <= 0:
            raise ValueError("a give-back is a positive entry")
        return self._apply(change)

    def _apply(self, change: PurchaseChange) -> Applied:
        """The purchase's new state with its pool change, ledger entry, lot and Stripe event mark, in one
        pool-kernel transaction."""
        purchase = change.purchase
        tx = PoolTransaction(purchase.tenant_id, _token(change))
        if change.entry is not None:
            amount, lot = change.entry.amount, change.new_lot
            if amount > 0:
                dated = lot is not None and lot.expires_at is not None
                current = self._next_lot_expiry(purchase.tenant_id) if dated else None
                tx.credit(amount, lot=lot, soonest_end=current)
            else:
                tx.take_back(-amount)
            tx.entry(change.entry)
        tx.put("purchase", purchase_item(purchase), PurchaseItem.version == change.expected_version)
        if change.event is not None:
            tx.put("event", self._event_item(change.event), self._event_condition(change.now))
        for notice in change.notices:
            tx.event(notice)
        if change.lot_take is not None:
            take = change.lot_take  # negative tokens: a give-back restores the lot
            if take.tokens >= 0:
                tx.take_from_lot(take.lot_id, take.tokens)
            else:
                tx.return_to_lot(take.lot_id, -take.tokens)
        try:
            tx.commit()
        except Refused as refused:
            if "event" in refused:
                return Applied.DUPLICATE_EVENT
            if {"purchase", kernel.LOT, kernel.ENTRY} & set(refused.failed):
                return Applied.STALE
            if any(label.startswith(kernel.OUTBOX) for label in refused.failed):
                return Applied.STALE  # written by this very change before: the purchase has moved on
            if kernel.POOL in refused:
                self._next_lot_expiry(purchase.tenant_id)  # NotFound if the tenant is gone; else the end moved
                return Applied.STALE
            raise
        return Applied.APPLIED

    def _next_lot_expiry(self, tenant_id: str) -> int | None:
        try:
            with busy_as_store_busy():
                item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no tenant {tenant_id}") from exc
        return None if item.next_lot_expiry is None else int(item.next_lot_expiry)


def _encode_cursor(tenant_id: str, sk: str) -> str:
    return CURSORS.seal(PURCHASE_CURSOR, tenant_id, {"sk": sk})


def _decode_cursor(cursor: str, tenant_id: str) -> dict[str, dict[str, str]]:
    """The partition always comes from the authenticated tenant, never from the cursor."""
    sk = text_at(CURSORS.open(PURCHASE_CURSOR, tenant_id, cursor), "sk")
    if not sk.startswith(keys.PURCHASE_SK_PREFIX):
        raise InvalidField("cursor", "is not a cursor this API returned")
    return {"pk": {"S": keys.tenant_pk(tenant_id)}, "sk": {"S": sk}}
