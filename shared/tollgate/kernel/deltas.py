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

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from tollgate.core.models import Pool
from tollgate.kernel.items import ProjectItem, TenantItem


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

    def actions(self) -> list[Action]:
        actions: list[Action] = []
        if self.balance:
            actions.append(TenantItem.balance.add(self.balance))
        if self.reserved:
            actions.append(TenantItem.reserved.add(self.reserved))
        if self.balance - self.reserved:
            actions.append(TenantItem.available.add(self.balance - self.reserved))
        if isinstance(self.next_lot_expiry, int):
            actions.append(TenantItem.next_lot_expiry.set(self.next_lot_expiry))
        elif self.next_lot_expiry is None:
            actions.append(TenantItem.next_lot_expiry.remove())
        return actions

    def condition(self) -> Condition:
        condition = TenantItem.pk.exists()
        if self.active:
            condition &= TenantItem.status == "active"
        if self.covers is not None:
            condition &= TenantItem.available >= self.covers
        if self.live_at is not None:
            condition &= TenantItem.next_lot_expiry.does_not_exist() | (TenantItem.next_lot_expiry > self.live_at)
        if self.as_read is not None:
            condition &= (TenantItem.balance == self.as_read.balance) & (TenantItem.reserved == self.as_read.reserved)
            condition &= soonest_end_is(self.as_read.next_lot_expiry)
        if not isinstance(self.next_lot_expiry_was, _Keep):
            condition &= soonest_end_is(self.next_lot_expiry_was)
        return condition


def soonest_end_is(end: int | None) -> Condition:
    if end is None:
        return TenantItem.next_lot_expiry.does_not_exist()
    return TenantItem.next_lot_expiry == end


@dataclass(frozen=True)
class BudgetDelta:
    """A change to a project's budget: ``committed`` (spent plus what holds keep) and ``spent`` are deltas;
    ``budget_left = budget − committed`` follows. ``covers``: the budget, if any, must have this much left."""

    project_id: str
    committed: int = 0
    spent: int = 0
    covers: int | None = None

    def actions(self) -> list[Action]:
        actions: list[Action] = []
        if self.spent:
            actions.append(ProjectItem.spent.add(self.spent))
        if self.committed:
            actions.append(ProjectItem.committed.add(self.committed))
            actions.append(ProjectItem.budget_left.set((ProjectItem.budget_left | 0) - self.committed))
        return actions

    def condition(self) -> Condition:
        condition = ProjectItem.pk.exists()
        if self.covers is not None:
            condition &= ProjectItem.budget.does_not_exist() | (ProjectItem.budget_left >= self.covers)
        return condition
