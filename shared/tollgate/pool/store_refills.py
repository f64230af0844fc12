"""Refill plans in the store (sk REFILL) and the transaction that gives one period's lots."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from tollgate.core.errors import NotFound
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import LotItem, RefillPlanItem, TenantItem
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.pool.rules_refills import RefillPlan
from tollgate.pool.service_refills import Refill

PLAN = "refill_plan"


def _plan(item: RefillPlanItem) -> RefillPlan:
    return RefillPlan(
        tenant_id=item.tenant_id,
        tokens=int(item.tokens),
        rollover_percent=int(item.rollover_percent),
        rollover_cap=int(item.rollover_cap),
        created_at=int(item.created_at),
        updated_by=item.updated_by,
        every=item.every,
        last_period=None if item.last_period is None else int(item.last_period),
        last_lot_id=item.last_lot_id,
    )


class DynamoRefills:
    def plan(self, tenant_id: str) -> RefillPlan | None:
        try:
            with busy_as_store_busy():
                item = RefillPlanItem.get(keys.tenant_pk(tenant_id), keys.REFILL_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return _plan(item)

    def plans(self) -> list[RefillPlan]:
        with busy_as_store_busy():
            return [_plan(item) for item in RefillPlanItem.by_kind.query(keys.KIND_REFILL)]

    def save(self, plan: RefillPlan) -> None:
        pk = keys.tenant_pk(plan.tenant_id)
        terms: list[Action] = [
            RefillPlanItem.tenant_id.set(plan.tenant_id),
            RefillPlanItem.tokens.set(plan.tokens),
            RefillPlanItem.every.set(plan.every),
            RefillPlanItem.rollover_percent.set(plan.rollover_percent),
            RefillPlanItem.rollover_cap.set(plan.rollover_cap),
            RefillPlanItem.created_at.set(plan.created_at),
            RefillPlanItem.updated_by.set(plan.updated_by),
            RefillPlanItem.kind_pk.set(keys.KIND_REFILL),
            RefillPlanItem.kind_sk.set(plan.tenant_id),
        ]
        tx = PoolTransaction(plan.tenant_id, kernel.token("refill-plan", plan.tenant_id, str(plan.created_at)))
        tx.check("tenant", TenantItem, pk, keys.TENANT_SK, TenantItem.pk.exists())
        tx.update(PLAN, RefillPlanItem(pk, keys.REFILL_SK), terms)
        try:
            tx.commit()
        except Refused as refused:
            raise NotFound(f"no tenant {plan.tenant_id}") from refused

    def unused(self, tenant_id: str, lot_id: str) -> int | None:
        try:
            with busy_as_store_busy():
                lot = LotItem.get(keys.tenant_pk(tenant_id), keys.lot_sk(lot_id), consistent_read=True)
        except DoesNotExist:
            return 0
        if not lot.expired:
            return None
        return int(lot.expired_tokens or 0)

    def soonest_end(self, tenant_id: str) -> int | None:
        try:
            with busy_as_store_busy():
                item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no tenant {tenant_id}") from exc
        return None if item.next_lot_expiry is None else int(item.next_lot_expiry)

    def give(self, refill: Refill, soonest_end: int | None) -> bool:
        plan = refill.plan
        tenant_id = plan.tenant_id
        # the period's exactly-once is the plan's condition; the token is this attempt's (its own lot ids)
        tx = PoolTransaction(tenant_id, kernel.token("refill", tenant_id, str(refill.period), refill.entries[0].id))
        tx.credit_lots(refill.lots, soonest_end=soonest_end)
        for entry in refill.entries:
            tx.entry(entry)
        was: Condition = RefillPlanItem.last_period.does_not_exist()
        if plan.last_period is not None:
            was = RefillPlanItem.last_period == plan.last_period
        refill_lot = refill.lots[-1].id
        moved: list[Action] = [
            RefillPlanItem.last_period.set(refill.period),
            RefillPlanItem.last_lot_id.set(refill_lot),
        ]
        row = RefillPlanItem(keys.tenant_pk(tenant_id), keys.REFILL_SK)
        tx.update(PLAN, row, moved, RefillPlanItem.pk.exists() & was)
        try:
            tx.commit()
        except Refused:
            return False  # the period was given meanwhile, or the soonest lot end moved: read again
        return True


__all__ = ["DynamoRefills"]
