"""The business's records, as plain values. The data layer maps them to and from stored items."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tollgate.core.records import LicenseKey, LicenseKeySnapshot, Pool, Tenant, TenantStatus
from tollgate.core.roles import Principal, Role

__all__ = [
    "ApiKey",
    "EntryKind",
    "Feature",
    "LedgerEntry",
    "LicenseKey",
    "LicenseKeySnapshot",
    "Lot",
    "Pool",
    "Principal",
    "Project",
    "Tenant",
    "TenantStatus",
    "TokenPack",
    "key_of",
]


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    role: Role
    display: str
    secret_hash: str
    created_at: int
    created_by: str | None = None
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


KEY_ACTORS = ("license_key:", "api_key:")


def key_of(actor: str) -> str | None:
    """The credential id in an actor (``license_key:lk_…``, ``api_key:ak_…``, see ``Principal.actor``), else None."""
    for prefix in KEY_ACTORS:
        if actor.startswith(prefix):
            return actor[len(prefix) :] or None
    return None


@dataclass(frozen=True)
class Project:
    id: str
    tenant_id: str
    name: str
    created_at: int
    budget: int | None = None
    spent: int = 0
    committed: int = 0  # spent plus what running leases hold

    @property
    def held(self) -> int:
        return self.committed - self.spent

    @property
    def budget_left(self) -> int | None:
        return None if self.budget is None else self.budget - self.committed


@dataclass(frozen=True)
class Feature:
    id: str
    cost_per_use: int
    cost_per_hour: int
    name: str = ""


@dataclass(frozen=True)
class TokenPack:
    id: str
    tokens: int
    price: int  # smallest currency unit (cents)
    currency: str
    valid_days: int | None
    name: str = ""
    stripe_price: str | None = None


class EntryKind(str, Enum):
    CONSUMPTION = "consumption"
    PURCHASE = "purchase"
    GRANT = "grant"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"
    DISPUTE = "dispute"
    DISPUTE_WON = "dispute_won"  # a dispute closed in the tenant's favour gives back what it took
    LEASE_CHARGE = "lease_charge"
    LOT_EXPIRY = "lot_expiry"
    ALLOWANCE_CHARGE = "allowance_charge"
    REFILL = "refill"  # a refill plan's lot for a period
    ROLLOVER = "rollover"  # the unused part of the previous period's refill lot, carried over


@dataclass(frozen=True)
class LedgerEntry:
    """One change of a pool's balance; ``amount`` is signed (credits positive, debits negative)."""

    id: str
    tenant_id: str
    kind: EntryKind
    amount: int
    created_at: int
    actor: str
    reason: str = ""
    feature: str | None = None
    quantity: int | None = None
    project_id: str | None = None
    idempotency_key: str | None = None
    purchase_id: str | None = None
    lot_id: str | None = None
    lease_id: str | None = None
    allowance_id: str | None = None
    action_id: str | None = None  # an approved action redeemed by this consumption
    balance_after: int | None = None
    key_id: str | None = None  # the credential that spent (usage reports); None for credits


@dataclass(frozen=True)
class Lot:
    """Tokens that entered the pool together: from one paid purchase or one operator grant."""

    id: str
    tenant_id: str
    tokens: int
    remaining: int  # tokens less what refunds and expiry took back; consumption is allocated on read
    created_at: int
    expires_at: int | None = None
    purchase_id: str | None = None
    grant_reason: str | None = None
    expired: bool = False
    expired_tokens: int | None = None  # what expiry took out of the pool (recorded since expiry stores it)
    kind: str | None = None  # refill or rollover (a plan's lots); None: a purchase's or a grant's

    @property
    def source(self) -> str:
        """purchase, grant, refill or rollover: how the tokens arrived."""
        if self.kind is not None:
            return self.kind
        return "purchase" if self.purchase_id is not None else "grant"
