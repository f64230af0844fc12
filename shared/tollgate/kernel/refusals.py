"""What a refused pool-kernel transaction means: the labels of the kernel's own items, ``Refused`` (the
failed labels with the old items DynamoDB returned), ``ReasonsMismatch`` (reasons that cannot be matched to
the items sent), and the domain errors a refused pool or budget condition stands for.

A refusal by a budget level names the level: DynamoDB's cancellation reasons tell which conditions failed
(the tenant's level shares the pool's item and label), and the levels are then read to explain it, so that
when several would refuse the one with the least ``left`` is named (SPEC.md, "Budgets, top-ups and
refills"). A monthly level whose period is over counts as reset (it is, when the kernel sends again)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from tollgate.core.errors import (
    BudgetExhausted,
    EnvironmentBudgetExhausted,
    InsufficientTokens,
    KeyBudgetExhausted,
    LotsDue,
    ProjectBudgetExhausted,
    TenantBudgetExhausted,
    TenantSuspended,
)
from tollgate.kernel import keys
from tollgate.kernel.errors import busy_as_store_busy

POOL, BUDGET, ENTRY, ANSWER, LOT, OUTBOX = "pool", "budget", "entry", "answer", "lot", "outbox"
ENVIRONMENT_BUDGET, KEY_BUDGET = "budget:environment", "budget:key"
_EXHAUSTED: dict[str, type[BudgetExhausted]] = {
    "tenant": TenantBudgetExhausted,
    "project": ProjectBudgetExhausted,
    "environment": EnvironmentBudgetExhausted,
    "key": KeyBudgetExhausted,
}


class Level(NamedTuple):
    """A budget level charged in a transaction: its label there, scope string, item class and sort key."""

    label: str
    scope: str
    model: Any
    sk: str


class Refused(Exception):
    """The transaction was cancelled by a condition. ``failed`` maps each failed label to the old item
    DynamoDB returned for it (empty when it returned none); ``levels`` the budget levels it charged."""

    def __init__(
        self,
        failed: Mapping[str, dict[str, Any]],
        cause: TransactWriteError,
        levels: Mapping[str, Level] | None = None,
        tenant_id: str = "",
    ) -> None:
        super().__init__(f"refused: {', '.join(sorted(failed))}")
        self.failed = dict(failed)
        self.cause = cause
        self.levels = dict(levels or {})
        self.tenant_id = tenant_id

    def __contains__(self, label: str) -> bool:
        return label in self.failed


class ReasonsMismatch(RuntimeError):
    """DynamoDB cancelled the transaction but its reasons do not line up one-to-one with the items sent:
    no reason can be matched to a label, so none is guessed."""


def _number(raw: Mapping[str, Any], name: str) -> int | None:
    value = raw.get(name, {}).get("N")
    return None if value is None else int(value)


def left_of(raw: Mapping[str, Any], month: int | None) -> int | None:
    """A level's ``left`` as stored (None: no limit); a monthly level whose period ended before ``month``
    counts as reset: only what its holds keep stays committed."""
    budget = _number(raw, "budget")
    if budget is None:
        return None
    start = _number(raw, "period_start")
    if month is not None and raw.get("period", {}).get("S") == "month" and start is not None and start < month:
        return budget - ((_number(raw, "committed") or 0) - (_number(raw, "spent") or 0))
    left = _number(raw, "budget_left")
    return budget - (_number(raw, "committed") or 0) if left is None else left


def stale_levels(refused: Refused, month: int | None) -> list[tuple[Level, dict[str, Any]]]:
    """The refused levels that are monthly and still in a month before ``month`` (to reset, then resend)."""
    if month is None:
        return []
    stale = []
    for label, old in refused.failed.items():
        level = refused.levels.get(label)
        start = _number(old, "period_start")
        if level is not None and old.get("period", {}).get("S") == "month" and start is not None and start < month:
            stale.append((level, old))
    return stale


def roll_period(tenant_id: str, level: Level, old: Mapping[str, Any], month: int) -> None:
    """Reset a monthly level into ``month`` (when read, never by a scan): nothing used, what holds keep stays
    committed. Conditioned on the level being exactly as read: a concurrent reset or change wins and the
    caller's resend reads the outcome."""
    model = level.model
    spent, committed = _number(old, "spent") or 0, _number(old, "committed") or 0
    held = committed - spent
    actions = [model.period_start.set(month), model.spent.set(0), model.committed.set(held)]
    budget = _number(old, "budget")
    if budget is not None:
        actions.append(model.budget_left.set(budget - held))
    unchanged = (model.period_start == _number(old, "period_start")) & (model.committed == committed)
    unchanged &= model.spent == spent if "spent" in old else model.spent.does_not_exist()
    item = model(keys.tenant_pk(tenant_id), level.sk)
    try:
        with busy_as_store_busy():
            item.update(actions=actions, condition=unchanged)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise  # else a concurrent writer moved it first: the resend decides


def _tenant_budget_refused(old: Mapping[str, Any], amount: int, month: int | None) -> bool:
    left = left_of(old, month)
    return left is not None and left < amount


def explain_pool(refused: Refused, amount: int, now: int, what: str = "this needs") -> None:
    """Raise the domain error that a refused spending condition on the pool means (a refusal by the
    tenant's own budget level, on the same item, is left to ``explain_budget``)."""
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
    available = int(old.get("available", {}).get("N", "0"))
    overdraft = _number(old, "overdraft")
    covered = available >= amount if overdraft is None else (_number(old, "spendable") or 0) >= amount
    if covered and POOL in refused.levels and _tenant_budget_refused(old, amount, None):
        return
    floor = "" if not overdraft else f" (and an overdraft of {overdraft})"
    raise InsufficientTokens(f"{what} {amount} tokens; the pool has {available} available{floor}") from refused


def explain_budget(refused: Refused, amount: int) -> None:
    """Raise the refusal of the budget level with the least ``left`` among those that do not cover
    ``amount`` (read again: a cancellation may report only some of the conditions that failed)."""
    if not any(level in refused for level in refused.levels):
        return
    worst: tuple[int, str] | None = None
    for level in refused.levels.values():
        try:
            with busy_as_store_busy():
                item = level.model.get(keys.tenant_pk(refused.tenant_id), level.sk, consistent_read=True)
        except DoesNotExist:
            continue
        raw = {name: {"N": str(value)} for name, value in _numbers(item).items()}
        if getattr(item, "period", None) == "month":
            raw["period"] = {"S": "month"}
        left = left_of(raw, None)
        if left is not None and left < amount and (worst is None or left < worst[0]):
            worst = (left, level.scope)
    if worst is None:  # every level covers it now: name the first that refused, as it stood then
        for label, old in refused.failed.items():
            failed = refused.levels.get(label)
            left = None if failed is None else left_of(old, None)
            if failed is not None and left is not None and left < amount:
                worst = (left, failed.scope)
                break
    if worst is not None:
        left, scope = worst
        raise _EXHAUSTED[scope.split(":", 1)[0]](scope, amount, left) from refused


def _numbers(item: Any) -> dict[str, int]:
    names = ("budget", "budget_left", "committed", "spent", "period_start")
    return {name: int(getattr(item, name)) for name in names if getattr(item, name, None) is not None}
