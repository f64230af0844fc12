"""What a refused pool-kernel transaction means: the labels of the kernel's own items, ``Refused`` (the
failed labels with the old items DynamoDB returned), ``ReasonsMismatch`` (reasons that cannot be matched to
the items sent), and the domain errors a refused pool or budget condition stands for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import TransactWriteError

from tollgate.core.errors import InsufficientTokens, LotsDue, NotFound, ProjectBudgetExhausted, TenantSuspended

POOL, BUDGET, ENTRY, ANSWER, LOT, OUTBOX = "pool", "budget", "entry", "answer", "lot", "outbox"


class Refused(Exception):
    """The transaction was cancelled by a condition. ``failed`` maps each failed label to the old item
    DynamoDB returned for it (empty when it returned none)."""

    def __init__(self, failed: Mapping[str, dict[str, Any]], cause: TransactWriteError) -> None:
        super().__init__(f"refused: {', '.join(sorted(failed))}")
        self.failed = dict(failed)
        self.cause = cause

    def __contains__(self, label: str) -> bool:
        return label in self.failed


class ReasonsMismatch(RuntimeError):
    """DynamoDB cancelled the transaction but its reasons do not line up one-to-one with the items sent:
    no reason can be matched to a label, so none is guessed."""


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
    """A refused budget condition: no such project in this tenant (no old item: absent, or another
    tenant's id) is a 404; a budget that does not cover ``amount`` a 402."""
    if BUDGET in refused and not refused.failed[BUDGET]:
        raise NotFound("no such project") from refused
    if BUDGET in refused:
        raise ProjectBudgetExhausted(f"the project's budget does not cover {amount} more tokens") from refused
