"""The composition root: builds each service once per cold start with the real adapters.

Handlers ask here for what they need; tests build services themselves with fakes.
"""

from __future__ import annotations

from functools import cache

from tollgate.clock import SYSTEM_CLOCK
from tollgate.domain.tenants import TenantService
from tollgate.ids import RANDOM_IDS
from tollgate.settings import secret


@cache
def tenant_service() -> TenantService:
    from tollgate.billing.stripe_gateway import StripeGateway
    from tollgate.store.tenants import DynamoTenantRepository

    return TenantService(
        tenants=DynamoTenantRepository(),
        payments=StripeGateway(),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        pepper=lambda: secret("CREDENTIAL_PEPPER"),
    )


def default_region() -> str:
    from tollgate.settings import settings

    return settings().region
