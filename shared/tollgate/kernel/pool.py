"""The pool kernel: the one place where a pool, a project budget, a hold or a lot changes.

Every writer (consumption, credits and grants, purchases, refunds and disputes, holds, lot expiry, the
sweeper, signup, suspension, a project's budget) describes WHAT changes through the typed operations of a
``PoolTransaction``: ``debit``, ``credit``, ``take_back``, ``adjust_down``; ``open_hold``, ``resize_hold``,
``settle_hold``; ``take_from_lot``, ``return_to_lot``, ``expire_lot``, ``set_soonest_lot_end``; ``create_pool``,
``set_status``; ``create_project``, ``set_budget``. The kernel computes and writes ``balance``, ``reserved``,
``available``, ``committed``, ``spent``, ``budget_left``, a lot's ``remaining`` and a hold's amount
(``tollgate.kernel.deltas``); ``put``/``update``/``delete`` refuse the items that carry them, so no caller
can write them (and ``tests/unit/test_kernel_owns_arithmetic.py`` checks the source). With them go the
ledger entry (``entry``: its amount must be the balance's change), the idempotency record, the outbox events
and any other item of the caller's (a purchase, a Stripe event mark) under a label of its own.

``commit()`` sends ONE TransactWriteItems whose item list the kernel builds itself, in the order the items
were added (each serialized as pynamodb would, then sent through the shared connection as one list), so
DynamoDB's cancellation reasons (one per item, in the order sent) are matched to labels by position in a
list the kernel owns. A cancellation whose reasons do not line up one-to-one with the items sent raises
``ReasonsMismatch`` instead of guessing. A matched cancellation becomes ``Refused`` with the labels that
failed and the old items DynamoDB returned; ``explain_pool`` and friends turn it into a domain error by label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.connection.base import BOTOCORE_EXCEPTIONS
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from tollgate.core.events import Event
from tollgate.core.idempotency import StoredAnswer
from tollgate.core.models import LedgerEntry, Lot, Pool
from tollgate.kernel import keys
from tollgate.kernel.connection import shared_connection
from tollgate.kernel.deltas import KEEP, BudgetDelta, PoolDelta
from tollgate.kernel.errors import with_retries
from tollgate.kernel.items import (
    ActionItem,
    AllowanceItem,
    EventItem,
    IdempotencyItem,
    LeaseItem,
    LedgerEntryItem,
    LotItem,
    ProjectItem,
    TenantItem,
)
from tollgate.kernel.records import answer_item, event_item, ledger_item, lot_item
from tollgate.kernel.refusals import (
    ANSWER,
    BUDGET,
    ENTRY,
    LOT,
    OUTBOX,
    POOL,
    ReasonsMismatch,
    Refused,
    explain_budget,
    explain_pool,
)

_FAILED = "ConditionalCheckFailed"
_CANCELLED = "TransactionCanceledException"

# A hold's amount, by the item that records the hold: the attribute the kernel writes.
HOLD_AMOUNT: Mapping[type[Model], str] = {LeaseItem: "reserved", AllowanceItem: "held", ActionItem: "held"}
# A lease's record keeps what it reserved once settled (the audit checks its charge against it); an allowance
# or an action that has ended holds 0.
KEEPS_AMOUNT: frozenset[type[Model]] = frozenset({LeaseItem})
# Items only the kernel's typed operations write (a caller may still name them in a condition check).
OWNED: frozenset[type[Model]] = frozenset({TenantItem, ProjectItem, LotItem, *HOLD_AMOUNT})

__all__ = [  # what callers name through ``kernel.``
    "ANSWER",
    "BUDGET",
    "ENTRY",
    "KEEP",
    "LOT",
    "OUTBOX",
    "POOL",
    "BudgetDelta",
    "PoolDelta",
    "PoolTransaction",
    "ReasonsMismatch",
    "Refused",
    "explain_budget",
    "explain_pool",
    "token",
]


@dataclass(frozen=True)
class _Item:
    label: str
    operation: str  # ConditionCheck, Put, Update or Delete: the key of the TransactItems entry
    request: dict[str, Any]


@dataclass
class PoolTransaction:
    """One atomic change of a tenant's records, built item by item, each under a label, sent in that order."""

    tenant_id: str
    token: str  # the ClientRequestToken: the same logical change sends the same token on every retry
    _items: list[_Item] = field(default_factory=list)
    _balance: int | None = None  # the pool's balance change, once the pool is in the transaction
    _entries: list[LedgerEntry] = field(default_factory=list)

    # ---- money: the pool's balance
    def debit(self, amount: int, *, now: int, project_id: str | None = None) -> PoolTransaction:
        """Spend ``amount``: the tenant must be active, ``available`` cover it and no lot be due at ``now``;
        the project's budget (if any) must cover it, and it counts as spent there."""
        self._pool(PoolDelta(balance=-amount, active=True, covers=amount, live_at=now))
        if project_id is not None:
            self._budget(BudgetDelta(project_id, committed=amount, spent=amount, covers=amount))
        return self

    def credit(self, amount: int, *, lot: Lot | None = None, soonest_end: int | None = None) -> PoolTransaction:
        """Add ``amount`` (and its lot, if any). When the lot ends sooner than every live lot it becomes the
        pool's ``next_lot_expiry``, conditioned on ``soonest_end`` (the end as read) being still in place, so
        two concurrent credits cannot leave a later end standing."""
        if amount <= 0:
            raise ValueError("a credit adds tokens")
        if lot is None or lot.expires_at is None:
            self._pool(PoolDelta(balance=amount))
        else:
            sooner = soonest_end is None or lot.expires_at < soonest_end
            ends = lot.expires_at if sooner else KEEP
            self._pool(PoolDelta(balance=amount, next_lot_expiry=ends, next_lot_expiry_was=soonest_end))
        if lot is not None:
            self._add(LOT, "Put", lot_item(lot), LotItem.pk.does_not_exist())
        return self

    def take_back(self, amount: int) -> PoolTransaction:
        """Take ``amount`` out of the balance whatever it leaves (a refund, a dispute, a negative adjustment;
        never refused)."""
        if amount <= 0:
            raise ValueError("a take-back removes tokens")
        return self._pool(PoolDelta(balance=-amount))

    def adjust_down(self, amount: int) -> PoolTransaction:
        """An operator's adjustment down by ``amount``: only out of what is ``available`` (never below zero,
        never the tokens that running holds keep), whatever the tenant's status; a refunded or disputed
        purchase (``take_back``) is what may leave a tenant owing, not an operator's hand."""
        if amount <= 0:
            raise ValueError("an adjustment down removes tokens")
        return self._pool(PoolDelta(balance=-amount, covers=amount))

    # ---- holds: a lease, an allowance or an action holding tokens
    def open_hold(
        self, label: str, item: Model, tokens: int, *, now: int, project_id: str | None = None
    ) -> PoolTransaction:
        """A new hold of ``tokens`` (the item is written only if absent): the tenant must be active,
        ``available`` and the project's budget must cover it, no lot be due."""
        absent = type(item).pk.does_not_exist()  # type: ignore[attr-defined]
        return self._hold(label, item, 0, tokens, 0, now, project_id, absent, None, False)

    def resize_hold(
        self,
        label: str,
        item: Model,
        *,
        was: int,
        to: int,
        used: int = 0,
        now: int,
        condition: Condition,
        project_id: str | None = None,
        actions: Sequence[Action] | None = None,
        active: bool = False,
    ) -> PoolTransaction:
        """An open hold that held ``was`` now holds ``to`` after ``used`` tokens were charged out of it. What
        it holds anew (``to − (was − used)``, if positive) is spending: tenant active, covered, no lot due.
        ``actions``: update the item (with them) instead of writing it whole; ``active``: the tenant must be
        active even when nothing grows."""
        return self._hold(label, item, was, to, used, now, project_id, condition, actions, active)

    def settle_hold(
        self,
        label: str,
        item: Model,
        *,
        held: int,
        used: int,
        condition: Condition,
        project_id: str | None = None,
        actions: Sequence[Action] | None = None,
        active: bool = False,
        now: int | None = None,
    ) -> PoolTransaction:
        """Close a hold of ``held`` tokens charging ``used`` of them; the rest goes back. Never refused for
        money (a suspended tenant's holds settle too) unless ``active`` (a spend out of the hold, such as a
        redemption: the tenant active and, given ``now``, no lot due). The item's amount becomes 0, or stays
        ``held`` for a lease (``KEEPS_AMOUNT``)."""
        if not 0 <= used <= held:
            raise ValueError(f"a settlement charges 0..{held} tokens, not {used}")
        recorded = held if type(item) in KEEPS_AMOUNT else 0
        return self._hold(label, item, held, 0, used, now, project_id, condition, actions, active, recorded)

    def _hold(
        self,
        label: str,
        item: Model,
        was: int,
        to: int,
        used: int,
        now: int | None,
        project_id: str | None,
        condition: Condition,
        actions: Sequence[Action] | None,
        active: bool,
        recorded: int | None = None,
    ) -> PoolTransaction:
        """The one hold change: ``was`` → ``to`` with ``used`` charged; the item records ``recorded`` (default
        ``to``)."""
        name = HOLD_AMOUNT.get(type(item))
        if name is None:
            raise TypeError(f"{type(item).__name__} is not a hold")
        if min(was, to, used) < 0:
            raise ValueError("a hold's amounts are never negative")
        amount = to if recorded is None else recorded
        if actions is None:
            setattr(item, name, amount)
            self._add(label, "Put", item, condition)
        else:
            self._add(label, "Update", item, condition, [*actions, getattr(type(item), name).set(amount)])
        if to - was == 0 and used == 0:
            return self
        grows = to - (was - used)
        spending = grows > 0 and now is not None
        covers = grows if spending else None
        live = spending or (active and now is not None)  # a spend, or a charge out of the hold: no lot due
        self._pool(
            PoolDelta(
                balance=-used,
                reserved=to - was,
                active=spending or active,
                covers=covers,
                live_at=now if live else None,
            )
        )
        if project_id is not None:
            self._budget(BudgetDelta(project_id, committed=to - was + used, spent=used, covers=covers))
        return self

    # ---- lots
    def take_from_lot(self, lot_id: str, tokens: int) -> PoolTransaction:
        """Lower a live lot's ``remaining`` by ``tokens`` (refused if it has less or has expired)."""
        live = (LotItem.expired == False) & (LotItem.remaining >= tokens)  # noqa: E712
        return self._lot(lot_id, [LotItem.remaining.add(-tokens)], live)

    def return_to_lot(self, lot_id: str, tokens: int) -> PoolTransaction:
        """Raise a live lot's ``remaining`` by ``tokens`` (a won dispute restores what it took)."""
        return self._lot(lot_id, [LotItem.remaining.add(tokens)], LotItem.expired == False)  # noqa: E712

    def expire_lot(
        self, lot: Lot, leftover: int, *, pool_as_read: Pool, next_lot_expiry: int | None
    ) -> PoolTransaction:
        """Expire ``lot`` (as read), taking ``leftover`` out of the pool (exactly as read) and storing what
        expiry took; the soonest end becomes ``next_lot_expiry``. Refused if the lot expired already."""
        self._pool(PoolDelta(balance=-leftover, as_read=pool_as_read, next_lot_expiry=next_lot_expiry))
        actions = [
            LotItem.expired.set(True),
            LotItem.remaining.set(lot.remaining - leftover),
            LotItem.expired_tokens.set(leftover),  # E of the purchase's take-back rule
            LotItem.due_shard.remove(),
            LotItem.due_at.remove(),
        ]
        return self._lot(lot.id, actions, LotItem.expired.does_not_exist() | (LotItem.expired == False))  # noqa: E712

    def set_soonest_lot_end(self, pool_as_read: Pool, end: int | None) -> PoolTransaction:
        """Repair the pool's ``next_lot_expiry`` (the pool must be exactly as read)."""
        return self._pool(PoolDelta(as_read=pool_as_read, next_lot_expiry=end))

    def _lot(self, lot_id: str, actions: Sequence[Action], condition: Condition) -> PoolTransaction:
        row = LotItem(keys.tenant_pk(self.tenant_id), keys.lot_sk(lot_id))
        return self._add(LOT, "Update", row, LotItem.pk.exists() & condition, list(actions))

    # ---- the tenant and its projects
    def create_pool(self, tenant: TenantItem, status: str) -> PoolTransaction:
        """The tenant's item with an empty pool and its first status, written only if absent (label ``pool``)."""
        tenant.balance, tenant.reserved, tenant.available, tenant.status = 0, 0, 0, status
        return self._add(POOL, "Put", tenant, TenantItem.pk.does_not_exist())

    def set_status(self, status: str) -> PoolTransaction:
        """The tenant's status (``active`` is what spending requires); refused if there is no tenant."""
        row = TenantItem(keys.tenant_pk(self.tenant_id), keys.TENANT_SK)
        return self._add(POOL, "Update", row, TenantItem.pk.exists(), [TenantItem.status.set(status)])

    def create_project(self, project: ProjectItem, budget: int | None) -> PoolTransaction:
        """A new project (written only if absent) with nothing spent or held: its whole budget is left."""
        project.budget, project.spent, project.committed, project.budget_left = budget, 0, 0, budget
        return self._add(BUDGET, "Put", project, ProjectItem.pk.does_not_exist())

    def require_project(self, project_id: str) -> PoolTransaction:
        """The project must exist (a change that names one but holds nothing of its budget): refused under
        ``budget`` with no old item otherwise, which ``explain_budget`` answers 404."""
        request = ProjectItem.get_operation_kwargs_from_class(
            keys.tenant_pk(self.tenant_id),
            range_key=keys.project_sk(project_id),
            condition=ProjectItem.pk.exists(),
        )
        request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._items.append(_Item(BUDGET, "ConditionCheck", request))
        return self

    def set_budget(self, project_id: str, limit: int | None, *, actions: Sequence[Action] = ()) -> PoolTransaction:
        """A project's budget (``None``: no budget); ``budget_left`` follows atomically from what is spent
        or held at this instant. ``actions``: the project's other attributes changed with it."""
        for action in actions:
            _not_owned(action)
        changes = list(actions)
        if limit is None:
            changes += [ProjectItem.budget.remove(), ProjectItem.budget_left.remove()]
        else:
            changes += [ProjectItem.budget.set(limit), ProjectItem.budget_left.set(limit - (ProjectItem.committed | 0))]
        row = ProjectItem(keys.tenant_pk(self.tenant_id), keys.project_sk(project_id))
        return self._add(BUDGET, "Update", row, ProjectItem.pk.exists(), changes)

    # ---- the records of the change
    def entry(self, entry: LedgerEntry) -> PoolTransaction:
        """The ledger entry of the change: written once (its id is the change's identity). Its amount must
        be what the change does to the balance (checked at commit)."""
        self._entries.append(entry)
        return self._add(ENTRY, "Put", ledger_item(entry), LedgerEntryItem.pk.does_not_exist())

    def answer(self, scope: str, key: str, answer: StoredAnswer, now: int) -> PoolTransaction:
        """The first answer to an Idempotency-Key, written with the change it answers."""
        item = answer_item(self.tenant_id, scope, key, answer, now)
        return self._add(ANSWER, "Put", item, IdempotencyItem.pk.does_not_exist())

    def event(self, event: Event) -> PoolTransaction:
        """An outbox event of the change, written with it (labels ``outbox``, ``outbox2``…). Its id is the
        change's identity: a duplicate refuses the transaction under the event's label."""
        if event.tenant_id != self.tenant_id:
            raise ValueError("an event belongs to the tenant whose records the transaction changes")

        taken = sum(1 for item in self._items if item.label.startswith(OUTBOX))
        label = OUTBOX if taken == 0 else f"{OUTBOX}{taken + 1}"
        return self._add(label, "Put", event_item(event), EventItem.pk.does_not_exist())

    # ---- the caller's items (never one the kernel owns)
    def check(self, label: str, model: type[Model], hash_key: str, range_key: str, condition: Condition) -> None:
        request = model.get_operation_kwargs_from_class(hash_key, range_key=range_key, condition=condition)
        self._items.append(_Item(label, "ConditionCheck", request))

    def put(self, label: str, item: Model, condition: Condition | None = None) -> None:
        _caller_item(item)
        self._add(label, "Put", item, condition)

    def update(self, label: str, item: Model, actions: list[Action], condition: Condition | None = None) -> None:
        _caller_item(item)
        self._add(label, "Update", item, condition, actions)

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        _caller_item(item)
        self._add(label, "Delete", item, condition)

    # ---- building and sending
    def _pool(self, delta: PoolDelta) -> PoolTransaction:
        tenant = TenantItem(keys.tenant_pk(self.tenant_id), keys.TENANT_SK)
        self._balance = (self._balance or 0) + delta.balance
        return self._add(POOL, "Update", tenant, delta.condition(), delta.actions(), returns="ALL_OLD")

    def _budget(self, delta: BudgetDelta) -> PoolTransaction:
        project = ProjectItem(keys.tenant_pk(self.tenant_id), keys.project_sk(delta.project_id))
        actions = delta.actions()
        if actions or delta.covers is not None:
            self._add(BUDGET, "Update", project, delta.condition(), actions, returns="ALL_OLD")
        return self

    def _add(
        self,
        label: str,
        operation: str,
        item: Model,
        condition: Condition | None,
        actions: list[Action] | None = None,
        returns: str | None = None,
    ) -> PoolTransaction:
        if operation == "Put":
            request = item.get_save_kwargs_from_instance(
                condition=condition, return_values_on_condition_failure=returns
            )
        elif operation == "Update":
            request = item.get_update_kwargs_from_instance(
                actions=actions or [], condition=condition, return_values_on_condition_failure=returns
            )
        else:
            request = item.get_delete_kwargs_from_instance(condition=condition)
        self._items.append(_Item(label, operation, request))
        return self

    def labels(self) -> list[str]:
        """The labels in the order the items are sent (and DynamoDB reports cancellation reasons)."""
        return [item.label for item in self._items]

    def request(self) -> dict[str, Any]:
        """The TransactWriteItems request, items in the order they were added."""
        labels = self.labels()
        if len(labels) != len(set(labels)):
            raise ValueError(f"each item of a transaction needs its own label: {labels}")
        if self._balance and not self._entries:
            raise ValueError("a change of the balance is written with its ledger entry")
        if sum(entry.amount for entry in self._entries) != (self._balance or 0):
            raise ValueError("the ledger entries of a change must sum to what it does to the balance")
        items = [{item.operation: item.request} for item in self._items]
        return {"TransactItems": items, "ClientRequestToken": self.token}

    def commit(self) -> None:
        """Send it (retrying throttling and conflicts with the same token). Raises ``Refused`` when a
        condition failed, ``StoreBusy`` when DynamoDB stayed busy; changes nothing when it raises."""
        request = self.request()

        def write() -> None:
            try:
                shared_connection().dispatch("TransactWriteItems", request)
            except BOTOCORE_EXCEPTIONS as exc:
                raise TransactWriteError("Failed to write transaction items", exc) from exc

        try:
            with_retries(write)
        except TransactWriteError as exc:
            failed = self.failures(exc)
            if failed:
                raise Refused(failed, exc) from exc
            raise

    def failures(self, exc: TransactWriteError) -> dict[str, dict[str, Any]]:
        """The labels whose condition failed, each with the old item DynamoDB returned. Strict: a
        cancellation must carry exactly one reason per item sent, else ``ReasonsMismatch``."""
        if exc.cause_response_code != _CANCELLED:
            return {}
        reasons = list(exc.cancellation_reasons or [])
        if len(reasons) != len(self._items):
            raise ReasonsMismatch(
                f"DynamoDB gave {len(reasons)} cancellation reasons for {len(self._items)} items: {self.labels()}"
            ) from exc
        failed: dict[str, dict[str, Any]] = {}
        for item, reason in zip(self._items, reasons, strict=True):
            if reason is not None and reason.code == _FAILED:
                failed[item.label] = reason.raw_item or {}
        return failed


def _caller_item(item: Model) -> None:
    if type(item) in OWNED:
        raise TypeError(f"{type(item).__name__} is written only by the pool kernel's typed operations")


def _not_owned(action: Action) -> None:
    path = action.values[0]
    if str(path) in {"budget", "budget_left", "committed", "spent"}:
        raise ValueError(f"{path} is written only by the pool kernel")


def token(*parts: str) -> str:
    """A ClientRequestToken for one logical change (DynamoDB allows 36 characters)."""
    return hashlib.sha256("|".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:36]
