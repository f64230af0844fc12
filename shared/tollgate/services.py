"""The composition root: builds each service once per cold start with the real adapters.

Handlers ask here for what they need; tests build services themselves with fakes.
"""

from __future__ import annotations

from functools import cache

from tollgate.clock import SYSTEM_CLOCK
from tollgate.domain.catalog import CatalogRepository
from tollgate.domain.license_keys import LicenseKeyService
from tollgate.domain.pool import LotSettler, PoolService
from tollgate.domain.ports import LicenseKeyReader
from tollgate.domain.projects import ProjectService
from tollgate.domain.tenants import TenantService
from tollgate.domain.validation import ValidationService
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


@cache
def catalog() -> CatalogRepository:
    from tollgate.store.catalog import DynamoCatalogRepository

    return DynamoCatalogRepository(SYSTEM_CLOCK)


@cache
def pool_service() -> PoolService:
    from tollgate.store.pool import DynamoPoolRepository

    return PoolService(DynamoPoolRepository(), catalog(), SYSTEM_CLOCK, RANDOM_IDS, settler=lot_settler())


def lot_settler() -> LotSettler | None:
    """Expires a tenant's due lots on demand; None until the sweeper's store exists."""
    try:
        from tollgate.store.expiry import DynamoExpiry
    except ImportError:
        return None
    return DynamoExpiry(SYSTEM_CLOCK, RANDOM_IDS)


@cache
def project_service() -> ProjectService:
    from tollgate.store.projects import DynamoProjectRepository

    return ProjectService(DynamoProjectRepository(), SYSTEM_CLOCK, RANDOM_IDS)


@cache
def license_key_reader() -> LicenseKeyReader:
    """The one-round-trip read of tenant and license key; a module-level botocore client, no pynamodb."""
    from tollgate.store.validation_read import DynamoLicenseKeyReader, new_client

    return DynamoLicenseKeyReader(new_client())


@cache
def license_key_service() -> LicenseKeyService:
    from tollgate.store.license_keys import DynamoLicenseKeyRepository

    return LicenseKeyService(
        keys=DynamoLicenseKeyRepository(),
        reader=license_key_reader(),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        serving_region=default_region,
    )


@cache
def validation_service() -> ValidationService:
    """``POST /v1/validate``: loads neither pynamodb nor Powertools' resolver (docs/performance.md)."""
    from tollgate.domain.receipts import ReceiptSigner

    return ValidationService(
        reader=license_key_reader(),
        signer=ReceiptSigner(lambda: secret("RECEIPT_SIGNING_KEY")),
        clock=SYSTEM_CLOCK,
        serving_region=default_region,
    )
