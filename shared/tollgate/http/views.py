"""How domain records look in API answers. Times are ISO-8601 UTC strings."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tollgate.domain.models import ApiKey, Tenant


def iso(epoch_s: int | None) -> str | None:
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
