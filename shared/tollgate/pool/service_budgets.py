"""Budgets at four levels: listing, setting and removing them (the routes state who may). Charging them is
the pool kernel's, in the transaction of each spend (``tollgate.kernel.pool``)."""

from __future__ import annotations

from typing import Protocol

from tollgate.core.clock import Clock
from tollgate.core.errors import NotFound
from tollgate.core.models import Principal
from tollgate.pool.rules_budgets import Budget, Scope, check_limit, parse_scope


class BudgetRepository(Protocol):
    def list(self, tenant_id: str, now: int) -> list[Budget]: ...

    def get(self, tenant_id: str, scope: Scope, now: int) -> Budget | None: ...

    def set(self, tenant_id: str, scope: Scope, limit: int | None, monthly: bool, now: int) -> None:
        """``NotFound`` when the scope's project or license key is not the tenant's."""
        ...


class BudgetService:
    def __init__(self, budgets: BudgetRepository, clock: Clock) -> None:
        self._budgets = budgets
        self._clock = clock

    def list(self, caller: Principal) -> list[Budget]:
        return self._budgets.list(caller.tenant_id, self._clock.now())

    def put(self, caller: Principal, scope_text: str, limit: int, period: str = "none") -> Budget:
        scope = parse_scope(scope_text)
        monthly = check_limit(limit, period)
        now = self._clock.now()
        self._budgets.set(caller.tenant_id, scope, limit, monthly, now)
        budget = self._budgets.get(caller.tenant_id, scope, now)
        if budget is None:  # removed again by a concurrent DELETE
            raise NotFound(f"no budget {scope}")
        return budget

    def delete(self, caller: Principal, scope_text: str) -> Budget:
        scope = parse_scope(scope_text)
        now = self._clock.now()
        budget = self._budgets.get(caller.tenant_id, scope, now)
        if budget is None:
            raise NotFound(f"no budget {scope}")
        self._budgets.set(caller.tenant_id, scope, None, False, now)
        return budget
