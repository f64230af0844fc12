"""Allowances: a block of tokens held for a busy process, spent in process, settled by what was used.

The rules, in one place (docs/sdk.md tells the SDK's side):

- Opening an allowance for ``tokens`` holds them (``reserved`` up, ``available`` down), like a lease, for
  ``ttl_s``. The allowance keeps the feature's ``cost_per_use`` as it was when opened.
- A settlement reports ``used``: the uses spent since the allowance opened (cumulative, so a retried or
  late report is harmless: a report not above the last one changes nothing). The uses new since the last
  report are charged from the hold, never more than it holds.
- ``final`` ends it: the rest of the hold is released. ``renew`` tops the hold back up to the block and
  moves the end to ``now + ttl_s``: a busy process pays one request per block (settle-and-renew).
- An allowance not settled by its end is charged in full (the whole hold), by the sweeper or by the next
  request that reads it: the process that held it may have died with the tokens spent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from tollgate.approvals.service_spend import SpendPolicy
from tollgate.core.clock import Clock
from tollgate.core.errors import AllowanceEnded, InvalidField
from tollgate.core.idempotency import StoredAnswer, request_fingerprint
from tollgate.core.ids import IdGenerator
from tollgate.core.models import EntryKind, LedgerEntry, Principal, key_of
from tollgate.core.ports import LotSettler
from tollgate.holds import service as holds
from tollgate.holds.service import may_keep, open_hold, replayed_hold, until_written
from tollgate.pool.service_spending import Charge, Spend, Spending, SpendKind, catalog_feature
from tollgate.purchases.rules_catalog import CatalogRepository

MIN_TTL_S = 10
MAX_TTL_S = 3600
DEFAULT_TTL_S = 300
EXPIRY_ACTOR = "system:allowance-expiry"


class AllowanceStatus(StrEnum):
    OPEN = "open"
    SETTLED = "settled"  # ended by a final settlement
    EXPIRED = "expired"  # not settled by its end: charged in full


@dataclass(frozen=True)
class Allowance:
    id: str
    tenant_id: str
    feature: str
    cost_per_use: int
    block: int  # tokens held at opening, and after each renewal
    held: int  # tokens held now
    used: int  # uses reported so far (cumulative)
    charged: int  # tokens charged so far
    opened_at: int
    expires_at: int
    ttl_s: int
    status: AllowanceStatus
    actor: str
    version: int = 0  # every change increments it; writes are conditioned on the version read
    project_id: str | None = None
    environment: str | None = None  # the license key's environment (a budget level)
    idempotency_key: str | None = None

    def alive(self, now: int) -> bool:
        return self.status is AllowanceStatus.OPEN and now < self.expires_at


@dataclass(frozen=True)
class AllowanceChange:
    """One settlement: the allowance before and after, the ledger entry of the charge (if any)."""

    before: Allowance
    after: Allowance
    entry: LedgerEntry | None
    now: int
    policy_version: int | None = None  # a renewal: the tenant's policy must still be this version

    @property
    def charge(self) -> int:
        return self.after.charged - self.before.charged

    @property
    def hold_change(self) -> int:
        return self.after.held - self.before.held

    @property
    def top_up(self) -> int:
        """Tokens held anew (a renewal): the part of the hold change that is not the charge coming out."""
        return max(0, self.hold_change + self.charge)


@dataclass(frozen=True)
class AllowanceOpening:
    allowance: Allowance
    idempotency_scope: str
    idempotency_key: str
    answer: StoredAnswer
    now: int
    policy_version: int | None = None  # the tenant's policy must still be this version (None: unchecked)


class AllowanceRepository(Protocol):
    def open(self, opening: AllowanceOpening) -> None:
        """Allowance, hold and idempotent answer in one write. Raises InsufficientTokens,
        ProjectBudgetExhausted, TenantSuspended, LotsDue or Replayed; changes nothing when it raises."""
        ...

    def get(self, tenant_id: str, allowance_id: str) -> Allowance: ...

    def change(self, change: AllowanceChange) -> bool:
        """Apply a settlement in one write; False if the allowance changed since it was read."""
        ...

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None: ...


def settled(allowance: Allowance, used: int, final: bool, renew: bool, now: int) -> Allowance:
    """The allowance after a report of ``used`` uses in all. Raises InvalidField if they cost more than it holds."""
    new_uses = used - allowance.used
    charge = new_uses * allowance.cost_per_use
    if charge > allowance.held:
        raise InvalidField("used", f"{used} uses cost more than the {allowance.held} tokens this allowance holds")
    after = replace(
        allowance,
        used=used,
        charged=allowance.charged + charge,
        held=allowance.held - charge,
        version=allowance.version + 1,
    )
    if final:
        return replace(after, held=0, status=AllowanceStatus.SETTLED)
    if renew:
        return replace(after, held=allowance.block, expires_at=now + allowance.ttl_s)
    return after


def expired(allowance: Allowance) -> Allowance:
    """Not settled by its end: the whole hold is charged (its uses are not known, so none are counted)."""
    return replace(
        allowance,
        held=0,
        charged=allowance.charged + allowance.held,
        status=AllowanceStatus.EXPIRED,
        version=allowance.version + 1,
    )


class AllowanceService:
    def __init__(
        self,
        allowances: AllowanceRepository,
        catalog: CatalogRepository,
        clock: Clock,
        ids: IdGenerator,
        settler: LotSettler | None = None,
        policy: SpendPolicy | None = None,
        spending: Spending | None = None,
    ) -> None:
        self._allowances = allowances
        self._catalog = catalog
        self._clock = clock
        self._ids = ids
        self._spending = spending or Spending(policy, settler)

    def open(
        self, caller: Principal, feature_id: str, tokens: int, ttl_s: int, idempotency_key: str
    ) -> tuple[int, Allowance]:
        """Hold a block of tokens, through the spending pipeline. Returns (201, allowance); a retry with the
        same key returns the same allowance."""
        if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
            raise InvalidField("ttl_s", f"must be from {MIN_TTL_S} to {MAX_TTL_S} seconds")
        fingerprint = request_fingerprint("allowance", feature_id, tokens, ttl_s)
        scope = f"allowance:{caller.key_id}"

        def price() -> Charge[tuple[int, Allowance]]:
            feature = catalog_feature(self._catalog, feature_id)
            if tokens < max(1, feature.cost_per_use):
                raise InvalidField("tokens", f"must cover at least one use ({feature.cost_per_use} tokens)")
            key, now = caller.license_key, self._clock.now()
            allowance = Allowance(
                id=self._ids.new_id("al"),
                tenant_id=caller.tenant_id,
                feature=feature_id,
                cost_per_use=feature.cost_per_use,
                block=tokens,
                held=tokens,
                used=0,
                charged=0,
                opened_at=now,
                expires_at=now + ttl_s,
                ttl_s=ttl_s,
                status=AllowanceStatus.OPEN,
                actor=caller.actor,
                project_id=key.project_id if key else None,
                environment=key.environment if key else None,
                idempotency_key=idempotency_key,
            )
            answer = StoredAnswer(fingerprint, 201, {"allowance_id": allowance.id}, now)
            opening = AllowanceOpening(allowance, scope, idempotency_key, answer, now)

            def write(policy_version: int | None) -> tuple[int, Allowance]:
                self._allowances.open(replace(opening, policy_version=policy_version))
                return 201, allowance

            return Charge(allowance.held, write)

        return open_hold(
            self._spending,
            caller,
            Spend(SpendKind.ALLOWANCE, feature_id),
            price,
            lambda: self._allowances.stored_answer(caller.tenant_id, scope, idempotency_key),
            lambda stored: self._replay(caller.tenant_id, stored, fingerprint),
        )

    def _replay(self, tenant_id: str, stored: StoredAnswer, fingerprint: str) -> tuple[int, Allowance]:
        get = lambda allowance_id: self._allowances.get(tenant_id, allowance_id)  # noqa: E731
        return replayed_hold(stored, fingerprint, self._clock.now(), "allowance_id", get)

    def settle(self, caller: Principal, allowance_id: str, used: int, final: bool, renew: bool) -> Allowance:
        """Charge the uses reported since the last report; end it (``final``) or top it up (``renew``). A
        report, final or not, winds down: it is never refused (whatever the tenant's status or policy) and
        charges what was used. A renewal holds more: it is a spend (the spending pipeline), and the policy
        meets the allowance at its renewed total."""
        if final and renew:
            raise InvalidField("renew", "a final settlement cannot renew")

        def attempt() -> Allowance | None:
            allowance = self._allowances.get(caller.tenant_id, allowance_id)
            may_keep(caller, allowance.actor, "allowance")
            now = self._clock.now()
            if allowance.status is AllowanceStatus.OPEN and now >= allowance.expires_at:
                self._expire(allowance, now)
                return None  # read it again: ended now
            if allowance.status is not AllowanceStatus.OPEN:
                if used <= allowance.used and not renew:
                    return allowance  # a retried report of an ended allowance
                raise AllowanceEnded(f"allowance {allowance_id} has {allowance.status.value}; open a new one")
            if used < allowance.used or (used == allowance.used and not final and not renew):
                return allowance  # cumulative: an older report changes nothing
            after = settled(allowance, used, final, renew, now)
            change = AllowanceChange(allowance, after, self._entry(allowance, after, now), now)
            if not renew:
                return after if self._allowances.change(change) else None

            def price() -> Charge[bool]:
                return Charge(after.held, lambda v: self._allowances.change(replace(change, policy_version=v)))

            return (
                after
                if self._spending.spend(caller, Spend(SpendKind.ALLOWANCE_RENEWAL, allowance.feature), price)
                else None
            )

        return until_written(attempt)

    def expire_if_due(self, tenant_id: str, allowance_id: str) -> bool:
        """The sweeper's entry: charge an open allowance past its end in full. True if this call did."""
        return holds.expire_if_due(
            lambda: self._allowances.get(tenant_id, allowance_id),
            lambda allowance, now: allowance.status is AllowanceStatus.OPEN and now >= allowance.expires_at,
            self._expire,
            self._clock.now,
        )

    def _expire(self, allowance: Allowance, now: int) -> bool:
        after = expired(allowance)
        return self._allowances.change(AllowanceChange(allowance, after, self._entry(allowance, after, now), now))

    def _entry(self, before: Allowance, after: Allowance, now: int) -> LedgerEntry | None:
        charge = after.charged - before.charged
        if charge == 0:
            return None
        uses = after.used - before.used
        ended = after.status is AllowanceStatus.EXPIRED
        return LedgerEntry(
            id=self._ids.new_id("le"),
            tenant_id=before.tenant_id,
            kind=EntryKind.ALLOWANCE_CHARGE,
            amount=-charge,
            created_at=now,
            actor=EXPIRY_ACTOR if ended else before.actor,
            reason=(
                f"allowance {before.id} not settled by its end: the {charge} tokens it held"
                if ended
                else f"allowance {before.id}: {uses} × {before.feature}"
            ),
            feature=before.feature,
            quantity=None if ended else uses,
            project_id=before.project_id,
            idempotency_key=before.idempotency_key,
            allowance_id=before.id,
            key_id=key_of(before.actor),
        )
