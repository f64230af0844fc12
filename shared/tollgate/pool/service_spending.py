"""Spending: one pipeline (SPEC.md, "Spending: one pipeline").

Tokens are spent or held in seven kinds (``SpendKind``): a consume, a consume redeeming an approved action,
opening a lease, extending one (a heartbeat), opening an allowance, renewing one at settlement, and asking
for an action that names a feature. Every kind goes through ``Spending.spend``, which checks, in this order:

1. the credential: a license key, or an API key whose role may spend (``Permission.CONSUME``), and its tenant;
2. the tenant is active (a suspended tenant neither spends nor grows a hold);
3. the key's scope: the feature it is entitled to, its regions (the serving region and, when given, the
   request's or the action's region), its project and its environment;
4. the tenant's policy, evaluated as the kind's action (``consume``, ``lease``, ``allowance``) with the
   **total** tokens the hold will have after the change; for a redemption, the approval being redeemed
   (not evaluated again); for an ask, the action's own decision (``approvals.rules_actions``: allowed,
   refused, or pending for its approvers), written with the action;
5. lots that are due are expired first;
6. the kernel's transaction (the caller's ``write``), conditioned on the pool, the budgets and the policy
   version decided under.

Winding down (a final or intermediate allowance report, a lease check-in, cancelling an action, the
sweeper's settlements) does not come here: it is never refused and charges only what was used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from tollgate.approvals.service_spend import SpendPolicy, spend_under_policy
from tollgate.core.errors import (
    EnvironmentNotAllowed,
    FeatureNotEntitled,
    InvalidField,
    LotsDue,
    ProjectNotAllowed,
    RegionNotAllowed,
    TenantSuspended,
)
from tollgate.core.models import Feature, Principal, TenantStatus
from tollgate.core.ports import LotSettler
from tollgate.core.roles import Permission, authorize
from tollgate.keys.rules import allows
from tollgate.purchases.rules_catalog import CatalogRepository

T = TypeVar("T")


class SpendKind(StrEnum):
    CONSUME = "consume"
    REDEMPTION = "redemption"  # a consume redeeming an approved action
    LEASE = "lease"
    LEASE_EXTENSION = "lease extension"  # a heartbeat: the lease's end moved, maybe another hour held
    ALLOWANCE = "allowance"
    ALLOWANCE_RENEWAL = "allowance renewal"  # a settlement with ``renew``: the hold topped up to its block
    ACTION = "action"  # asking for an action (``POST /v1/actions``)


# step 4: the action each kind is evaluated as (a redemption is governed by its approval, an ask by itself)
POLICY_ACTION = {
    SpendKind.CONSUME: "consume",
    SpendKind.LEASE: "lease",
    SpendKind.LEASE_EXTENSION: "lease",
    SpendKind.ALLOWANCE: "allowance",
    SpendKind.ALLOWANCE_RENEWAL: "allowance",
}

_REFUSED_WHEN_SUSPENDED = {
    SpendKind.CONSUME: "no tokens can be consumed",
    SpendKind.REDEMPTION: "no tokens can be consumed",
    SpendKind.LEASE: "no tokens can be reserved",
    SpendKind.LEASE_EXTENSION: "leases cannot be extended",
    SpendKind.ALLOWANCE: "no tokens can be held",
    SpendKind.ALLOWANCE_RENEWAL: "the allowance cannot be renewed",
    SpendKind.ACTION: "no action can be asked for",
}


@dataclass(frozen=True)
class Spend:
    """What is spent or held, as the scope checks need it (the tokens come later, from ``Charge``)."""

    kind: SpendKind
    feature: str | None  # None: an action that names no feature
    region: str | None = None  # the request's or the action's region, when it names one
    project_id: str | None = None  # the request's or the action's project, when it names one
    environment: str | None = None  # the request's or the action's environment, when it names one


@dataclass(frozen=True)
class Charge(Generic[T]):
    """The spend priced: the total tokens the hold will have after the change (a consume: its cost) and the
    kernel transaction that makes it, ``write(policy_version)`` (``None``: not conditioned on a policy)."""

    tokens: int
    write: Callable[[int | None], T]


def in_scope(caller: Principal, spend: Spend, serving_region: str | None) -> None:
    """Step 3: the license key's scope (an API key's scope is its role, checked at step 1)."""
    key = caller.license_key
    if key is None:
        return
    if spend.feature is not None and key.features is not None and spend.feature not in key.features:
        raise FeatureNotEntitled(f"this license key is not entitled to feature {spend.feature}")
    for region in (serving_region, spend.region):
        if region is not None and not allows(key.regions, region):
            raise RegionNotAllowed(f"this license key may not be used in region {region}")
    if spend.project_id is not None and key.project_id is not None and spend.project_id != key.project_id:
        raise ProjectNotAllowed(f"this license key is scoped to project {key.project_id}")
    if spend.environment is not None and key.environment is not None and spend.environment != key.environment:
        raise EnvironmentNotAllowed(f"this license key is scoped to environment {key.environment}")


def catalog_feature(catalog: CatalogRepository, feature_id: str) -> Feature:
    feature = catalog.feature(feature_id)
    if feature is None:
        raise InvalidField("feature", f"no feature {feature_id} in the catalog")
    return feature


def settling_lots_first(settler: LotSettler | None, tenant_id: str, write: Callable[[], T]) -> T:
    """Step 5: run ``write``; if the pool has a lot past its end, expire it (time is enforced when read) and
    run it again."""
    try:
        return write()
    except LotsDue:
        if settler is None:
            raise
        settler.settle_due_lots(tenant_id)
        return write()


def _nothing() -> None:
    return None


class Spending:
    """The one pipeline every spend goes through. ``policy`` None: no policy (tests of one capability
    alone); ``serving_region`` None: the serving region is not checked again (it was, at authentication)."""

    def __init__(
        self,
        policy: SpendPolicy | None = None,
        settler: LotSettler | None = None,
        serving_region: Callable[[], str] | None = None,
    ) -> None:
        self._policy = policy
        self._settler = settler
        self._serving_region = serving_region

    def spend(
        self,
        caller: Principal,
        spend: Spend,
        price: Callable[[], Charge[T]],
        replayed: Callable[[], T | None] = _nothing,
    ) -> T:
        """Steps 1 to 6 in order. ``price`` runs after the scope checks (it reads the catalog or the hold);
        ``replayed()`` may give the first answer to this request's Idempotency-Key, which a retry gets
        instead of a refusal at steps 2 and 4."""
        authorize(caller, Permission.CONSUME)  # 1
        if caller.tenant.status is not TenantStatus.ACTIVE:  # 2
            first = replayed()
            if first is not None:
                return first
            raise TenantSuspended(f"this tenant is suspended; {_REFUSED_WHEN_SUSPENDED[spend.kind]}")
        in_scope(caller, spend, None if self._serving_region is None else self._serving_region())  # 3
        charge = price()

        def write(policy_version: int | None) -> T:  # 5, then 6
            return settling_lots_first(self._settler, caller.tenant_id, lambda: charge.write(policy_version))

        action = POLICY_ACTION.get(spend.kind)
        if action is None:  # 4 for a redemption (its approval) and an ask (its own decision, in its write)
            return write(None)
        return spend_under_policy(self._policy, caller, action, spend.feature or "", charge.tokens, write, replayed)
