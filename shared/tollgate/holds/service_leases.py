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
from functools import partial
from typing import Protocol, TypeVar

from tollgate.approvals.service_spend import SpendPolicy, spend_under_policy
from tollgate.core import limits
from tollgate.core.clock import Clock
from tollgate.core.errors import (
    InvalidField,
    LeaseClosed,
    LeaseExpired,
    NotFound,
    StoreBusy,
    TenantSuspended,
)
from tollgate.core.idempotency import Replayed, StoredAnswer, check_replay, request_fingerprint
from tollgate.core.ids import IdGenerator
from tollgate.core.models import EntryKind, LedgerEntry, Principal, TenantStatus, key_of
from tollgate.core.ports import LotSettler
from tollgate.core.roles import Permission, authorize
from tollgate.holds.rules import entitled_feature, may_keep, settling_lots_first
from tollgate.purchases.rules_catalog import CatalogRepository

T = TypeVar("T")

HOUR_S = 3600
MAX_LEASE_S = limits.MAX_LEASE_S  # no lease outlives this, however often it heartbeats
MIN_HEARTBEAT_S = 15
MAX_HEARTBEAT_S = 300
EXPIRY_ACTOR = "system:lease-expiry"
_ATTEMPTS = 5  # optimistic re-reads when the lease changed between our read and our write


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

    def extend(self, lease: Lease, new_end: int, extra: int, now: int) -> bool:
        """Move the end and reserve ``extra`` more, in one transaction. False if the lease changed since it
        was read; InsufficientTokens, TenantSuspended or LotsDue when the pool refuses ``extra``."""
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
    ) -> None:
        self._leases = leases
        self._catalog = catalog
        self._clock = clock
        self._ids = ids
        self._settler = settler
        self._policy = policy

    # ----------------------------------------------------------------------------------------- open
    def open(self, caller: Principal, feature_id: str, duration_s: int, idempotency_key: str) -> tuple[int, Lease]:
        """Reserve tokens for a run. Returns (201, lease); a retry with the same key returns the same lease."""
        authorize(caller, Permission.CONSUME)
        if not 1 <= duration_s <= MAX_LEASE_S:
            raise InvalidField("duration_s", f"must be from 1 to {MAX_LEASE_S} seconds")
        fingerprint = request_fingerprint("lease", feature_id, duration_s)
        scope = f"lease:{caller.key_id}"
        if caller.tenant.status is not TenantStatus.ACTIVE:
            stored = self._leases.stored_answer(caller.tenant_id, scope, idempotency_key)
            if stored is None:
                raise TenantSuspended("this tenant is suspended; no tokens can be reserved")
            return self._replay(caller.tenant_id, stored, fingerprint)
        key = caller.license_key
        feature = entitled_feature(caller, self._catalog, feature_id)
        now = self._clock.now()
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
            idempotency_key=idempotency_key,
        )
        answer = StoredAnswer(fingerprint, 201, {"lease_id": lease.id}, now)
        opening = LeaseOpening(lease, scope, idempotency_key, answer, now)

        def write(policy_version: int | None) -> tuple[int, Lease]:
            policed = replace(opening, policy_version=policy_version)
            settling_lots_first(self._settler, caller.tenant_id, lambda: self._leases.open(policed))
            return 201, lease

        def replayed() -> tuple[int, Lease] | None:
            stored = self._leases.stored_answer(caller.tenant_id, scope, idempotency_key)
            return None if stored is None else self._replay(caller.tenant_id, stored, fingerprint)

        try:
            return spend_under_policy(self._policy, caller, "lease", feature_id, lease.reserved, write, replayed)
        except Replayed as replay:
            return self._replay(caller.tenant_id, replay.answer, fingerprint)

    def _replay(self, tenant_id: str, stored: StoredAnswer, fingerprint: str) -> tuple[int, Lease]:
        check_replay(stored, fingerprint, self._clock.now())
        return stored.status_code, self._leases.get(tenant_id, str(stored.body["lease_id"]))

    # ------------------------------------------------------------------------------------ heartbeat
    def heartbeat(self, caller: Principal, lease_id: str, extend_s: int | None = None) -> Lease:
        """Keep a lease alive: move its end, reserving another hour when the new end starts one."""
        authorize(caller, Permission.CONSUME)
        if extend_s is not None and not 1 <= extend_s <= MAX_LEASE_S:
            raise InvalidField("extend_s", f"must be from 1 to {MAX_LEASE_S} seconds")
        for _ in range(_ATTEMPTS):
            lease = self._leases.get(caller.tenant_id, lease_id)
            may_keep(caller, lease.actor, "lease")
            now = self._clock.now()
            if lease.status is LeaseStatus.CLOSED:
                raise LeaseClosed(f"lease {lease_id} was checked in")
            if not lease.alive(now):
                if lease.status is LeaseStatus.OPEN:
                    self._settle(lease, now)  # settle it now rather than wait for the sweeper
                raise LeaseExpired(f"lease {lease_id} ended at its expiry; open a new lease")
            if caller.tenant.status is not TenantStatus.ACTIVE:
                raise TenantSuspended("this tenant is suspended; leases cannot be extended")
            new_end = extended_end(lease, now, extend_s)
            extra = max(0, reservation(lease.cost_per_hour, lease.started_at, new_end) - lease.reserved)
            if settling_lots_first(
                self._settler, caller.tenant_id, partial(self._leases.extend, lease, new_end, extra, now)
            ):
                return replace(lease, expires_at=new_end, reserved=lease.reserved + extra)
        raise StoreBusy()

    # -------------------------------------------------------------------------------------- check in
    def close(self, caller: Principal, lease_id: str) -> Lease:
        """Check a lease in: charge the hours started, release the rest. A second call returns the same
        settled lease and charges nothing; a lease already past its end is settled as expired."""
        authorize(caller, Permission.CONSUME)
        for _ in range(_ATTEMPTS):
            lease = self._leases.get(caller.tenant_id, lease_id)
            may_keep(caller, lease.actor, "lease")
            if lease.status is not LeaseStatus.OPEN:
                return lease
            result = self._settle(lease, self._clock.now(), actor=caller.actor)
            if result is not None:
                return result
        raise StoreBusy()

    # ---------------------------------------------------------------------------------------- expiry
    def expire_if_due(self, tenant_id: str, lease_id: str) -> bool:
        """The sweeper's entry: settle the lease as expired if it is open and past its end. True if this
        call settled it; False if there was nothing to do (already settled, extended, or gone)."""
        for _ in range(_ATTEMPTS):
            try:
                lease = self._leases.get(tenant_id, lease_id)
            except NotFound:
                return False
            now = self._clock.now()
            if lease.status is not LeaseStatus.OPEN or now < lease.expires_at:
                return False
            if self._settle(lease, now) is not None:
                return True
        raise StoreBusy()

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
