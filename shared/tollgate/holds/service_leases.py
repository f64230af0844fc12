"""Leases: tokens held for a time-limited run, charged by the hour started. See docs/leases.md.

The rules, in one place:

- Opening a lease for ``duration_s`` reserves ``cost_per_hour × hours started`` between its start and its
  end. The reservation lowers the pool's ``available``, not its ``balance``.
- A heartbeat moves the end to ``now + extend_s`` (default: the lease's own duration), never past
  ``MAX_LEASE_S`` after the start and never backwards; when the new end starts a new hour, it reserves that
  hour too (refused with 402 when the pool cannot cover it; the lease keeps its old end).
- A lease is alive while ``now < expires_at``. Past its end it is expired, whether or not the sweeper has
  settled it: a heartbeat is refused, a check-in returns the expired lease.
- Settling a lease (check-in, or expiry) charges ``cost_per_hour × hours started`` between the start and the
  end of its life (the check-in time, or ``expires_at`` when it expired), at least one hour and never more
  than what is reserved, and releases the whole reservation, in one transaction with a ledger entry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from tollgate.approvals.service_spend import SpendPolicy
from tollgate.core import limits
from tollgate.core.clock import Clock
from tollgate.core.errors import InvalidField, LeaseClosed, LeaseExpired
from tollgate.core.idempotency import StoredAnswer, request_fingerprint
from tollgate.core.ids import IdGenerator
from tollgate.core.models import EntryKind, LedgerEntry, Principal, key_of
from tollgate.core.ports import LotSettler
from tollgate.holds import service as holds
from tollgate.holds.service import may_keep, open_hold, replayed_hold, until_written
from tollgate.pool.service_spending import Charge, Spend, Spending, SpendKind, catalog_feature
from tollgate.purchases.rules_catalog import CatalogRepository

HOUR_S = 3600
MAX_LEASE_S = limits.MAX_LEASE_S  # no lease outlives this, however often it heartbeats
MIN_HEARTBEAT_S = 15
MAX_HEARTBEAT_S = 300
EXPIRY_ACTOR = "system:lease-expiry"


class LeaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # checked in
    EXPIRED = "expired"  # heartbeats stopped; settled at its end


@dataclass(frozen=True)
class Lease:
    id: str
    tenant_id: str
    feature: str
    cost_per_hour: int  # the catalog's price when the lease was opened; the lease keeps it
    started_at: int
    expires_at: int
    duration_s: int
    reserved: int
    status: LeaseStatus
    actor: str
    project_id: str | None = None
    environment: str | None = None  # the license key's environment (a budget level)
    idempotency_key: str | None = None
    ended_at: int | None = None
    charged: int | None = None
    charge_entry_id: str | None = None

    @property
    def heartbeat_interval_s(self) -> int:
        return heartbeat_interval(self.duration_s)

    def alive(self, now: int) -> bool:
        return self.status is LeaseStatus.OPEN and now < self.expires_at


def hours_started(start: int, end: int) -> int:
    """Hours begun between ``start`` and ``end``; at least one."""
    return max(1, -(-(end - start) // HOUR_S))


def reservation(cost_per_hour: int, start: int, end: int) -> int:
    return cost_per_hour * hours_started(start, end)


def heartbeat_interval(duration_s: int) -> int:
    """How often the SDK should heartbeat: a third of the lease's period, between 15 s and 5 min."""
    return min(MAX_HEARTBEAT_S, max(MIN_HEARTBEAT_S, duration_s // 3))


def extended_end(lease: Lease, now: int, extend_s: int | None) -> int:
    wanted = now + (extend_s if extend_s is not None else lease.duration_s)
    return max(lease.expires_at, min(wanted, lease.started_at + MAX_LEASE_S))


def settled(lease: Lease, now: int, entry_id: str) -> Lease:
    """The lease as settled at ``now``: checked in if still alive, else expired at its end."""
    if now < lease.expires_at:
        status, ended_at = LeaseStatus.CLOSED, max(now, lease.started_at)
    else:
        status, ended_at = LeaseStatus.EXPIRED, lease.expires_at
    charge = min(lease.reserved, reservation(lease.cost_per_hour, lease.started_at, ended_at))
    return replace(lease, status=status, ended_at=ended_at, charged=charge, charge_entry_id=entry_id)


@dataclass(frozen=True)
class LeaseOpening:
    lease: Lease
    idempotency_scope: str
    idempotency_key: str
    answer: StoredAnswer
    now: int
    policy_version: int | None = None  # the tenant's policy must still be this version (None: unchecked)


class LeaseRepository(Protocol):
    def open(self, opening: LeaseOpening) -> None:
        """One transaction: the pool's reservation (conditional on ``available``), the lease and the
        idempotency record. Raises InsufficientTokens, TenantSuspended, LotsDue or Replayed."""
        ...

    def get(self, tenant_id: str, lease_id: str) -> Lease:
        """``NotFound`` when this tenant has no such lease."""
        ...

    def extend(self, lease: Lease, new_end: int, extra: int, now: int, policy_version: int | None = None) -> bool:
        """Move the end and reserve ``extra`` more, in one transaction (conditioned on the tenant's policy
        still being ``policy_version``, when given). False if the lease changed since it was read;
        InsufficientTokens, TenantSuspended, LotsDue or PolicyChanged when the pool or policy refuses."""
        ...

    def settle(self, lease: Lease, result: Lease, entry: LedgerEntry) -> bool:
        """Charge, release the reservation, write ``entry`` and store ``result``, in one transaction.
        False if the lease changed since it was read (settled by someone else, or extended)."""
        ...

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None: ...


class LeaseService:
    def __init__(
        self,
        leases: LeaseRepository,
        catalog: CatalogRepository,
        clock: Clock,
        ids: IdGenerator,
        settler: LotSettler | None = None,
        policy: SpendPolicy | None = None,
        spending: Spending | None = None,
    ) -> None:
        self._leases = leases
        self._catalog = catalog
        self._clock = clock
        self._ids = ids
        self._spending = spending or Spending(policy, settler)

    # ----------------------------------------------------------------------------------------- open
    def open(self, caller: Principal, feature_id: str, duration_s: int, idempotency_key: str) -> tuple[int, Lease]:
        """Reserve tokens for a run, through the spending pipeline. Returns (201, lease); a retry with the
        same key returns the same lease."""
        if not 1 <= duration_s <= MAX_LEASE_S:
            raise InvalidField("duration_s", f"must be from 1 to {MAX_LEASE_S} seconds")
        fingerprint = request_fingerprint("lease", feature_id, duration_s)
        scope = f"lease:{caller.key_id}"

        def price() -> Charge[tuple[int, Lease]]:
            feature = catalog_feature(self._catalog, feature_id)
            key, now = caller.license_key, self._clock.now()
            lease = Lease(
                id=self._ids.new_id("lease"),
                tenant_id=caller.tenant_id,
                feature=feature_id,
                cost_per_hour=feature.cost_per_hour,
                started_at=now,
                expires_at=now + duration_s,
                duration_s=duration_s,
                reserved=reservation(feature.cost_per_hour, now, now + duration_s),
                status=LeaseStatus.OPEN,
                actor=caller.actor,
                project_id=key.project_id if key else None,
                environment=key.environment if key else None,
                idempotency_key=idempotency_key,
            )
            opening = LeaseOpening(
                lease, scope, idempotency_key, StoredAnswer(fingerprint, 201, {"lease_id": lease.id}, now), now
            )

            def write(policy_version: int | None) -> tuple[int, Lease]:
                self._leases.open(replace(opening, policy_version=policy_version))
                return 201, lease

            return Charge(lease.reserved, write)

        return open_hold(
            self._spending,
            caller,
            Spend(SpendKind.LEASE, feature_id),
            price,
            lambda: self._leases.stored_answer(caller.tenant_id, scope, idempotency_key),
            lambda stored: self._replay(caller.tenant_id, stored, fingerprint),
        )

    def _replay(self, tenant_id: str, stored: StoredAnswer, fingerprint: str) -> tuple[int, Lease]:
        return replayed_hold(
            stored, fingerprint, self._clock.now(), "lease_id", lambda i: self._leases.get(tenant_id, i)
        )

    # ------------------------------------------------------------------------------------ heartbeat
    def heartbeat(self, caller: Principal, lease_id: str, extend_s: int | None = None) -> Lease:
        """Keep a lease alive: move its end, reserving another hour when the new end starts one. The
        extension is a spend (the spending pipeline): the policy meets the lease at its new total."""
        if extend_s is not None and not 1 <= extend_s <= MAX_LEASE_S:
            raise InvalidField("extend_s", f"must be from 1 to {MAX_LEASE_S} seconds")

        def attempt() -> Lease | None:
            lease = self._leases.get(caller.tenant_id, lease_id)
            may_keep(caller, lease.actor, "lease")
            now = self._clock.now()
            if lease.status is LeaseStatus.CLOSED:
                raise LeaseClosed(f"lease {lease_id} was checked in")
            if not lease.alive(now):
                if lease.status is LeaseStatus.OPEN:
                    self._settle(lease, now)  # settle it now rather than wait for the sweeper
                raise LeaseExpired(f"lease {lease_id} ended at its expiry; open a new lease")
            new_end = extended_end(lease, now, extend_s)
            extra = max(0, reservation(lease.cost_per_hour, lease.started_at, new_end) - lease.reserved)

            def price() -> Charge[bool]:
                return Charge(lease.reserved + extra, lambda v: self._leases.extend(lease, new_end, extra, now, v))

            if self._spending.spend(caller, Spend(SpendKind.LEASE_EXTENSION, lease.feature), price):
                return replace(lease, expires_at=new_end, reserved=lease.reserved + extra)
            return None

        return until_written(attempt)

    # -------------------------------------------------------------------------------------- check in
    def close(self, caller: Principal, lease_id: str) -> Lease:
        """Check a lease in (winding down: never refused, whatever the tenant's status or policy): charge
        the hours started, release the rest. A second call returns the same settled lease and charges
        nothing; a lease already past its end is settled as expired."""

        def attempt() -> Lease | None:
            lease = self._leases.get(caller.tenant_id, lease_id)
            may_keep(caller, lease.actor, "lease")
            if lease.status is not LeaseStatus.OPEN:
                return lease
            return self._settle(lease, self._clock.now(), actor=caller.actor)

        return until_written(attempt)

    # ---------------------------------------------------------------------------------------- expiry
    def expire_if_due(self, tenant_id: str, lease_id: str) -> bool:
        """The sweeper's entry: settle the lease as expired if it is open and past its end. True if this
        call settled it; False if there was nothing to do (already settled, extended, or gone)."""
        return holds.expire_if_due(
            lambda: self._leases.get(tenant_id, lease_id),
            lambda lease, now: lease.status is LeaseStatus.OPEN and now >= lease.expires_at,
            lambda lease, now: self._settle(lease, now) is not None,
            self._clock.now,
        )

    def _settle(self, lease: Lease, now: int, actor: str = EXPIRY_ACTOR) -> Lease | None:
        result = settled(lease, now, self._ids.new_id("le"))
        assert result.charged is not None
        assert result.ended_at is not None
        assert result.charge_entry_id
        hours = hours_started(lease.started_at, result.ended_at)
        entry = LedgerEntry(
            id=result.charge_entry_id,
            tenant_id=lease.tenant_id,
            kind=EntryKind.LEASE_CHARGE,
            amount=-result.charged,
            created_at=now,
            actor=actor if result.status is LeaseStatus.CLOSED else EXPIRY_ACTOR,
            reason=f"lease {lease.id} {result.status.value}: {hours} h × {lease.feature}",
            feature=lease.feature,
            quantity=hours,
            project_id=lease.project_id,
            idempotency_key=lease.idempotency_key,
            lease_id=lease.id,
            key_id=key_of(lease.actor),
        )
        return result if self._leases.settle(lease, result, entry) else None
