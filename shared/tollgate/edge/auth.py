"""Who is calling. Every route resolves its caller here, and only here.

- Portal routes: a tenant API key (``tg_…``), resolved to a tenant and a role.
- SDK routes (consume, leases): a license key (``tgk_…``) with its scope, or, for operators' scripts and
  until every caller has a license key, a tenant API key whose role may consume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollgate import services
from tollgate.core.errors import Unauthenticated
from tollgate.core.models import Principal
from tollgate.core.roles import Permission, authorize
from tollgate.edge.requests import bearer_token, header
from tollgate.tenancy.rules import LICENSE_KEY_PREFIX


def bearer(event: Mapping[str, Any]) -> str | None:
    return bearer_token(event)


def portal_principal(event: Mapping[str, Any]) -> Principal:
    return services.tenant_service().authenticate(bearer(event))


def sdk_principal(event: Mapping[str, Any], from_memory: bool = False, winding_down: bool = False) -> Principal:
    """``from_memory``: a license key this container read recently is taken without a read; the write that
    follows must then prove the key and the tenant itself (see ``LicenseKeyService.authenticate_from_memory``).
    ``winding_down``: the route only ends a hold or reports its use, which is never refused: a suspended
    tenant's or a revoked key's license key is let through (``LicenseKeyService.authenticate_to_wind_down``)."""
    token = bearer(event)
    if token is None:
        raise Unauthenticated("a license key (Authorization: Bearer tgk_…) is required")
    if token.startswith(LICENSE_KEY_PREFIX):
        keys = services.license_key_service()
        if winding_down:
            return keys.authenticate_to_wind_down(token)
        region = header(event, "x-tollgate-region")
        if from_memory:
            return keys.authenticate_from_memory(token, client_region=region)
        return keys.authenticate(token, client_region=region)
    caller = services.tenant_service().authenticate(token)
    authorize(caller, Permission.CONSUME)
    return caller


def any_principal(event: Mapping[str, Any], winding_down: bool = False) -> Principal:
    """Routes that both the SDK and the portal call (actions): a license key with its scope, or an API key
    with its role; each service call then states the permission it needs. ``winding_down``: as for
    ``sdk_principal`` (cancelling an action)."""
    token = bearer(event)
    if token is not None and token.startswith(LICENSE_KEY_PREFIX):
        if winding_down:
            return services.license_key_service().authenticate_to_wind_down(token)
        return services.license_key_service().authenticate(token, client_region=header(event, "x-tollgate-region"))
    return portal_principal(event)
