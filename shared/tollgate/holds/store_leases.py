"""Leases in the store: each opening, extension and settlement is one pool-kernel transaction holding the
lease item (label ``lease``) with the pool's reservation, the project budget and the ledger entry."""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from tollgate.approvals.service_spend import PolicyChanged
from tollgate.approvals.store_policy import POLICY, check_policy_version
from tollgate.core.errors import NotFound
from tollgate.core.models import LedgerEntry
from tollgate.events.rules import new_event
from tollgate.holds.service_leases import Lease, LeaseOpening, LeaseStatus
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import LeaseItem
from tollgate.kernel.pool import BudgetDelta, PoolDelta, PoolTransaction, Refused
from tollgate.pool.service import Replayed, StoredAnswer
from tollgate.pool.store import DynamoPoolRepository


def lease_item(lease: Lease) -> LeaseItem:
    item = LeaseItem(
        keys.tenant_pk(lease.tenant_id),
        keys.lease_sk(lease.id),
        lease_id=lease.id,
        feature=lease.feature,
        cost_per_hour=lease.cost_per_hour,
        started_at=lease.started_at,
        expires_at=lease.expires_at,
        duration_s=lease.duration_s,
        reserved=lease.reserved,
        status=lease.status.value,
        actor=lease.actor,
        project_id=lease.project_id,
        idempotency_key=lease.idempotency_key,
        ended_at=lease.ended_at,
        charged=lease.charged,
        charge_entry_id=lease.charge_entry_id,
    )
    if lease.status is LeaseStatus.OPEN:
        item.due_shard = keys.DUE_SHARD
        item.due_at = lease.expires_at
    return item


def to_lease(tenant_id: str, item: LeaseItem) -> Lease:
    return Lease(
        id=item.lease_id,
        tenant_id=tenant_id,
        feature=item.feature,
        cost_per_hour=int(item.cost_per_hour),
        started_at=int(item.started_at),
        expires_at=int(item.expires_at),
        duration_s=int(item.duration_s),
        reserved=int(item.reserved),
        status=LeaseStatus(item.status),
        actor=item.actor,
        project_id=item.project_id,
        idempotency_key=item.idempotency_key,
        ended_at=None if item.ended_at is None else int(item.ended_at),
        charged=None if item.charged is None else int(item.charged),
        charge_entry_id=item.charge_entry_id,
    )


def _unchanged(lease: Lease) -> Condition:
    """The lease is still exactly as read: open, same end, same reservation (optimistic concurrency)."""
    return (
        (LeaseItem.status == LeaseStatus.OPEN.value)
        & (LeaseItem.expires_at == lease.expires_at)
        & (LeaseItem.reserved == lease.reserved)
    )


class DynamoLeaseRepository:
    def __init__(self) -> None:
        self._pools = DynamoPoolRepository()

    def open(self, opening: LeaseOpening) -> None:
        lease = opening.lease
        version = opening.policy_version
        parts = ("lease-open", lease.id) if version is None else ("lease-open", lease.id, f"policy-{version}")
        tx = PoolTransaction(lease.tenant_id, kernel.token(*parts))
        if version is not None:
            check_policy_version(tx, lease.tenant_id, version)
        tx.put("lease", lease_item(lease), LeaseItem.pk.does_not_exist())
        tx.answer(opening.idempotency_scope, opening.idempotency_key, opening.answer, opening.now)
        tx.pool(PoolDelta(reserved=lease.reserved, active=True, covers=lease.reserved, live_at=opening.now))
        if lease.project_id is not None:
            tx.budget(BudgetDelta(lease.project_id, committed=lease.reserved, covers=lease.reserved))
        try:
            tx.commit()
        except Refused as refused:
            if POLICY in refused:
                raise PolicyChanged() from refused
            if kernel.ANSWER in refused:
                stored = self.stored_answer(lease.tenant_id, opening.idempotency_scope, opening.idempotency_key)
                if stored is not None:
                    raise Replayed(stored) from refused
            kernel.explain_pool(refused, lease.reserved, opening.now, "this lease needs to hold")
            kernel.explain_budget(refused, lease.reserved)
            raise

    def get(self, tenant_id: str, lease_id: str) -> Lease:
        try:
            with busy_as_store_busy():
                item = LeaseItem.get(keys.tenant_pk(tenant_id), keys.lease_sk(lease_id), consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no lease {lease_id}") from exc
        return to_lease(tenant_id, item)

    def extend(self, lease: Lease, new_end: int, extra: int, now: int, policy_version: int | None = None) -> bool:
        item = LeaseItem(keys.tenant_pk(lease.tenant_id), keys.lease_sk(lease.id))
        tx = PoolTransaction(lease.tenant_id, kernel.token("lease-extend", lease.id, secrets.token_hex(8)))
        if policy_version is not None:  # an extension is a spend: decided under this version of the policy
            check_policy_version(tx, lease.tenant_id, policy_version)
        tx.update(
            "lease",
            item,
            [LeaseItem.expires_at.set(new_end), LeaseItem.due_at.set(new_end), LeaseItem.reserved.add(extra)],
            _unchanged(lease) & (LeaseItem.expires_at > now),
        )
        if extra > 0:
            tx.pool(PoolDelta(reserved=extra, active=True, covers=extra, live_at=now))
            if lease.project_id is not None:
                tx.budget(BudgetDelta(lease.project_id, committed=extra, covers=extra))
        try:
            tx.commit()
        except Refused as refused:
            if "lease" in refused:
                return False
            if POLICY in refused:
                raise PolicyChanged() from refused
            kernel.explain_pool(refused, extra, now, "this lease needs to hold")
            kernel.explain_budget(refused, extra)
            raise
        return True

    def settle(self, lease: Lease, result: Lease, entry: LedgerEntry) -> bool:
        charge, ended_at, entry_id = result.charged, result.ended_at, result.charge_entry_id
        assert charge is not None
        assert ended_at is not None
        assert entry_id is not None
        released = lease.reserved
        item = LeaseItem(keys.tenant_pk(lease.tenant_id), keys.lease_sk(lease.id))
        tx = PoolTransaction(lease.tenant_id, kernel.token("lease-settle", entry.id))
        tx.entry(entry)
        tx.update(
            "lease",
            item,
            [
                LeaseItem.status.set(result.status.value),
                LeaseItem.ended_at.set(ended_at),
                LeaseItem.charged.set(charge),
                LeaseItem.charge_entry_id.set(entry_id),
                LeaseItem.due_shard.remove(),
                LeaseItem.due_at.remove(),
            ],
            _unchanged(lease),
        )
        # no spending condition on the pool: a suspended tenant's leases settle too
        tx.pool(PoolDelta(balance=-charge, reserved=-released))
        if result.status is LeaseStatus.EXPIRED:
            notice = {
                "lease_id": lease.id,
                "actor": lease.actor,
                "feature": lease.feature,
                "project_id": lease.project_id,
                "charged": charge,
            }
            tx.event(new_event(lease.tenant_id, "lease.expired", ended_at, notice, lease.id))
        if lease.project_id is not None:  # the charge is spent; the rest of the hold goes back
            tx.budget(BudgetDelta(lease.project_id, committed=charge - released, spent=charge))
        try:
            tx.commit()
        except Refused as refused:
            if "lease" in refused:
                return False
            if kernel.POOL in refused:
                raise NotFound(f"no tenant {lease.tenant_id}") from refused
            raise
        return True

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
        return self._pools.stored_answer(tenant_id, scope, key)
