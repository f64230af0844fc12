"""What every kind of hold (a lease, an allowance, an approved action's tokens) shares: who may keep or end
it, and how its lifecycle is driven (optimistic re-reads of a hold that changed under the write; the
sweeper's entry, which ends a hold past its end). Spending into a hold goes through the spending pipeline
(``tollgate.pool.service_spending``); ending one (a check-in, a final report, a cancellation, expiry) does
not: it is never refused and charges only what was used."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tollgate.core.errors import Forbidden, NotFound, StoreBusy
from tollgate.core.idempotency import Replayed, StoredAnswer, check_replay
from tollgate.core.models import Principal
from tollgate.core.roles import Role
from tollgate.pool.service_spending import Charge, Spend, Spending

T = TypeVar("T")
H = TypeVar("H")
HOLD_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
ATTEMPTS = 5  # optimistic re-reads when the hold changed between our read and our write


def may_keep(caller: Principal, holder: str, what: str) -> None:
    """Only the key that opened a hold keeps or ends it, or an owner or admin API key."""
    if caller.actor != holder and caller.role not in HOLD_MANAGERS:
        raise Forbidden(f"only the key that opened this {what}, or an owner or admin API key, may keep or end it")


def until_written(attempt: Callable[[], T | None], attempts: int = ATTEMPTS) -> T:
    """Run ``attempt`` (read the hold, decide, write conditioned on what was read) until it answers; None
    means the hold changed under the write: read it again. ``StoreBusy`` after ``attempts``."""
    for _ in range(attempts):
        done = attempt()
        if done is not None:
            return done
    raise StoreBusy()


def expire_if_due(
    read: Callable[[], H], due: Callable[[H, int], bool], end: Callable[[H, int], bool], now: Callable[[], int]
) -> bool:
    """The sweeper's entry for any hold: end it if it is still open and past its end. True if this call
    ended it; False if there was nothing to do (already ended, extended, or gone)."""

    def attempt() -> bool | None:
        try:
            hold = read()
        except NotFound:
            return False
        at = now()
        if not due(hold, at):
            return False
        return True if end(hold, at) else None

    return until_written(attempt)


def replayed_hold(
    stored: StoredAnswer, fingerprint: str, now: int, field: str, get: Callable[[str], H]
) -> tuple[int, H]:
    """The first answer to an opening's Idempotency-Key: its status and the hold it opened, as it is now."""
    check_replay(stored, fingerprint, now)
    return stored.status_code, get(str(stored.body[field]))


def open_hold(
    spending: Spending,
    caller: Principal,
    spend: Spend,
    price: Callable[[], Charge[tuple[int, H]]],
    stored: Callable[[], StoredAnswer | None],
    replay: Callable[[StoredAnswer], tuple[int, H]],
) -> tuple[int, H]:
    """Open a hold through the spending pipeline; a retry of its Idempotency-Key (``stored``) gets the first
    answer (``replay``), whether the pipeline refused it meanwhile or its write found the answer stored."""

    def replayed() -> tuple[int, H] | None:
        first = stored()
        return None if first is None else replay(first)

    try:
        return spending.spend(caller, spend, price, replayed)
    except Replayed as again:
        return replay(again.answer)
