"""Budget levels in the store: the tenant's (on its pool item), projects' (on their items), environments' and
license keys' (``BUDGET#<scope>`` items). Every change is a pool-kernel transaction; a monthly level read
after its month is reset by the kernel first (``kernel.pool.reset_when_read``)."""

from __future__ import annotations

import secrets
from typing import Any

from pynamodb.exceptions import DoesNotExist

from tollgate.core.budgets import TENANT_SCOPE, month_start
from tollgate.core.errors import NotFound
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import BudgetItem, LicenseKeyItem, ProjectItem, TenantItem
from tollgate.kernel.pool import PoolTransaction, Refused, reset_when_read
from tollgate.pool.rules_budgets import Budget, LevelKind, Scope, budget_of, ordered

_CHECK = "level"


def _shown(scope: str, item: Any, now: int) -> Budget | None:
    if item.budget is None:
        return None
    monthly = item.period == "month"
    spent, committed = int(item.spent or 0), int(item.committed or 0)
    start = item.period_start
    if monthly and start is not None and int(start) < month_start(now):  # reset as it is when read
        spent, committed = 0, committed - spent
    return budget_of(scope, int(item.budget), monthly, spent, committed, now)


class DynamoBudgetRepository:
    def list(self, tenant_id: str, now: int) -> list[Budget]:
        pk = keys.tenant_pk(tenant_id)
        found: list[tuple[str, Any]] = []
        with busy_as_store_busy():
            try:
                found.append((TENANT_SCOPE, TenantItem.get(pk, keys.TENANT_SK, consistent_read=True)))
            except DoesNotExist as exc:
                raise NotFound(f"no tenant {tenant_id}") from exc
            for project in ProjectItem.query(pk, ProjectItem.sk.startswith("PROJECT#"), consistent_read=True):
                found.append((f"project:{project.project_id}", project))
            for level in BudgetItem.query(pk, BudgetItem.sk.startswith(keys.BUDGET_PREFIX), consistent_read=True):
                found.append((str(level.scope or str(level.sk).removeprefix(keys.BUDGET_PREFIX)), level))
        budgets = []
        for scope, item in found:
            if item.budget is None:
                continue
            reset_when_read(tenant_id, scope, item, now)
            shown = _shown(scope, item, now)
            if shown is not None:
                budgets.append(shown)
        return ordered(budgets)

    def get(self, tenant_id: str, scope: Scope, now: int) -> Budget | None:
        item = self._item(tenant_id, scope)
        return None if item is None else _shown(str(scope), item, now)

    def set(self, tenant_id: str, scope: Scope, limit: int | None, monthly: bool, now: int) -> None:
        """Set (or with ``limit`` None remove) a level's budget. ``NotFound`` when its project or key is not
        the tenant's."""
        tx = PoolTransaction(tenant_id, kernel.token("budget", tenant_id, str(scope), secrets.token_hex(8)))
        pk = keys.tenant_pk(tenant_id)
        if scope.kind is LevelKind.PROJECT:
            assert scope.project_id is not None
            tx.set_budget(scope.project_id, limit, monthly=monthly, now=now)
        else:
            if scope.kind is LevelKind.ENVIRONMENT:
                assert scope.project_id is not None
                tx.check(_CHECK, ProjectItem, pk, keys.project_sk(scope.project_id), ProjectItem.pk.exists())
            elif scope.kind is LevelKind.KEY:
                assert scope.key_id is not None
                tx.check(_CHECK, LicenseKeyItem, pk, keys.license_key_sk(scope.key_id), LicenseKeyItem.pk.exists())
            tx.set_level_budget(str(scope), limit, monthly=monthly, now=now)
        try:
            tx.commit()
        except Refused as refused:
            raise NotFound(f"no {scope.kind.value} for budget {scope}") from refused

    @staticmethod
    def _item(tenant_id: str, scope: Scope) -> Any:
        pk = keys.tenant_pk(tenant_id)
        model: Any
        if scope.kind is LevelKind.TENANT:
            model, sk = TenantItem, keys.TENANT_SK
        elif scope.kind is LevelKind.PROJECT:
            assert scope.project_id is not None
            model, sk = ProjectItem, keys.project_sk(scope.project_id)
        else:
            model, sk = BudgetItem, keys.budget_sk(str(scope))
        try:
            with busy_as_store_busy():
                return model.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            return None
