"""The pool kernel: the one place where a pool, a project budget, a hold or a lot changes.

Every writer (consumption, credits and grants, purchases, refunds and disputes, holds, lot expiry, the
sweeper, signup, suspension, a project's budget) describes WHAT changes through the typed operations of a
``PoolTransaction``: ``debit``, ``credit``, ``take_back``; ``open_hold``, ``resize_hold``, ``settle_hold``;
``take_from_lot``, ``return_to_lot``, ``expire_lot``, ``set_soonest_lot_end``; ``create_pool``,
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

from tollgate.core.budgets import NO_LEVELS, TENANT_SCOPE, Levels, month_start, project_scope
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
    BudgetItem,
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
    ENVIRONMENT_BUDGET,
    KEY_BUDGET,
    LOT,
    OUTBOX,
    POOL,
    Level,
    ReasonsMismatch,
    Refused,
    explain_budget,
    explain_pool,
    roll_period,
    stale_levels,
)

_FAILED = "ConditionalCheckFailed"
_CANCELLED = "TransactionCanceledException"

# A hold's amount, by the item that records the hold: the attribute the kernel writes.
HOLD_AMOUNT: Mapping[type[Model], str] = {LeaseItem: "reserved", AllowanceItem: "held", ActionItem: "held"}
# A lease's record keeps what it reserved once settled (the audit checks its charge against it); an allowance
# or an action that has ended holds 0.
KEEPS_AMOUNT: frozenset[type[Model]] = frozenset({LeaseItem})
# Items only the kernel's typed operations write (a caller may still name them in a condition check).
OWNED: frozenset[type[Model]] = frozenset({TenantItem, ProjectItem, BudgetItem, LotItem, *HOLD_AMOUNT})
_PERIOD_RESETS = 3  # a refusal by a level whose month is over: reset it (when read) and send again, this often

__all__ = [  # what callers name through ``kernel.``
    "ANSWER",
    "BUDGET",
    "ENTRY",
    "KEEP",
    "LOT",
    "NO_LEVELS",
    "OUTBOX",
    "POOL",
    "BudgetDelta",
    "Levels",
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
    _levels: dict[str, Level] = field(default_factory=dict)  # the budget levels charged, by label
    _month: int | None = None  # the UTC month a spend's monthly levels must be in

    # ---- money: the pool's balance
    def debit(self, amount: int, *, now: int, levels: Levels = NO_LEVELS) -> PoolTransaction:
        """Spend ``amount``: the tenant must be active, ``available`` (down to −overdraft) cover it and no lot
        be due at ``now``; every budget level that applies (the tenant's, and the project, environment and
        license key of ``levels``) must cover it, and it counts as spent at each."""
        budget = self._spend_budget(amount, amount, amount, now)
        self._pool(PoolDelta(balance=-amount, active=True, covers=amount, live_at=now, budget=budget))
        return self._budgets(levels, budget)

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

    def credit_lots(self, lots: Sequence[Lot], *, soonest_end: int | None) -> PoolTransaction:
        """Add several lots at once (a refill and its rollover) in one change of the pool, each lot written
        only if absent (labels ``lot``, ``lot2``…); the soonest end as ``credit`` keeps it."""
        amount = sum(lot.tokens for lot in lots)
        if not lots or amount <= 0 or any(lot.tokens <= 0 for lot in lots):
            raise ValueError("a credit adds tokens")
        ends = [lot.expires_at for lot in lots if lot.expires_at is not None]
        end = min(ends, default=None)
        if end is None:
            self._pool(PoolDelta(balance=amount))
        else:
            sooner = soonest_end is None or end < soonest_end
            self._pool(
                PoolDelta(balance=amount, next_lot_expiry=end if sooner else KEEP, next_lot_expiry_was=soonest_end)
            )
        for number, lot in enumerate(lots, start=1):
            label = LOT if number == 1 else f"{LOT}{number}"
            self._add(label, "Put", lot_item(lot), LotItem.pk.does_not_exist())
        return self

    def take_back(self, amount: int) -> PoolTransaction:
        """Take ``amount`` out of the balance whatever it leaves (a refund, a dispute, a negative adjustment;
        never refused)."""
        if amount <= 0:
            raise ValueError("a take-back removes tokens")
        return self._pool(PoolDelta(balance=-amount))

    # ---- holds: a lease, an allowance or an action holding tokens
    def open_hold(
        self, label: str, item: Model, tokens: int, *, now: int, levels: Levels = NO_LEVELS
    ) -> PoolTransaction:
        """A new hold of ``tokens`` (the item is written only if absent): the tenant must be active,
        ``available`` and every budget level must cover it, no lot be due."""
        absent = type(item).pk.does_not_exist()  # type: ignore[attr-defined]
        return self._hold(label, item, 0, tokens, 0, now, levels, absent, None, False)

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
        levels: Levels = NO_LEVELS,
        actions: Sequence[Action] | None = None,
        active: bool = False,
    ) -> PoolTransaction:
        """An open hold that held ``was`` now holds ``to`` after ``used`` tokens were charged out of it. What
        it holds anew (``to − (was − used)``, if positive) is spending: tenant active, covered, no lot due.
        ``actions``: update the item (with them) instead of writing it whole; ``active``: the tenant must be
        active even when nothing grows."""
        return self._hold(label, item, was, to, used, now, levels, condition, actions, active)

    def settle_hold(
        self,
        label: str,
        item: Model,
        *,
        held: int,
        used: int,
        condition: Condition,
        levels: Levels = NO_LEVELS,
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
        return self._hold(label, item, held, 0, used, now, levels, condition, actions, active, recorded)

    def _hold(
        self,
        label: str,
        item: Model,
        was: int,
        to: int,
        used: int,
        now: int | None,
        levels: Levels,
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
        budget = self._spend_budget(to - was + used, used, covers, now if spending else None)
        self._pool(
            PoolDelta(
                balance=-used,
                reserved=to - was,
                active=spending or active,
                covers=covers,
                live_at=now if live else None,
                budget=budget,
            )
        )
        return self._budgets(levels, budget)

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

    def set_budget(
        self,
        project_id: str,
        limit: int | None,
        *,
        actions: Sequence[Action] = (),
        monthly: bool = False,
        now: int | None = None,
    ) -> PoolTransaction:
        """A project's budget (``None``: no budget); ``budget_left`` follows atomically from what is spent
        or held at this instant. ``actions``: the project's other attributes changed with it. ``monthly``:
        the budget's period is the UTC month of ``now`` (else none)."""
        for action in actions:
            _not_owned(action)
        changes = list(actions) + _limit_actions(ProjectItem, limit, monthly, now)
        row = ProjectItem(keys.tenant_pk(self.tenant_id), keys.project_sk(project_id))
        return self._add(BUDGET, "Update", row, ProjectItem.pk.exists(), changes)

    def set_level_budget(self, scope: str, limit: int | None, *, monthly: bool, now: int) -> PoolTransaction:
        """The budget of the tenant (``scope`` ``tenant``, on its pool item), an environment or a license key
        (``None``: none). The level's counters stay; ``budget_left`` follows from what it has committed."""
        changes = _limit_actions(BudgetItem, limit, monthly, now)
        if scope == TENANT_SCOPE:
            row: Model = TenantItem(keys.tenant_pk(self.tenant_id), keys.TENANT_SK)
            changes = _limit_actions(TenantItem, limit, monthly, now)
            return self._add(POOL, "Update", row, TenantItem.pk.exists(), changes)
        row = BudgetItem(keys.tenant_pk(self.tenant_id), keys.budget_sk(scope))
        return self._add(BUDGET, "Update", row, None, [*changes, BudgetItem.scope.set(scope)])

    def set_overdraft(self, tokens: int) -> PoolTransaction:
        """How far below zero consumption may take ``available`` (0: not at all); ``spendable`` follows."""
        if tokens < 0:
            raise ValueError("an overdraft is a number of tokens, 0 or more")
        row = TenantItem(keys.tenant_pk(self.tenant_id), keys.TENANT_SK)
        changes: list[Action] = [
            TenantItem.overdraft.set(tokens),
            TenantItem.spendable.set(TenantItem.available + tokens),
        ]
        return self._add(POOL, "Update", row, TenantItem.pk.exists(), changes)

    # ---- the records of the change
    def entry(self, entry: LedgerEntry) -> PoolTransaction:
        """The ledger entry of the change: written once (its id is the change's identity). Its amount must
        be what the change does to the balance (checked at commit)."""
        self._entries.append(entry)
        label = ENTRY if len(self._entries) == 1 else f"{ENTRY}{len(self._entries)}"
        return self._add(label, "Put", ledger_item(entry), LedgerEntryItem.pk.does_not_exist())

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

    def _spend_budget(self, committed: int, spent: int, covers: int | None, now: int | None) -> BudgetDelta | None:
        """The change every budget level of a spend or hold gets; ``now`` given: a spend, in its month."""
        month = None if now is None else month_start(now)
        if month is not None:
            self._month = month
        delta = BudgetDelta(committed=committed, spent=spent, covers=covers, month=month)
        if delta.changes:
            self._levels[POOL] = Level(POOL, TENANT_SCOPE, TenantItem, keys.TENANT_SK)
            return delta
        return None

    def _budgets(self, levels: Levels, delta: BudgetDelta | None) -> PoolTransaction:
        """Charge ``delta`` to the project, environment and license-key levels of ``levels`` (the tenant's
        level went with the pool). A project must exist; an environment's or a key's level is created by its
        first charge (its counters run whether or not a limit is set)."""
        if delta is None:
            return self
        pk = keys.tenant_pk(self.tenant_id)
        charged: list[Level] = []
        if levels.project_id is not None:
            charged.append(
                Level(BUDGET, project_scope(levels.project_id), ProjectItem, keys.project_sk(levels.project_id))
            )
        for label, scope in ((ENVIRONMENT_BUDGET, levels.environment_scope), (KEY_BUDGET, levels.key_scope)):
            if scope is not None:
                charged.append(Level(label, scope, BudgetItem, keys.budget_sk(scope)))
        for level in charged:
            self._levels[level.label] = level
            condition = delta.condition(level.model)
            actions = delta.actions(level.model)
            if level.model is ProjectItem:
                condition = ProjectItem.pk.exists() if condition is None else ProjectItem.pk.exists() & condition
            else:
                actions.append(BudgetItem.scope.set(level.scope))
            self._add(level.label, "Update", level.model(pk, level.sk), condition, actions, returns="ALL_OLD")
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

        for attempt in range(_PERIOD_RESETS + 1):
            try:
                with_retries(write)
                return
            except TransactWriteError as exc:
                failed = self.failures(exc)
                if not failed:
                    raise
                refused = Refused(failed, exc, self._levels, self.tenant_id)
                stale = stale_levels(refused, self._month)
                if not stale or attempt == _PERIOD_RESETS:
                    raise refused from exc
                for level, old in stale:  # a monthly level read in a later month resets, then the change again
                    roll_period(self.tenant_id, level, old, self._month or 0)

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
    if str(path) in {"budget", "budget_left", "committed", "spent", "period", "period_start"}:
        raise ValueError(f"{path} is written only by the pool kernel")


def _limit_actions(model: Any, limit: int | None, monthly: bool, now: int | None) -> list[Action]:
    """A level's limit and period set (or removed); ``budget_left`` from what the level has committed."""
    if limit is None:
        return [model.budget.remove(), model.budget_left.remove(), model.period.remove(), model.period_start.remove()]
    changes = [model.budget.set(limit), model.budget_left.set(limit - (model.committed | 0))]
    if monthly:
        if now is None:
            raise ValueError("a monthly budget starts in the month of now")
        # a level already counting a month keeps it (an older one resets when read)
        changes += [model.period.set("month"), model.period_start.set(model.period_start | month_start(now))]
    else:
        changes += [model.period.remove(), model.period_start.remove()]
    return changes


def token(*parts: str) -> str:
    """A ClientRequestToken for one logical change (DynamoDB allows 36 characters)."""
    return hashlib.sha256("|".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:36]


def reset_when_read(tenant_id: str, scope: str, item: Model, now: int) -> bool:
    """A monthly budget level read in a later month than its period is reset into ``now``'s month (by one
    conditional write: a budget resets when read, never by a scan). True if it was over (read it again)."""
    month = month_start(now)
    start = getattr(item, "period_start", None)
    if getattr(item, "period", None) != "month" or start is None or int(start) >= month:
        return False
    raw: dict[str, Any] = {"period": {"S": "month"}}
    for name in ("budget", "spent", "committed", "period_start"):
        value = getattr(item, name, None)
        if value is not None:
            raw[name] = {"N": str(int(value))}
    roll_period(tenant_id, Level("", scope, type(item), str(item.sk)), raw, month)  # type: ignore[attr-defined]
    return True
