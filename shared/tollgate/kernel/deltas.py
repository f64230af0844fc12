"""The arithmetic of the pool kernel: how a pool and a project budget change, and the conditions each change
must meet. Built only by ``PoolTransaction``'s typed operations (``tollgate.kernel.pool``); no caller
states a delta itself.

The pool item keeps ``available = balance − reserved`` by construction: ``PoolDelta.actions`` adds the same
difference to ``available`` that it adds to ``balance`` and ``reserved``. A project keeps ``budget_left =
budget − committed`` the same way (``BudgetDelta``), and ``set_budget`` recomputes it from ``committed`` in
the same update that changes the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from tollgate.core.models import Pool
from tollgate.kernel.items import BudgetItem, ProjectItem, TenantItem


class _Keep:
    """``next_lot_expiry`` is left as it is."""


KEEP = _Keep()


@dataclass(frozen=True)
class PoolDelta:
    """A change to the tenant's pool and the conditions it must meet.

    ``balance`` and ``reserved`` are deltas; ``available`` follows from them. ``active``: the tenant must be
    active (spending; settlements and credits go through for a suspended tenant). ``covers``: ``available``
    must be at least this before the change. ``live_at``: no lot may be past its end at this time (time is
    enforced when read: a due lot is expired first). ``as_read``: the pool must be exactly as read
    (optimistic concurrency for changes computed from a read). ``next_lot_expiry``: a new soonest lot end,
    ``None`` to remove it, ``KEEP`` to leave it."""

    balance: int = 0
    reserved: int = 0
    active: bool = False
    covers: int | None = None
    live_at: int | None = None
    as_read: Pool | None = None
    next_lot_expiry: int | _Keep | None = KEEP
    next_lot_expiry_was: int | _Keep | None = KEEP  # the soonest end must still be this one
    budget: BudgetDelta | None = None  # the tenant's own budget level, on the same item

    def actions(self) -> list[Action]:
        actions: list[Action] = []
        if self.balance:
            actions.append(TenantItem.balance.add(self.balance))
        if self.reserved:
            actions.append(TenantItem.reserved.add(self.reserved))
        if self.balance - self.reserved:
            actions.append(TenantItem.available.add(self.balance - self.reserved))
            actions.append(TenantItem.spendable.add(self.balance - self.reserved))
        if isinstance(self.next_lot_expiry, int):
            actions.append(TenantItem.next_lot_expiry.set(self.next_lot_expiry))
        elif self.next_lot_expiry is None:
            actions.append(TenantItem.next_lot_expiry.remove())
        if self.budget is not None:
            actions += self.budget.actions(TenantItem)
        return actions

    def condition(self) -> Condition:
        condition = TenantItem.pk.exists()
        if self.active:
            condition &= TenantItem.status == "active"
        if self.covers is not None:  # an overdraft lets ``available`` go down to −overdraft
            no_overdraft = TenantItem.overdraft.does_not_exist() & (TenantItem.available >= self.covers)
            condition &= no_overdraft | (TenantItem.spendable >= self.covers)
        if self.live_at is not None:
            condition &= TenantItem.next_lot_expiry.does_not_exist() | (TenantItem.next_lot_expiry > self.live_at)
        if self.as_read is not None:
            condition &= (TenantItem.balance == self.as_read.balance) & (TenantItem.reserved == self.as_read.reserved)
            condition &= soonest_end_is(self.as_read.next_lot_expiry)
        if not isinstance(self.next_lot_expiry_was, _Keep):
            condition &= soonest_end_is(self.next_lot_expiry_was)
        budget = None if self.budget is None else self.budget.condition(TenantItem)
        if budget is not None:
            condition &= budget
        return condition


def soonest_end_is(end: int | None) -> Condition:
    if end is None:
        return TenantItem.next_lot_expiry.does_not_exist()
    return TenantItem.next_lot_expiry == end


@dataclass(frozen=True)
class BudgetDelta:
    """A change to one budget level (the tenant's on its pool item, a project, an environment, a license key):
    ``committed`` (spent plus what holds keep) and ``spent`` are deltas; ``budget_left = budget − committed``
    follows. ``covers``: the budget, if any, must have this much left. ``month``: a monthly budget must be in
    the period that starts then (a spend; an older period is reset first, ``PoolTransaction.commit``)."""

    committed: int = 0
    spent: int = 0
    covers: int | None = None
    month: int | None = None

    def actions(self, model: Any) -> list[Action]:
        actions: list[Action] = []
        if self.spent:
            actions.append(model.spent.add(self.spent))
        if self.committed:
            actions.append(model.committed.add(self.committed))
            actions.append(model.budget_left.set((model.budget_left | 0) - self.committed))
        return actions

    def condition(self, model: Any) -> Condition | None:
        condition: Condition | None = None
        if self.covers is not None:
            condition = model.budget.does_not_exist() | (model.budget_left >= self.covers)
        if self.month is not None:
            current = model.period_start.does_not_exist() | (model.period_start == self.month)
            condition = current if condition is None else condition & current
        return condition

    @property
    def changes(self) -> bool:
        return bool(self.committed or self.spent or self.covers is not None)


LEVEL_MODELS = (TenantItem, ProjectItem, BudgetItem)  # the items that carry a budget level
