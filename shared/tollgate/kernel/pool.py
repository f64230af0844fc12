"""The pool kernel: the one place where a pool, a project budget, a hold or a lot changes.

Every writer (consumption, credits and grants, purchases, refunds and disputes, leases, lot expiry, the
sweeper) describes its change as a ``PoolTransaction``: the pool delta (``balance`` and ``reserved``; the
kernel keeps ``available = balance − reserved`` in step, and nowhere else does), the project budget delta,
the ledger entry, the idempotency record, lot changes, the outbox events it raises, and any other item of
the caller's (a lease, a purchase, a Stripe event mark) under a label of its own.
``commit()`` sends one TransactWriteItems.

DynamoDB answers a cancelled transaction with one reason per item in the order sent, and pynamodb sends
condition checks, deletes, puts, then updates, whatever order they were added in. The kernel records each
item's label in its group and rebuilds that order, so a cancellation becomes ``Refused`` with the labels
that failed and the old items DynamoDB returned; ``explain_pool`` and friends turn it into a domain error by
label, never by position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from tollgate.core.errors import InsufficientTokens, LotsDue, ProjectBudgetExhausted, TenantSuspended
from tollgate.core.events import Event
from tollgate.core.idempotency import StoredAnswer
from tollgate.core.models import LedgerEntry, Lot, Pool
from tollgate.kernel import keys
from tollgate.kernel.connection import shared_connection
from tollgate.kernel.errors import cancellation_codes, with_retries
from tollgate.kernel.items import EventItem, IdempotencyItem, LedgerEntryItem, LotItem, ProjectItem, TenantItem
from tollgate.kernel.records import answer_item, event_item, ledger_item, lot_item

POOL, BUDGET, ENTRY, ANSWER, LOT, OUTBOX = "pool", "budget", "entry", "answer", "lot", "outbox"
_FAILED = "ConditionalCheckFailed"


class _Keep:
    """``next_lot_expiry`` is left as it is."""


KEEP = _Keep()


@dataclass(frozen=True)
class PoolDelta:
    """A change to the tenant's pool and the conditions it must meet.

    ``balance`` and ``reserved`` are deltas; ``available`` follows from them. ``active``: the tenant must be
    active (spending; settlements and credits go through for a suspended tenant). ``covers``: ``available``
    must be at least this before the change. ``live_at``: no lot may be past its end at this time (time is
    enforced when read: a due lot is expired first). ``as_read``: the pool must be exactly as read
    (optimistic concurrency for changes computed from a read). ``next_lot_expiry``: a new soonest lot end,
    ``None`` to remove it, ``KEEP`` to leave it."""

    balance: int = 0
    reserved: int = 0
    active: bool = False
    covers: int | None = None
    live_at: int | None = None
    as_read: Pool | None = None
    next_lot_expiry: int | _Keep | None = KEEP
    next_lot_expiry_was: int | _Keep | None = KEEP  # the soonest end must still be this one

    def actions(self) -> list[Action]:
        actions: list[Action] = []
        if self.balance:
            actions.append(TenantItem.balance.add(self.balance))
        if self.reserved:
            actions.append(TenantItem.reserved.add(self.reserved))
        if self.balance - self.reserved:
            actions.append(TenantItem.available.add(self.balance - self.reserved))
        if isinstance(self.next_lot_expiry, int):
            actions.append(TenantItem.next_lot_expiry.set(self.next_lot_expiry))
        elif self.next_lot_expiry is None:
            actions.append(TenantItem.next_lot_expiry.remove())
        return actions

    def condition(self) -> Condition:
        condition = TenantItem.pk.exists()
        if self.active:
            condition &= TenantItem.status == "active"
        if self.covers is not None:
            condition &= TenantItem.available >= self.covers
        if self.live_at is not None:
            condition &= TenantItem.next_lot_expiry.does_not_exist() | (TenantItem.next_lot_expiry > self.live_at)
        if self.as_read is not None:
            condition &= (TenantItem.balance == self.as_read.balance) & (TenantItem.reserved == self.as_read.reserved)
            condition &= _soonest_end_is(self.as_read.next_lot_expiry)
        if not isinstance(self.next_lot_expiry_was, _Keep):
            condition &= _soonest_end_is(self.next_lot_expiry_was)
        return condition


def _soonest_end_is(end: int | None) -> Condition:
    if end is None:
        return TenantItem.next_lot_expiry.does_not_exist()
    return TenantItem.next_lot_expiry == end


@dataclass(frozen=True)
class BudgetDelta:
    """A change to a project's budget: ``committed`` (spent plus what holds keep) and ``spent`` are deltas;
    ``budget_left = budget − committed`` follows. ``covers``: the budget, if any, must have this much left."""

    project_id: str
    committed: int = 0
    spent: int = 0
    covers: int | None = None

    def actions(self) -> list[Action]:
        actions: list[Action] = []
        if self.spent:
            actions.append(ProjectItem.spent.add(self.spent))
        if self.committed:
            actions.append(ProjectItem.committed.add(self.committed))
            actions.append(ProjectItem.budget_left.set((ProjectItem.budget_left | 0) - self.committed))
        return actions

    def condition(self) -> Condition:
        condition = ProjectItem.pk.exists()
        if self.covers is not None:
            condition &= ProjectItem.budget.does_not_exist() | (ProjectItem.budget_left >= self.covers)
        return condition


class Refused(Exception):
    """The transaction was cancelled by a condition. ``failed`` maps each failed label to the old item
    DynamoDB returned for it (empty when it returned none)."""

    def __init__(self, failed: Mapping[str, dict[str, Any]], cause: TransactWriteError) -> None:
        super().__init__(f"refused: {', '.join(sorted(failed))}")
        self.failed = dict(failed)
        self.cause = cause

    def __contains__(self, label: str) -> bool:
        return label in self.failed


@dataclass
class PoolTransaction:
    """One atomic change of a tenant's records, built item by item, each under a label."""

    tenant_id: str
    token: str  # the ClientRequestToken: the same logical change sends the same token on every retry
    _checks: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    _puts: list[tuple[str, Model, Condition | None]] = field(default_factory=list)
    _updates: list[tuple[str, Model, list[Action], Condition | None, str | None]] = field(default_factory=list)
    _deletes: list[tuple[str, Model, Condition | None]] = field(default_factory=list)

    # the kernel's own items
    def pool(self, delta: PoolDelta) -> PoolTransaction:
        tenant = TenantItem(keys.tenant_pk(self.tenant_id), keys.TENANT_SK)
        self._updates.append((POOL, tenant, delta.actions(), delta.condition(), "ALL_OLD"))
        return self

    def budget(self, delta: BudgetDelta) -> PoolTransaction:
        project = ProjectItem(keys.tenant_pk(self.tenant_id), keys.project_sk(delta.project_id))
        actions = delta.actions()
        if actions or delta.covers is not None:
            self._updates.append((BUDGET, project, actions, delta.condition(), None))
        return self

    def entry(self, entry: LedgerEntry) -> PoolTransaction:
        """The ledger entry of the change: written once (its id is the change's identity)."""
        self._puts.append((ENTRY, ledger_item(entry), LedgerEntryItem.pk.does_not_exist()))
        return self

    def answer(self, scope: str, key: str, answer: StoredAnswer, now: int) -> PoolTransaction:
        """The first answer to an Idempotency-Key, written with the change it answers."""
        item = answer_item(self.tenant_id, scope, key, answer, now)
        self._puts.append((ANSWER, item, IdempotencyItem.pk.does_not_exist()))
        return self

    def event(self, event: Event) -> PoolTransaction:
        """An outbox event of the change, written with it (labels ``outbox``, ``outbox2``…). Its id is the
        change's identity: a duplicate refuses the transaction under the event's label."""
        if event.tenant_id != self.tenant_id:
            raise ValueError("an event belongs to the tenant whose records the transaction changes")

        taken = sum(1 for label, _, _ in self._puts if label.startswith(OUTBOX))
        label = OUTBOX if taken == 0 else f"{OUTBOX}{taken + 1}"
        self._puts.append((label, event_item(event), EventItem.pk.does_not_exist()))
        return self

    def new_lot(self, lot: Lot) -> PoolTransaction:
        self._puts.append((LOT, lot_item(lot), LotItem.pk.does_not_exist()))
        return self

    def lot(self, lot_id: str, actions: list[Action], condition: Condition) -> PoolTransaction:
        row = LotItem(keys.tenant_pk(self.tenant_id), keys.lot_sk(lot_id))
        self._updates.append((LOT, row, actions, LotItem.pk.exists() & condition, None))
        return self

    # the caller's items
    def check(self, label: str, model: type[Model], hash_key: str, range_key: str, condition: Condition) -> None:
        self._checks.append((label, (model, hash_key, range_key), {"condition": condition}))

    def put(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._puts.append((label, item, condition))

    def update(self, label: str, item: Model, actions: list[Action], condition: Condition | None = None) -> None:
        self._updates.append((label, item, actions, condition, None))

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._deletes.append((label, item, condition))

    def labels(self) -> list[str]:
        """The labels in the order DynamoDB sees the items (and reports cancellation reasons): pynamodb sends
        condition checks, then deletes, then puts, then updates, whatever order they were added in."""
        return (
            [c[0] for c in self._checks]
            + [d[0] for d in self._deletes]
            + [p[0] for p in self._puts]
            + [u[0] for u in self._updates]
        )

    def commit(self) -> None:
        """Send it (retrying throttling and conflicts with the same token). Raises ``Refused`` when a
        condition failed, ``StoreBusy`` when DynamoDB stayed busy; changes nothing when it raises."""
        labels = self.labels()
        if len(labels) != len(set(labels)):
            raise ValueError(f"each item of a transaction needs its own label: {labels}")

        def write() -> None:
            with TransactWrite(connection=shared_connection(), client_request_token=self.token) as tx:
                for _, (model, hash_key, range_key), kwargs in self._checks:
                    tx.condition_check(model, hash_key, range_key, **kwargs)
                for _, item, condition in self._puts:
                    tx.save(item, condition=condition)
                for _, item, actions, condition, returns in self._updates:
                    if returns is None:
                        tx.update(item, actions=actions, condition=condition)
                    else:
                        tx.update(item, actions=actions, condition=condition, return_values=returns)
                for _, item, condition in self._deletes:
                    tx.delete(item, condition=condition)

        try:
            with_retries(write)
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            reasons = list(exc.cancellation_reasons or [])
            failed: dict[str, dict[str, Any]] = {}
            for label, code, reason in zip(labels, codes, reasons, strict=False):
                if code == _FAILED:
                    failed[label] = (reason.raw_item if reason is not None else None) or {}
            if failed:
                raise Refused(failed, exc) from exc
            raise


def token(*parts: str) -> str:
    """A ClientRequestToken for one logical change (DynamoDB allows 36 characters)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:36]


def explain_pool(refused: Refused, amount: int, now: int, what: str = "this needs") -> None:
    """Raise the domain error that a refused spending condition on the pool means."""
    if POOL not in refused:
        return
    old = refused.failed[POOL]
    if not old:
        return
    if old.get("status", {}).get("S") != "active":
        raise TenantSuspended("this tenant is suspended; no tokens can be spent or held") from refused
    due = old.get("next_lot_expiry", {}).get("N")
    if due is not None and int(due) <= now:
        raise LotsDue() from refused
    available = old.get("available", {}).get("N", "0")
    raise InsufficientTokens(f"{what} {amount} tokens; the pool has {available} available") from refused


def explain_budget(refused: Refused, amount: int) -> None:
    if BUDGET in refused:
        raise ProjectBudgetExhausted(f"the project's budget does not cover {amount} more tokens") from refused
