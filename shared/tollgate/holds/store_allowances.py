"""Allowances in the store: each opening and settlement is one pool-kernel transaction holding the allowance
item (label ``allowance``, conditioned on the version read) with the pool's hold, the project budget and the
ledger entry of what was charged."""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DoesNotExist

from tollgate.approvals.service_spend import PolicyChanged
from tollgate.approvals.store_policy import POLICY, check_policy_version
from tollgate.core.errors import NotFound
from tollgate.holds.service_allowances import Allowance, AllowanceChange, AllowanceOpening, AllowanceStatus
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import AllowanceItem
from tollgate.kernel.pool import BudgetDelta, PoolDelta, PoolTransaction, Refused
from tollgate.pool.service import Replayed, StoredAnswer
from tollgate.pool.store import DynamoPoolRepository

LABEL = "allowance"


def allowance_item(allowance: Allowance) -> AllowanceItem:
    item = AllowanceItem(
        keys.tenant_pk(allowance.tenant_id),
        keys.allowance_sk(allowance.id),
        allowance_id=allowance.id,
        feature=allowance.feature,
        cost_per_use=allowance.cost_per_use,
        block=allowance.block,
        held=allowance.held,
        used=allowance.used,
        charged=allowance.charged,
        opened_at=allowance.opened_at,
        expires_at=allowance.expires_at,
        ttl_s=allowance.ttl_s,
        status=allowance.status.value,
        actor=allowance.actor,
        version=allowance.version,
        project_id=allowance.project_id,
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
        idempotency_key=item.idempotency_key,
    )


class DynamoAllowanceRepository:
    def __init__(self) -> None:
        self._pools = DynamoPoolRepository()

    def open(self, opening: AllowanceOpening) -> None:
        allowance = opening.allowance
        version = opening.policy_version
        parts = (
            ("allowance-open", allowance.id)
            if version is None
            else ("allowance-open", allowance.id, f"policy-{version}")
        )
        tx = PoolTransaction(allowance.tenant_id, kernel.token(*parts))
        if version is not None:
            check_policy_version(tx, allowance.tenant_id, version)
        tx.put(LABEL, allowance_item(allowance), AllowanceItem.pk.does_not_exist())
        tx.answer(opening.idempotency_scope, opening.idempotency_key, opening.answer, opening.now)
        tx.pool(PoolDelta(reserved=allowance.held, active=True, covers=allowance.held, live_at=opening.now))
        if allowance.project_id is not None:
            tx.budget(BudgetDelta(allowance.project_id, committed=allowance.held, covers=allowance.held))
        try:
            tx.commit()
        except Refused as refused:
            if POLICY in refused:
                raise PolicyChanged() from refused
            if kernel.ANSWER in refused:
                stored = self.stored_answer(allowance.tenant_id, opening.idempotency_scope, opening.idempotency_key)
                if stored is not None:
                    raise Replayed(stored) from refused
            kernel.explain_pool(refused, allowance.held, opening.now, "this allowance needs to hold")
            kernel.explain_budget(refused, allowance.held)
            raise

    def get(self, tenant_id: str, allowance_id: str) -> Allowance:
        try:
            with busy_as_store_busy():
                item = AllowanceItem.get(
                    keys.tenant_pk(tenant_id), keys.allowance_sk(allowance_id), consistent_read=True
                )
        except DoesNotExist as exc:
            raise NotFound(f"no allowance {allowance_id}") from exc
        return to_allowance(tenant_id, item)

    def change(self, change: AllowanceChange) -> bool:
        before, after = change.before, change.after
        # one token per call (reused by its retries): two concurrent settlements of one version must not share it
        tx = PoolTransaction(before.tenant_id, kernel.token("allowance", before.id, secrets.token_hex(8)))
        if change.policy_version is not None:  # a renewal is a spend: decided under this version of the policy
            check_policy_version(tx, before.tenant_id, change.policy_version)
        item = allowance_item(after)
        tx.put(LABEL, item, (AllowanceItem.version == before.version) & (AllowanceItem.status == "open"))
        if change.entry is not None:
            tx.entry(change.entry)
        top_up = change.top_up
        if top_up > 0:  # a renewal holds more: the pool (and budget) must cover it, and the tenant be active
            pool = PoolDelta(
                balance=-change.charge, reserved=change.hold_change, active=True, covers=top_up, live_at=change.now
            )
        else:  # a charge and a release: a suspended tenant's allowances settle too
            pool = PoolDelta(balance=-change.charge, reserved=change.hold_change)
        tx.pool(pool)
        if before.project_id is not None:
            tx.budget(
                BudgetDelta(
                    before.project_id,
                    committed=change.hold_change + change.charge,
                    spent=change.charge,
                    covers=top_up if top_up > 0 else None,
                )
            )
        try:
            tx.commit()
        except Refused as refused:
            if LABEL in refused:
                return False
            if POLICY in refused:
                raise PolicyChanged() from refused
            kernel.explain_pool(refused, top_up, change.now, "renewing this allowance needs")
            kernel.explain_budget(refused, top_up)
            raise
        return True

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
        return self._pools.stored_answer(tenant_id, scope, key)
