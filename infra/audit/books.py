"""Reading a tenant's books for the audit: the pool as stored, the whole ledger, lots, leases and budgets."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from infra.audit.rules import StoredBudget, StoredPool, StoredTopUp, StoredTopUpSettings, TenantBooks
from tollgate.approvals.store import to_action
from tollgate.core.budgets import TENANT_SCOPE
from tollgate.core.errors import NotFound
from tollgate.holds.store import to_allowance, to_lease
from tollgate.kernel import keys
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import (
    ActionItem,
    AllowanceItem,
    BudgetItem,
    LeaseItem,
    LedgerEntryItem,
    LicenseKeyItem,
    LotItem,
    ProjectItem,
    PurchaseItem,
    TenantItem,
    TopUpItem,
)
from tollgate.kernel.records import to_entry, to_lot


def _optional(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


class DynamoBooks:
    def tenant_ids(self) -> list[str]:
        with busy_as_store_busy():
            return [item.tenant_id for item in TenantItem.by_kind.query(keys.KIND_TENANT)]

    def books(self, tenant_id: str) -> TenantBooks:
        pk = keys.tenant_pk(tenant_id)
        with busy_as_store_busy():
            try:
                tenant = TenantItem.get(pk, keys.TENANT_SK, consistent_read=True)
            except DoesNotExist as exc:
                raise NotFound(f"no tenant {tenant_id}") from exc
            pool = StoredPool(
                balance=int(tenant.balance),
                reserved=int(tenant.reserved),
                available=int(tenant.available),
                next_lot_expiry=_optional(tenant.next_lot_expiry),
            )
            ledger = [
                to_entry(tenant_id, item, None)
                for item in LedgerEntryItem.query(keys.ledger_pk(tenant_id), consistent_read=True)
            ]
            lots = [
                to_lot(tenant_id, item)
                for item in LotItem.query(pk, LotItem.sk.startswith(keys.LOT_SK_PREFIX), consistent_read=True)
            ]
            leases = [
                to_lease(tenant_id, item)
                for item in LeaseItem.query(pk, LeaseItem.sk.startswith(keys.LEASE_SK_PREFIX), consistent_read=True)
            ]
            budgets = [_level(tenant, TENANT_SCOPE, None)]
            budgets += [
                _level(item, "", item.project_id)
                for item in ProjectItem.query(pk, ProjectItem.sk.startswith("PROJECT#"), consistent_read=True)
            ]
            budgets += [
                _level(item, str(item.scope), None)
                for item in BudgetItem.query(pk, BudgetItem.sk.startswith(keys.BUDGET_PREFIX), consistent_read=True)
            ]
            key_items = list(
                LicenseKeyItem.query(pk, LicenseKeyItem.sk.startswith(keys.LICENSE_KEY_SK_PREFIX), consistent_read=True)
            )
            key_ids = [str(item.sk).removeprefix(keys.LICENSE_KEY_SK_PREFIX) for item in key_items]
            key_environments: dict[str, tuple[str | None, str | None]] = {
                key_id: (item.project_id, item.environment) for key_id, item in zip(key_ids, key_items, strict=True)
            }
            budgets += [_level(item, f"key:{key_id}", None) for key_id, item in zip(key_ids, key_items, strict=True)]
            allowances = [
                to_allowance(tenant_id, item)
                for item in AllowanceItem.query(
                    pk, AllowanceItem.sk.startswith(keys.ALLOWANCE_SK_PREFIX), consistent_read=True
                )
            ]
            actions = [
                to_action(tenant_id, item)
                for item in ActionItem.query(pk, ActionItem.sk.startswith(keys.ACTION_SK_PREFIX), consistent_read=True)
            ]
            topups, settings = _topups(pk)
        return TenantBooks(
            tenant_id, pool, ledger, lots, leases, budgets, allowances, actions, key_environments, topups, settings
        )


TOPUP_BUYER = "system:topup"
TOPUP_PO = "auto top-up "


def _topups(pk: str) -> tuple[list[StoredTopUp], StoredTopUpSettings | None]:
    topups = [
        StoredTopUp(str(item.po_number or "").removeprefix(TOPUP_PO), str(item.status), int(item.created_at))
        for item in PurchaseItem.query(pk, PurchaseItem.sk.startswith(keys.PURCHASE_SK_PREFIX), consistent_read=True)
        if item.buyer_key_id == TOPUP_BUYER
    ]
    try:
        item = TopUpItem.get(pk, keys.TOPUP_SK, consistent_read=True)
    except DoesNotExist:
        return topups, None
    return topups, StoredTopUpSettings(int(item.monthly_limit), int(item.month or 0), int(item.purchases or 0))


def _level(item: Any, scope: str, project_id: str | None) -> StoredBudget:
    return StoredBudget(
        project_id=project_id,
        budget=_optional(item.budget),
        spent=int(item.spent or 0),
        committed=int(item.committed or 0),
        budget_left=_optional(item.budget_left),
        scope=scope,
        monthly=item.period == "month",
    )
