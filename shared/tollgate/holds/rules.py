"""What every kind of hold (a lease, an allowance) shares: who may keep or end it, the feature it is for,
and settling lots past their end before holding anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tollgate.core.errors import Forbidden, InvalidField, LotsDue
from tollgate.core.models import Feature, Principal
from tollgate.core.ports import LotSettler
from tollgate.core.roles import Role
from tollgate.purchases.rules_catalog import CatalogRepository

T = TypeVar("T")
HOLD_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


def may_keep(caller: Principal, holder: str, what: str) -> None:
    """Only the key that opened a hold keeps or ends it, or an owner or admin API key."""
    if caller.actor != holder and caller.role not in HOLD_MANAGERS:
        raise Forbidden(f"only the key that opened this {what}, or an owner or admin API key, may keep or end it")


def entitled_feature(caller: Principal, catalog: CatalogRepository, feature_id: str) -> Feature:
    """The catalog's feature, if the caller's license key (when it is one) is entitled to it."""
    key = caller.license_key
    if key is not None and key.features is not None and feature_id not in key.features:
        raise Forbidden(f"this license key is not entitled to feature {feature_id}")
    feature = catalog.feature(feature_id)
    if feature is None:
        raise InvalidField("feature", f"no feature {feature_id} in the catalog")
    return feature


def settling_lots_first(settler: LotSettler | None, tenant_id: str, write: Callable[[], T]) -> T:
    """Run ``write``; if the pool has a lot past its end, expire it (time is enforced when read) and retry."""
    try:
        return write()
    except LotsDue:
        if settler is None:
            raise
        settler.settle_due_lots(tenant_id)
        return write()
