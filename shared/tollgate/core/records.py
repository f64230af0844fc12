"""The records validation reads: a tenant with its pool, and a license key. Kept apart from the other
records so the validation function, whose cold start is budgeted, loads only these (``models`` re-exports
them for everyone else).

They are ``NamedTuple``s, not frozen dataclasses: immutable and typed alike, but a class costs a tenth as
much to create (about 0.1 ms against 0.75 ms at import; docs/decisions.md, "Records on the validation path").
Change one with ``record._replace(field=...)``."""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple


class TenantStatus(str, Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Pool(NamedTuple):
    """A tenant's one shared pool of tokens. ``available = balance - reserved`` (reserved: held by leases).

    ``balance`` may be negative after a refund or dispute: the tenant owes, and nothing more is consumed
    until a top-up. ``next_lot_expiry`` is the soonest end among live lots; a debit is refused while it
    is in the past, until the lot is settled (time is enforced when read, not when swept).
    """

    balance: int = 0
    reserved: int = 0
    next_lot_expiry: int | None = None
    overdraft: int = 0  # how far below zero consumption may take ``available``

    @property
    def available(self) -> int:
        return self.balance - self.reserved


class Tenant(NamedTuple):
    id: str
    name: str
    email: str
    home_region: str
    status: TenantStatus
    created_at: int
    stripe_customer_id: str | None = None
    pool: Pool = Pool()


class LicenseKey(NamedTuple):
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


class LicenseKeySnapshot(NamedTuple):
    """What one read returns for a presented license key: the tenant, the key and (when the caller named
    one) whether that project exists. ``None`` where the item is missing."""

    tenant: Tenant | None
    key: LicenseKey | None
    project_exists: bool | None = None
