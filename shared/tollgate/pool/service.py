"""The token pool: consuming, crediting, reading the balance and the ledger."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from tollgate.approvals.service_spend import SpendPolicy
from tollgate.core.budgets import NO_LEVELS, Levels
from tollgate.core.clock import Clock
from tollgate.core.errors import InvalidField
from tollgate.core.idempotency import Replayed, StoredAnswer, check_replay, request_fingerprint
from tollgate.core.ids import IdGenerator
from tollgate.core.limits import CONTROL_CHARACTERS, IDEMPOTENCY_KEY, MAX_TOKENS, MAX_VALID_DAYS, REASON_MAX
from tollgate.core.models import EntryKind, LedgerEntry, Lot, Pool, Principal
from tollgate.core.ports import LotSettler
from tollgate.pool.rules import LotView, allocate
from tollgate.pool.service_spending import Charge, Spend, Spending, SpendKind, catalog_feature
from tollgate.purchases.rules_catalog import CatalogRepository

GRANT_SCOPE = "grant"  # operator grants' Idempotency-Keys


@dataclass(frozen=True)
class Debit:
    tenant_id: str
    amount: int  # > 0: tokens taken from the pool
    entry: LedgerEntry
    levels: Levels  # the budget levels below the tenant's that it is charged against
    idempotency_scope: str
    idempotency_key: str
    answer: StoredAnswer
    now: int
    license_key_check: tuple[str, str] | None = None  # (key id, secret hash) the write must still find
    policy_version: int | None = None  # the tenant's policy must still be this version (None: unchecked)


@dataclass(frozen=True)
class Credit:
    tenant_id: str
    entry: LedgerEntry
    lot: Lot | None  # positive credits become a lot; negative adjustments do not
    # an operator's Idempotency-Key: (scope, key, first answer); the credit is applied once per key
    answer: tuple[str, str, StoredAnswer] | None = None


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    cursor: str | None


class PoolRepository(Protocol):
    def debit(self, debit: Debit) -> None:
        """One atomic write: pool (and every budget level), ledger entry, idempotency record.

        Raises InsufficientTokens, a BudgetExhausted, TenantSuspended, LotsDue or Replayed; changes
        nothing when it raises."""
        ...

    def credit(self, credit: Credit) -> None:
        """Pool, ledger entry and lot in one transaction; an entry id already written is not written again."""
        ...

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None: ...

    def lots(self, tenant_id: str) -> list[Lot]: ...

    def ledger_page(self, tenant_id: str, cursor: str | None, limit: int) -> LedgerPage: ...

    def pool(self, tenant_id: str) -> Pool: ...

    def set_overdraft(self, tenant_id: str, tokens: int) -> None:
        """``NotFound`` if there is no such tenant."""
        ...


@dataclass(frozen=True)
class Consumption:
    charged: int
    balance_after: int | None  # None when the caller asked for a minimal answer (no read for it)
    entry_id: str
    status_code: int = 200

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"charged": self.charged, "entry_id": self.entry_id}
        if self.balance_after is not None:
            body["balance_after"] = self.balance_after
        return body


@dataclass(frozen=True)
class BalanceView:
    pool: Pool
    lots: list[LotView]


class PoolService:
    def __init__(
        self,
        pools: PoolRepository,
        catalog: CatalogRepository,
        clock: Clock,
        ids: IdGenerator,
        settler: LotSettler | None = None,
        policy: SpendPolicy | None = None,
        spending: Spending | None = None,
    ) -> None:
        self._pools = pools
        self._catalog = catalog
        self._clock = clock
        self._ids = ids
        self._settler = settler
        self._spending = spending or Spending(policy, settler)

    def consume(
        self, caller: Principal, feature_id: str, quantity: int, idempotency_key: str, minimal: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """Debit ``quantity`` uses of a feature, through the spending pipeline. Returns (status, body): the
        first answer on a retry.

        ``minimal`` (the SDK's ``Prefer: return=minimal``) leaves ``balance_after`` out; only then may the
        caller's key come from memory (``Principal.key_from_memory``), making the whole call one write."""
        if caller.key_from_memory and not minimal:
            raise AssertionError("a key from memory carries no current balance: answer minimally")
        fingerprint = request_fingerprint("consume", feature_id, quantity)
        scope = f"consume:{caller.key_id}"
        scope_of_key = caller.license_key

        def price() -> Charge[tuple[int, dict[str, Any]]]:
            cost = catalog_feature(self._catalog, feature_id).cost_per_use * quantity
            now = self._clock.now()
            entry = LedgerEntry(
                id=self._ids.new_id("le"),
                tenant_id=caller.tenant_id,
                kind=EntryKind.CONSUMPTION,
                amount=-cost,
                created_at=now,
                actor=caller.actor,
                reason=f"{quantity} × {feature_id}",
                feature=feature_id,
                quantity=quantity,
                project_id=scope_of_key.project_id if scope_of_key else None,
                idempotency_key=idempotency_key,
                key_id=caller.key_id,
            )
            balance_after = None if minimal else caller.tenant.pool.balance - cost
            result = Consumption(charged=cost, balance_after=balance_after, entry_id=entry.id)
            answer = StoredAnswer(fingerprint, result.status_code, result.body(), now)
            key_check = None
            if caller.key_from_memory and scope_of_key is not None:
                key_check = (scope_of_key.id, scope_of_key.secret_hash)
            levels = NO_LEVELS
            if scope_of_key is not None:
                levels = Levels(scope_of_key.project_id, scope_of_key.environment, scope_of_key.id)
            debit = Debit(caller.tenant_id, cost, entry, levels, scope, idempotency_key, answer, now, key_check)

            def write(policy_version: int | None) -> tuple[int, dict[str, Any]]:
                self._pools.debit(replace(debit, policy_version=policy_version))
                return result.status_code, result.body()

            return Charge(cost, write)

        def replayed() -> tuple[int, dict[str, Any]] | None:
            stored = self._pools.stored_answer(caller.tenant_id, scope, idempotency_key)
            return None if stored is None else self._answer(stored, fingerprint, self._clock.now())

        try:
            return self._spending.spend(caller, Spend(SpendKind.CONSUME, feature_id), price, replayed)
        except Replayed as replay:
            return self._answer(replay.answer, fingerprint, self._clock.now())

    @staticmethod
    def _answer(stored: StoredAnswer, fingerprint: str, now: int) -> tuple[int, dict[str, Any]]:
        check_replay(stored, fingerprint, now)
        return stored.status_code, stored.body

    def balance(self, caller: Principal) -> BalanceView:
        pool = self._pools.pool(caller.tenant_id)
        due = pool.next_lot_expiry
        if due is not None and due <= self._clock.now() and self._settler is not None:
            self._settler.settle_due_lots(caller.tenant_id)  # time is enforced when read: no lot past its end
            pool = self._pools.pool(caller.tenant_id)
        return BalanceView(pool, allocate(self._pools.lots(caller.tenant_id), pool.balance))

    def set_overdraft(self, tenant_id: str, tokens: int) -> Pool:
        """An operator's overdraft for a tenant: consumption may take ``available`` down to −tokens."""
        if isinstance(tokens, bool) or not 0 <= tokens <= MAX_TOKENS:
            raise InvalidField("tokens", f"an overdraft is an integer from 0 to {MAX_TOKENS}")
        self._pools.set_overdraft(tenant_id, tokens)
        return self._pools.pool(tenant_id)

    def ledger(self, caller: Principal, cursor: str | None, limit: int) -> LedgerPage:
        return self._pools.ledger_page(caller.tenant_id, cursor, limit)

    def grant(
        self,
        tenant_id: str,
        tokens: int,
        reason: str,
        actor: str,
        valid_days: int | None = None,
        idempotency_key: str | None = None,
    ) -> LedgerEntry:
        """An operator's grant (tokens > 0, a lot of its own) or adjustment down (tokens < 0). With an
        ``idempotency_key``, a repeat (an operator retrying after a timeout) credits nothing and returns the
        first grant's entry."""
        if tokens == 0 or abs(tokens) > MAX_TOKENS:
            raise InvalidField("tokens", f"must be a non-zero integer from -{MAX_TOKENS} to {MAX_TOKENS}")
        if not reason.strip() or len(reason) > REASON_MAX or CONTROL_CHARACTERS.search(reason):
            raise InvalidField("reason", f"a grant needs a reason of at most {REASON_MAX} printable characters")
        if valid_days is not None and (tokens < 0 or not 1 <= valid_days <= MAX_VALID_DAYS):
            raise InvalidField("valid_days", f"only a positive grant has a validity, of 1 to {MAX_VALID_DAYS} days")
        if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise InvalidField("idempotency_key", "must be 1 to 255 printable ASCII characters")
        now = self._clock.now()
        entry_id = self._ids.new_id("le")
        lot = None
        if tokens > 0:
            lot = Lot(
                id=self._ids.new_id("lot"),
                tenant_id=tenant_id,
                tokens=tokens,
                remaining=tokens,
                created_at=now,
                expires_at=now + valid_days * 86400 if valid_days else None,
                grant_reason=reason,
            )
        entry = LedgerEntry(
            id=entry_id,
            tenant_id=tenant_id,
            kind=EntryKind.GRANT if tokens > 0 else EntryKind.ADJUSTMENT,
            amount=tokens,
            created_at=now,
            actor=actor,
            reason=reason,
            lot_id=lot.id if lot else None,
            idempotency_key=idempotency_key,
        )
        answer = None
        fingerprint = request_fingerprint("grant", tenant_id, tokens, reason, valid_days)
        if idempotency_key is not None:
            body = {"entry_id": entry.id, "created_at": now, "lot_id": entry.lot_id, "actor": actor}
            answer = (GRANT_SCOPE, idempotency_key, StoredAnswer(fingerprint, 201, body, now))
        try:
            self._pools.credit(Credit(tenant_id, entry, lot, answer))
        except Replayed as replay:
            self._answer(replay.answer, fingerprint, now)
            first = replay.answer.body
            return replace(
                entry,
                id=str(first["entry_id"]),
                created_at=int(first["created_at"]),
                lot_id=first.get("lot_id"),
                actor=str(first["actor"]),
            )
        return entry
