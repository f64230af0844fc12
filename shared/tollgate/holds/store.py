"""Holds in the store: leases and allowances, each change one pool-kernel transaction holding the hold's item
(label ``lease`` or ``allowance``) with the kernel's hold operation (the pool's reservation and the project
budget, which the kernel computes), the ledger entry of what was charged and the idempotent answer.

The two kinds share the opening (policy check, item written only if absent, answer, ``open_hold``), the
read and the replayed answer; they differ in how they change: a lease is extended (``resize_hold``, the item
updated) and settled once (``settle_hold``); an allowance is rewritten whole at each report, conditioned on
the version read (``resize_hold`` while it stays open, ``settle_hold`` when it ends)."""

from __future__ import annotations

import secrets
from typing import TypeVar

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from tollgate.core.budgets import Levels, levels_for
from tollgate.core.errors import NotFound, PolicyChanged
from tollgate.core.idempotency import Replayed, StoredAnswer
from tollgate.core.models import LedgerEntry
from tollgate.events.rules import new_event
from tollgate.holds.service_allowances import Allowance, AllowanceChange, AllowanceOpening, AllowanceStatus
from tollgate.holds.service_leases import Lease, LeaseOpening, LeaseStatus
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import AllowanceItem, LeaseItem
from tollgate.kernel.policy_check import POLICY, check_policy_version
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.kernel.records import stored_answer

LEASE, ALLOWANCE = "lease", "allowance"


def levels_of(hold: Lease | Allowance) -> Levels:
    """The budget levels a hold is charged against: its project, environment and license key."""
    return levels_for(hold.project_id, hold.environment, hold.actor)


M = TypeVar("M", bound=Model)


def lease_item(lease: Lease) -> LeaseItem:
    """The lease's item without its amount (``reserved``): the kernel's hold operation writes that."""
    item = LeaseItem(
        keys.tenant_pk(lease.tenant_id),
        keys.lease_sk(lease.id),
        lease_id=lease.id,
        feature=lease.feature,
        cost_per_hour=lease.cost_per_hour,
        started_at=lease.started_at,
        expires_at=lease.expires_at,
        duration_s=lease.duration_s,
        status=lease.status.value,
        actor=lease.actor,
        project_id=lease.project_id,
        environment=lease.environment,
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
        environment=item.environment,
        idempotency_key=item.idempotency_key,
        ended_at=None if item.ended_at is None else int(item.ended_at),
        charged=None if item.charged is None else int(item.charged),
        charge_entry_id=item.charge_entry_id,
    )


def allowance_item(allowance: Allowance) -> AllowanceItem:
    """The allowance's item without its amount (``held``): the kernel's hold operation writes that."""
    item = AllowanceItem(
        keys.tenant_pk(allowance.tenant_id),
        keys.allowance_sk(allowance.id),
        allowance_id=allowance.id,
        feature=allowance.feature,
        cost_per_use=allowance.cost_per_use,
        block=allowance.block,
        used=allowance.used,
        charged=allowance.charged,
        opened_at=allowance.opened_at,
        expires_at=allowance.expires_at,
        ttl_s=allowance.ttl_s,
        status=allowance.status.value,
        actor=allowance.actor,
        version=allowance.version,
        project_id=allowance.project_id,
        environment=allowance.environment,
        idempotency_key=allowance.idempotency_key,
    )
    if allowance.status is AllowanceStatus.OPEN:
        item.due_shard = keys.DUE_SHARD
        item.due_at = allowance.expires_at
    return item


def to_allowance(tenant_id: str, item: AllowanceItem) -> Allowance:
    return Allowance(
        id=item.allowance_id,
        tenant_id=tenant_id,
        feature=item.feature,
        cost_per_use=int(item.cost_per_use),
        block=int(item.block),
        held=int(item.held),
        used=int(item.used),
        charged=int(item.charged),
        opened_at=int(item.opened_at),
        expires_at=int(item.expires_at),
        ttl_s=int(item.ttl_s),
        status=AllowanceStatus(item.status),
        actor=item.actor,
        version=int(item.version),
        project_id=item.project_id,
        environment=item.environment,
        idempotency_key=item.idempotency_key,
    )


class _Holds:
    """What leases and allowances share: opening a hold, reading one, the replayed answer."""

    def _open(
        self,
        label: str,
        hold: Lease | Allowance,
        item: Model,
        tokens: int,
        opening: LeaseOpening | AllowanceOpening,
    ) -> None:
        tenant_id, hold_id, levels = hold.tenant_id, hold.id, levels_of(hold)
        version = opening.policy_version
        parts = (f"{label}-open", hold_id) if version is None else (f"{label}-open", hold_id, f"policy-{version}")
        tx = PoolTransaction(tenant_id, kernel.token(*parts))
        if version is not None:
            check_policy_version(tx, tenant_id, version)
        tx.open_hold(label, item, tokens, now=opening.now, levels=levels)
        tx.answer(opening.idempotency_scope, opening.idempotency_key, opening.answer, opening.now)
        try:
            tx.commit()
        except Refused as refused:
            if POLICY in refused:
                raise PolicyChanged() from refused
            if kernel.ANSWER in refused:
                stored = self.stored_answer(tenant_id, opening.idempotency_scope, opening.idempotency_key)
                if stored is not None:
                    raise Replayed(stored) from refused
            kernel.explain_pool(refused, tokens, opening.now, f"this {label} needs to hold")
            kernel.explain_budget(refused, tokens)
            raise

    @staticmethod
    def _get(model: type[M], tenant_id: str, sk: str, missing: str) -> M:
        try:
            with busy_as_store_busy():
                return model.get(keys.tenant_pk(tenant_id), sk, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(missing) from exc

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
        return stored_answer(tenant_id, scope, key)


def _unchanged(lease: Lease) -> Condition:
    """The lease is still exactly as read: open, same end, same reservation (optimistic concurrency)."""
    return (
        (LeaseItem.status == LeaseStatus.OPEN.value)
        & (LeaseItem.expires_at == lease.expires_at)
        & (LeaseItem.reserved == lease.reserved)
    )


class DynamoLeaseRepository(_Holds):
    def open(self, opening: LeaseOpening) -> None:
        lease = opening.lease
        self._open(LEASE, lease, lease_item(lease), lease.reserved, opening)

    def get(self, tenant_id: str, lease_id: str) -> Lease:
        return to_lease(tenant_id, self._get(LeaseItem, tenant_id, keys.lease_sk(lease_id), f"no lease {lease_id}"))

    def extend(self, lease: Lease, new_end: int, extra: int, now: int, policy_version: int | None = None) -> bool:
        item = LeaseItem(keys.tenant_pk(lease.tenant_id), keys.lease_sk(lease.id))
        tx = PoolTransaction(lease.tenant_id, kernel.token("lease-extend", lease.id, secrets.token_hex(8)))
        if policy_version is not None:  # an extension is a spend: decided under this version of the policy
            check_policy_version(tx, lease.tenant_id, policy_version)
        tx.resize_hold(
            LEASE,
            item,
            was=lease.reserved,
            to=lease.reserved + extra,
            now=now,
            condition=_unchanged(lease) & (LeaseItem.expires_at > now),
            levels=levels_of(lease),
            actions=[LeaseItem.expires_at.set(new_end), LeaseItem.due_at.set(new_end)],
        )
        try:
            tx.commit()
        except Refused as refused:
            if LEASE in refused:
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
        item = LeaseItem(keys.tenant_pk(lease.tenant_id), keys.lease_sk(lease.id))
        tx = PoolTransaction(lease.tenant_id, kernel.token("lease-settle", entry.id))
        tx.entry(entry)
        # no spending condition on the pool: a suspended tenant's leases settle too
        tx.settle_hold(
            LEASE,
            item,
            held=lease.reserved,
            used=charge,
            condition=_unchanged(lease),
            levels=levels_of(lease),
            actions=[
                LeaseItem.status.set(result.status.value),
                LeaseItem.ended_at.set(ended_at),
                LeaseItem.charged.set(charge),
                LeaseItem.charge_entry_id.set(entry_id),
                LeaseItem.due_shard.remove(),
                LeaseItem.due_at.remove(),
            ],
        )
        if result.status is LeaseStatus.EXPIRED:
            notice = {
                "lease_id": lease.id,
                "actor": lease.actor,
                "feature": lease.feature,
                "project_id": lease.project_id,
                "charged": charge,
            }
            tx.event(new_event(lease.tenant_id, "lease.expired", ended_at, notice, lease.id))
        try:
            tx.commit()
        except Refused as refused:
            if LEASE in refused:
                return False
            if kernel.POOL in refused:
                raise NotFound(f"no tenant {lease.tenant_id}") from refused
            raise
        return True


class DynamoAllowanceRepository(_Holds):
    def open(self, opening: AllowanceOpening) -> None:
        allowance = opening.allowance
        self._open(ALLOWANCE, allowance, allowance_item(allowance), allowance.held, opening)

    def get(self, tenant_id: str, allowance_id: str) -> Allowance:
        sk, missing = keys.allowance_sk(allowance_id), f"no allowance {allowance_id}"
        return to_allowance(tenant_id, self._get(AllowanceItem, tenant_id, sk, missing))

    def change(self, change: AllowanceChange) -> bool:
        before, after = change.before, change.after
        # one token per call (reused by its retries): two concurrent settlements of one version must not share it
        tx = PoolTransaction(before.tenant_id, kernel.token("allowance", before.id, secrets.token_hex(8)))
        if change.policy_version is not None:  # a renewal is a spend: decided under this version of the policy
            check_policy_version(tx, before.tenant_id, change.policy_version)
        item = allowance_item(after)
        unchanged = (AllowanceItem.version == before.version) & (AllowanceItem.status == "open")
        if after.status is AllowanceStatus.OPEN:  # a report, or a renewal holding the block anew
            tx.resize_hold(
                ALLOWANCE,
                item,
                was=before.held,
                to=after.held,
                used=change.charge,
                now=change.now,
                condition=unchanged,
                levels=levels_of(before),
            )
        else:  # the final report or the end: what is left goes back, a suspended tenant's too
            tx.settle_hold(
                ALLOWANCE, item, held=before.held, used=change.charge, condition=unchanged, levels=levels_of(before)
            )
        if change.entry is not None:
            tx.entry(change.entry)
        try:
            tx.commit()
        except Refused as refused:
            if ALLOWANCE in refused:
                return False
            if POLICY in refused:
                raise PolicyChanged() from refused
            top_up = change.top_up
            kernel.explain_pool(refused, top_up, change.now, "renewing this allowance needs")
            kernel.explain_budget(refused, top_up)
            raise
        return True
