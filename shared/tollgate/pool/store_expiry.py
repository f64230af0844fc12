"""Expiry in the store: settling a tenant's lots past their end, and reading the ``by_due`` index.

``DynamoExpiry.settle_due_lots`` is what consumption and leases call when the pool refuses them with
``LotsDue`` (time is enforced when read) and what the sweeper calls for a due lot. Each lot is expired in one
transaction, optimistic on the pool as read: the pool's balance, available and soonest lot end must be what
the leftover was computed from (a concurrent debit, lease or credit changes the allocation: read again and
retry), and the lot must not be expired yet (so a second sweeper, or a second run, is a no-op).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from tollgate.core.clock import Clock
from tollgate.core.errors import NotFound, StoreBusy
from tollgate.core.ids import IdGenerator
from tollgate.core.models import EntryKind, LedgerEntry, Pool
from tollgate.events.rules import new_event
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.kernel.table import TableModel
from tollgate.pool.rules import next_expiry
from tollgate.pool.rules_expiry import LOT_EXPIRY_ACTOR, LotExpiry, first_due
from tollgate.pool.service_sweeper import DueKind, DuePage, DueRecord
from tollgate.pool.store import DynamoPoolRepository

_FAILED = "ConditionalCheckFailed"
_CONFLICTS = 10  # re-reads after the pool moved under us, per call, before giving up with StoreBusy


class _ByDueIndex(GlobalSecondaryIndex["DueEntry"]):
    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class DueEntry(TableModel):
    """What the ``by_due`` index (KEYS_ONLY) holds of a lease or lot that still has to expire."""

    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    by_due = _ByDueIndex()


def _as_record(entry: DueEntry) -> DueRecord | None:
    if entry.sk.startswith(keys.LEASE_SK_PREFIX):
        kind, record_id = DueKind.LEASE, entry.sk[len(keys.LEASE_SK_PREFIX) :]
    elif entry.sk.startswith(keys.ALLOWANCE_SK_PREFIX):
        kind, record_id = DueKind.ALLOWANCE, entry.sk[len(keys.ALLOWANCE_SK_PREFIX) :]
    elif entry.sk.startswith(keys.ACTION_SK_PREFIX):
        kind, record_id = DueKind.ACTION, entry.sk[len(keys.ACTION_SK_PREFIX) :]
    elif entry.sk.startswith(keys.LICENSE_KEY_SK_PREFIX):
        kind, record_id = DueKind.KEY, entry.sk[len(keys.LICENSE_KEY_SK_PREFIX) :]
    elif entry.sk.startswith(keys.LOT_SK_PREFIX):
        kind, record_id = DueKind.LOT, entry.sk[len(keys.LOT_SK_PREFIX) :]
    else:
        return None
    return DueRecord(keys.tenant_of(entry.pk), kind, record_id, int(entry.due_at or 0))


class DynamoDueIndex:
    """Pages of ``by_due``: ``due_shard = "DUE" AND due_at <= now``, soonest first."""

    def due(self, now: int, cursor: Any | None, limit: int) -> DuePage:
        with busy_as_store_busy():
            result = DueEntry.by_due.query(
                keys.DUE_SHARD, DueEntry.due_at <= now, limit=limit, last_evaluated_key=cursor, page_size=limit
            )
            records = [record for record in map(_as_record, result) if record is not None]
            return DuePage(records, result.last_evaluated_key)

    def count_due(self, now: int) -> int:
        with busy_as_store_busy():
            return DueEntry.by_due.count(keys.DUE_SHARD, DueEntry.due_at <= now)


class DynamoExpiry:
    """Settles a tenant's lots past their end (the ``LotSettler`` of ``PoolService`` and ``LeaseService``)."""

    def __init__(self, clock: Clock, ids: IdGenerator, refills: Callable[[str], bool] | None = None) -> None:
        self._clock = clock
        self._ids = ids
        self._pools = DynamoPoolRepository()
        self._refills = refills  # gives a refill plan's next period once its lots have ended

    def settle_due_lots(self, tenant_id: str) -> None:
        self.expire_due_lots(tenant_id)

    def expire_due_lots(self, tenant_id: str) -> int:
        """Expire every lot of the tenant past its end, soonest first, then give the refill plan's next
        period if it is due (a refill lot ends with its period); how many lots this call expired."""
        expired = self._expire_due_lots(tenant_id)
        if self._refills is not None:
            with suppress(StoreBusy):  # the pool kept moving: the next read or sweep gives it (once)
                self._refills(tenant_id)
        return expired

    def _expire_due_lots(self, tenant_id: str) -> int:
        expired = conflicts = 0
        while conflicts < _CONFLICTS:
            now = self._clock.now()
            try:
                pool = self._pools.pool(tenant_id)
            except NotFound:
                return expired
            lots = self._pools.lots(tenant_id)
            plan = first_due(lots, pool, now)
            if plan is None:
                if self._repair_next_expiry(tenant_id, pool, next_expiry(lots)):
                    return expired
                conflicts += 1
                continue
            if self._expire(tenant_id, pool, plan, now):
                expired += 1
            else:
                conflicts += 1
        raise StoreBusy("the pool kept changing while its lots were expired; try again")

    def _expire(self, tenant_id: str, pool: Pool, plan: LotExpiry, now: int) -> bool:
        """One lot, one transaction. False if the pool or the lot changed since they were read."""
        lot = plan.lot
        entry = LedgerEntry(
            id=self._ids.new_id("le"),
            tenant_id=tenant_id,
            kind=EntryKind.LOT_EXPIRY,
            amount=-plan.leftover,
            created_at=now,
            actor=LOT_EXPIRY_ACTOR,
            reason=f"lot {lot.id} ended; {plan.leftover} of its tokens left unspent",
            purchase_id=lot.purchase_id,
            lot_id=lot.id,
        )
        tx = PoolTransaction(tenant_id, kernel.token("expire", entry.id))
        tx.entry(entry)
        notice = {"lot_id": lot.id, "purchase_id": lot.purchase_id, "tokens": lot.tokens, "expired": plan.leftover}
        tx.event(new_event(tenant_id, "lot.expired", now, notice, lot.id))
        tx.expire_lot(lot, plan.leftover, pool_as_read=pool, next_lot_expiry=plan.next_lot_expiry)
        try:
            tx.commit()
        except Refused:
            return False
        return True

    def _repair_next_expiry(self, tenant_id: str, pool: Pool, soonest: int | None) -> bool:
        """Nothing is due: make sure the pool's soonest lot end says so. False if the pool moved."""
        if pool.next_lot_expiry == soonest:
            return True
        tx = PoolTransaction(tenant_id, kernel.token("repair-next-expiry", tenant_id, str(pool), str(soonest)))
        tx.set_soonest_lot_end(pool, soonest)
        try:
            tx.commit()
        except Refused:
            return False
        return True
