"""The records validation reads: a tenant with its pool, and a license key. Kept apart from the other
records so the validation function, whose cold start is budgeted, loads only these (``models`` re-exports
them for everyone else)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class TenantStatus(str, Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Pool:
    """A tenant's one shared pool of tokens. ``available = balance - reserved`` (reserved: held by leases).

    ``balance`` may be negative after a refund or dispute: the tenant owes, and nothing more is consumed
    until a top-up. ``next_lot_expiry`` is the soonest end among live lots; a debit is refused while it
    is in the past, until the lot is settled (time is enforced when read, not when swept).
    """

    balance: int = 0
    reserved: int = 0
    next_lot_expiry: int | None = None

    @property
    def available(self) -> int:
        return self.balance - self.reserved


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    email: str
    home_region: str
    status: TenantStatus
    created_at: int
    stripe_customer_id: str | None = None
    pool: Pool = field(default_factory=Pool)


@dataclass(frozen=True)
class LicenseKey:
    id: str
    tenant_id: str
    name: str
    display: str
    secret_hash: str
    regions: tuple[str, ...]
    created_at: int
    features: tuple[str, ...] | None = None
    project_id: str | None = None
    environment: str | None = None
    expires_at: int | None = None
    revoked_at: int | None = None
    rotated_at: int | None = None


@dataclass(frozen=True)
class LicenseKeySnapshot:
    """What one read returns for a presented license key: the tenant, the key and (when the caller named
    one) whether that project exists. ``None`` where the item is missing."""

    tenant: Tenant | None
    key: LicenseKey | None
    project_exists: bool | None = None
