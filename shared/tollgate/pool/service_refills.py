"""Refills: an operator's recurring grant per tenant. The first lot arrives when the plan is set (for the
current UTC month), then one at each month start, with the rollover of the previous refill lot's unused part
(a lot of its own that ends with the period and burns first). Each period is given once, whether it is first
read (a spend or a balance read that finds the refill lot past its end expires it, then gives the next:
``DynamoExpiry``) or swept (the sweeper expires the same lot): the plan's ``last_period`` moves in the
transaction that gives the lots, conditioned on the value read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from tollgate.core.budgets import month_key, month_start, next_month_start
from tollgate.core.clock import Clock
from tollgate.core.errors import NotFound, StoreBusy
from tollgate.core.ids import IdGenerator
from tollgate.core.models import EntryKind, LedgerEntry, Lot
from tollgate.core.ports import LotSettler
from tollgate.pool.rules_refills import RefillPlan, check_plan, due, rollover

REFILL_ACTOR = "system:refill"
_CONFLICTS = 5


@dataclass(frozen=True)
class Refill:
    """What one period gives: its lots (rollover first, then refill) and their ledger entries."""

    plan: RefillPlan
    period: int
    lots: list[Lot]
    entries: list[LedgerEntry]


class RefillRepository(Protocol):
    def plan(self, tenant_id: str) -> RefillPlan | None: ...

    def plans(self) -> list[RefillPlan]: ...

    def save(self, plan: RefillPlan) -> None:
        """Create or change the plan's terms (its ``last_period`` stays). ``NotFound`` without the tenant."""
        ...

    def unused(self, tenant_id: str, lot_id: str) -> int | None:
        """What expiry left of the lot unused; None while it has not expired."""
        ...

    def give(self, refill: Refill, soonest_end: int | None) -> bool:
        """One transaction: the lots and entries, the plan's ``last_period`` moved from the value read.
        False when the plan or the pool's soonest lot end moved (read again)."""
        ...

    def soonest_end(self, tenant_id: str) -> int | None: ...


class RefillService:
    def __init__(self, plans: RefillRepository, clock: Clock, ids: IdGenerator) -> None:
        self._plans = plans
        self._clock = clock
        self._ids = ids

    def set_plan(
        self,
        tenant_id: str,
        tokens: int,
        every: str,
        rollover_percent: int,
        rollover_cap: int,
        actor: str,
        settler: LotSettler | None = None,
    ) -> RefillPlan:
        check_plan(tokens, every, rollover_percent, rollover_cap)
        now = self._clock.now()
        current = self._plans.plan(tenant_id)
        plan = RefillPlan(tenant_id, tokens, rollover_percent, rollover_cap, now, actor, every)
        if current is not None:
            plan = replace(plan, created_at=current.created_at, last_period=current.last_period)
            plan = replace(plan, last_lot_id=current.last_lot_id)
        self._plans.save(plan)
        if settler is not None:
            settler.settle_due_lots(tenant_id)  # the previous refill lot ends first, if its period is over
        self.refill_due(tenant_id)  # the first lot, for the current period
        found = self._plans.plan(tenant_id)
        if found is None:
            raise NotFound(f"no refill plan for {tenant_id}")
        return found

    def show(self, tenant_id: str | None) -> list[RefillPlan]:
        if tenant_id is None:
            return self._plans.plans()
        plan = self._plans.plan(tenant_id)
        if plan is None:
            raise NotFound(f"no refill plan for tenant {tenant_id}")
        return [plan]

    def refill_due(self, tenant_id: str) -> bool:
        """Give the current period's lots if they are due (called after the tenant's due lots expired).
        True if this call gave them."""
        for _ in range(_CONFLICTS):
            now = self._clock.now()
            period = month_start(now)
            plan = self._plans.plan(tenant_id)
            if plan is None or not due(plan, period):
                return False
            unused = 0
            if plan.last_lot_id is not None:
                left = self._plans.unused(tenant_id, plan.last_lot_id)
                if left is None and plan.last_period is not None and next_month_start(plan.last_period) <= now:
                    return False  # its lot has not been expired yet: the next read or sweep expires it first
                unused = left or 0
            refill = self._refill(plan, period, now, rollover(unused, plan.rollover_percent, plan.rollover_cap))
            if self._plans.give(refill, self._plans.soonest_end(tenant_id)):
                return True
        raise StoreBusy("the pool kept changing while the refill was given; try again")

    def _refill(self, plan: RefillPlan, period: int, now: int, carried: int) -> Refill:
        ends, name = next_month_start(now), month_key(now)
        lots: list[Lot] = []
        entries: list[LedgerEntry] = []
        for kind, tokens in ((EntryKind.ROLLOVER, carried), (EntryKind.REFILL, plan.tokens)):
            if tokens <= 0:
                continue
            reason = f"{kind.value} for {name}"
            lot = Lot(
                id=self._ids.new_id("lot"),
                tenant_id=plan.tenant_id,
                tokens=tokens,
                remaining=tokens,
                created_at=now,
                expires_at=ends,
                grant_reason=reason,
                kind=kind.value,
            )
            lots.append(lot)
            entries.append(
                LedgerEntry(
                    id=self._ids.new_id("le"),
                    tenant_id=plan.tenant_id,
                    kind=kind,
                    amount=tokens,
                    created_at=now,
                    actor=REFILL_ACTOR,
                    reason=reason,
                    lot_id=lot.id,
                )
            )
        return Refill(plan, period, lots, entries)
