"""What the domain needs from the outside world. The data layer and the billing package implement these;
unit tests pass in-memory fakes."""

from __future__ import annotations

from typing import Protocol

from tollgate.core.models import ApiKey, LicenseKey, LicenseKeySnapshot, Tenant, TenantStatus


class TenantRepository(Protocol):
    def create_tenant(self, tenant: Tenant, owner_key: ApiKey, signup_hash: str) -> None:
        """Write the tenant (with an empty pool) and its owner key together; ``AlreadyExists`` if the id is taken."""
        ...

    def get_tenant(self, tenant_id: str) -> Tenant:
        """``NotFound`` when there is no such tenant."""
        ...

    def signup_hash(self, tenant_id: str) -> str | None: ...

    def get_credential(self, tenant_id: str, key_id: str) -> tuple[Tenant, ApiKey] | None:
        """The tenant and one of its API keys, in one round trip; None when either is missing."""
        ...

    def add_api_key(self, key: ApiKey) -> None: ...

    def list_api_keys(self, tenant_id: str) -> list[ApiKey]: ...

    def revoke_api_key(self, tenant_id: str, key_id: str, at: int) -> ApiKey:
        """Mark the key revoked (once; a second revoke keeps the first time). ``NotFound`` if absent."""
        ...

    def set_status(self, tenant_id: str, status: TenantStatus) -> Tenant: ...

    def list_tenants(self) -> list[Tenant]: ...


class PaymentGateway(Protocol):
    def create_customer(self, tenant_id: str, name: str, email: str, idempotency_key: str) -> str:
        """The payment provider's customer id. ``UpstreamUnavailable`` when the provider fails."""
        ...


class AlreadyExists(Exception):
    """A conditional create found the record already there."""


class LicenseKeyRepository(Protocol):
    """License keys as the portal manages them (the SDK's reads go through ``LicenseKeyReader``)."""

    def add_license_key(self, key: LicenseKey) -> None: ...

    def list_license_keys(self, tenant_id: str) -> list[LicenseKey]: ...

    def get_license_key(self, tenant_id: str, key_id: str) -> LicenseKey:
        """``NotFound`` when the tenant has no such key."""
        ...

    def revoke_license_key(self, tenant_id: str, key_id: str, at: int) -> LicenseKey:
        """Mark the key revoked (a second revoke keeps the first time). ``NotFound`` if absent."""
        ...

    def replace_secret(self, tenant_id: str, key_id: str, secret_hash: str, display: str, at: int) -> LicenseKey:
        """Swap the stored hash in one conditional write: the old secret stops working at once.
        ``NotFound`` if absent, ``Conflict`` if the key is revoked."""
        ...

    def project_exists(self, tenant_id: str, project_id: str) -> bool: ...


class LicenseKeyReader(Protocol):
    """The one read behind every license-key check: tenant, key and (optionally) project together, in a
    single strongly consistent round trip, so a revoked key or a suspended tenant shows at once."""

    def snapshot(self, tenant_id: str, key_id: str, project_id: str | None = None) -> LicenseKeySnapshot: ...


class LotSettler(Protocol):
    def settle_due_lots(self, tenant_id: str) -> None:
        """Expire this tenant's lots past their end now (the sweeper's work, done on demand)."""
        ...
