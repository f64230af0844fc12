"""How domain records look in API answers. Times are ISO-8601 UTC strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: a function loads the services its routes call, not every record
    from tollgate.core.models import ApiKey, Feature, LedgerEntry, LicenseKey, Project, Tenant, TokenPack
    from tollgate.events.rules import Event
    from tollgate.holds.service_allowances import Allowance
    from tollgate.holds.service_leases import Lease
    from tollgate.pool.service import BalanceView

_LAST_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z, the last instant an ISO-8601 year of 4 digits holds


def iso(epoch_s: int | None) -> str | None:
    """A time as ISO-8601 UTC. A stored time beyond what ISO-8601 can show (written before the API bounded
    it) is shown at the nearest end of the range rather than failing the whole answer."""
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(min(max(int(epoch_s), 0), _LAST_EPOCH_S), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "email": tenant.email,
        "home_region": tenant.home_region,
        "status": tenant.status.value,
        "created_at": iso(tenant.created_at),
    }


def api_key_view(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "role": key.role.value,
        "display": key.display,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def project_view(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "budget": project.budget,
        "spent": project.spent,
        "held_by_leases": project.held,
        "budget_left": project.budget_left,
        "created_at": iso(project.created_at),
    }


def balance_view(balance: BalanceView) -> dict[str, Any]:
    return {
        "balance": balance.pool.balance,
        "reserved": balance.pool.reserved,
        "available": balance.pool.available,
        "overdraft": balance.pool.overdraft,
        "lots": [
            {
                "id": view.lot.id,
                "source": view.lot.source,
                "purchase_id": view.lot.purchase_id,
                "grant_reason": view.lot.grant_reason,
                "tokens": view.lot.tokens,
                "remaining": view.left,
                "expires_at": iso(view.lot.expires_at),
            }
            for view in balance.lots
        ],
    }


def entry_view(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "amount": entry.amount,
        "balance_after": entry.balance_after,
        "reason": entry.reason,
        "actor": entry.actor,
        "feature": entry.feature,
        "quantity": entry.quantity,
        "project_id": entry.project_id,
        "idempotency_key": entry.idempotency_key,
        "purchase_id": entry.purchase_id,
        "lot_id": entry.lot_id,
        "lease_id": entry.lease_id,
        "allowance_id": entry.allowance_id,
        "action_id": entry.action_id,
        "created_at": iso(entry.created_at),
    }


def catalog_view(packs: list[TokenPack], features: list[Feature]) -> dict[str, Any]:
    return {
        "packs": [
            {
                "id": p.id,
                "name": p.name,
                "tokens": p.tokens,
                "price": p.price,
                "currency": p.currency,
                "valid_days": p.valid_days,
            }
            for p in packs
        ],
        "features": [
            {"id": f.id, "name": f.name, "cost_per_use": f.cost_per_use, "cost_per_hour": f.cost_per_hour}
            for f in features
        ],
    }


def license_key_view(key: LicenseKey) -> dict[str, Any]:
    """A license key as the portal lists it: scope and times, the display prefix, never the hash."""
    return {
        "id": key.id,
        "name": key.name,
        "display": key.display,
        "regions": list(key.regions),
        "features": None if key.features is None else list(key.features),
        "project_id": key.project_id,
        "environment": key.environment,
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "rotated_at": iso(key.rotated_at),
    }


def allowance_view(allowance: Allowance) -> dict[str, Any]:
    """An allowance: ``held`` tokens may still be spent in process, up to ``expires_at``; ``used`` is the
    last report of uses, ``charged`` what those uses (or its expiry) cost."""
    return {
        "id": allowance.id,
        "feature": allowance.feature,
        "status": allowance.status.value,
        "cost_per_use": allowance.cost_per_use,
        "block": allowance.block,
        "held": allowance.held,
        "used": allowance.used,
        "charged": allowance.charged,
        "opened_at": iso(allowance.opened_at),
        "expires_at": iso(allowance.expires_at),
        "ttl_s": allowance.ttl_s,
        "project_id": allowance.project_id,
    }


def lease_view(lease: Lease) -> dict[str, Any]:
    """A lease: while open, ``expires_at`` moves with each heartbeat; once settled, ``charged`` is final."""
    return {
        "id": lease.id,
        "feature": lease.feature,
        "status": lease.status.value,
        "started_at": iso(lease.started_at),
        "expires_at": iso(lease.expires_at),
        "heartbeat_interval_s": lease.heartbeat_interval_s,
        "cost_per_hour": lease.cost_per_hour,
        "reserved": lease.reserved if lease.charged is None else 0,
        "charged": lease.charged,
        "ended_at": iso(lease.ended_at),
        "project_id": lease.project_id,
    }


def event_view(event: Event) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "created_at": iso(event.at), "data": event.data}
