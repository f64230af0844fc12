"""Auto top-up's records: the settings item (sk TOPUP) and the transactions that move it together with a
top-up purchase. Every change of the settings is a compare-and-set on their ``version``."""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from tollgate.core.events import Event
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import PurchaseItem, TenantItem, TopUpItem
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.purchases.ports import Applied, EventMark
from tollgate.purchases.rules_records import Purchase
from tollgate.purchases.rules_topup import TopUpSettings
from tollgate.purchases.store import DynamoPurchaseRepository, purchase_item

_FIELDS = (
    "enabled",
    "threshold",
    "pack_id",
    "quantity",
    "monthly_limit",
    "month",
    "purchases",
    "failures",
    "disabled_reason",
    "below",
    "version",
    "updated_at",
)


def _item(settings: TopUpSettings) -> TopUpItem:
    values = {name: getattr(settings, name) for name in _FIELDS}
    return TopUpItem(keys.tenant_pk(settings.tenant_id), keys.TOPUP_SK, **values)


def _settings(tenant_id: str, item: TopUpItem) -> TopUpSettings:
    values = {name: getattr(item, name) for name in _FIELDS}
    for name in ("threshold", "quantity", "monthly_limit", "month", "purchases", "failures", "version", "updated_at"):
        values[name] = int(values[name] or 0)
    values["enabled"] = bool(values["enabled"])
    values["below"] = bool(values["below"])
    return TopUpSettings(tenant_id=tenant_id, **values)


def _versioned(expected: int) -> Condition:
    return TopUpItem.pk.does_not_exist() if expected == 0 else TopUpItem.version == expected


class DynamoTopUpRepository:
    def __init__(self, purchases: DynamoPurchaseRepository | None = None) -> None:
        self._purchases = purchases or DynamoPurchaseRepository()

    def get(self, tenant_id: str) -> TopUpSettings | None:
        try:
            with busy_as_store_busy():
                item = TopUpItem.get(keys.tenant_pk(tenant_id), keys.TOPUP_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return _settings(tenant_id, item)

    def pool(self, tenant_id: str) -> tuple[int, str | None]:
        """The pool's ``available`` and the tenant's Stripe customer."""
        with busy_as_store_busy():
            item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True)
        return int(item.available or 0), item.stripe_customer_id

    def save(self, settings: TopUpSettings, expected_version: int, events: Sequence[Event] = ()) -> Applied:
        tx = PoolTransaction(settings.tenant_id, kernel.token("topup-save", settings.tenant_id, str(settings.version)))
        tx.put("topup", _item(settings), _versioned(expected_version))
        for event in events:
            tx.event(event)
        return _commit(tx)

    def start(self, settings: TopUpSettings, expected_version: int, purchase: Purchase) -> Applied:
        """The crossing's purchase (only if absent: its id is the crossing's) with the month's count."""
        tx = PoolTransaction(purchase.tenant_id, kernel.token("topup-start", purchase.id))
        tx.put("topup", _item(settings), _versioned(expected_version))
        tx.put("purchase", purchase_item(purchase), PurchaseItem.pk.does_not_exist())
        try:
            tx.commit()
        except Refused as refused:
            if "purchase" in refused:
                return Applied.DUPLICATE_EVENT  # this crossing started its purchase before
            if "topup" in refused:
                return Applied.STALE
            raise
        return Applied.APPLIED

    def settle(
        self,
        settings: TopUpSettings,
        expected_version: int,
        purchase: Purchase,
        purchase_version: int,
        mark: EventMark | None,
        events: Sequence[Event],
    ) -> Applied:
        """A top-up's end without tokens (its payment failed): the purchase and the settings together."""
        tx = PoolTransaction(purchase.tenant_id, kernel.token("topup-settle", purchase.id, str(purchase.version)))
        tx.put("topup", _item(settings), _versioned(expected_version))
        tx.put("purchase", purchase_item(purchase), PurchaseItem.version == purchase_version)
        if mark is not None:
            self._purchases.mark_event(tx, mark)
        for event in events:
            tx.event(event)
        try:
            tx.commit()
        except Refused as refused:
            if "event" in refused:
                return Applied.DUPLICATE_EVENT
            return Applied.STALE
        return Applied.APPLIED


def _commit(tx: PoolTransaction) -> Applied:
    try:
        tx.commit()
    except Refused:
        return Applied.STALE
    return Applied.APPLIED
