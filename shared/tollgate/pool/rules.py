"""Which lot the tokens came out of. Pure.

Consumption debits only the pool (one write on the hot path); it is *allocated* to lots when read, in
order of soonest expiry (lots without an end last, older first among equals). A lot's stored
``remaining`` is what refunds and expiry have left of it; what consumption has taken is the pool's
unallocated spend, ``sum(remaining) - balance``, spread over the lots in burn order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.core.models import Lot

_NEVER = 2**62


def burn_order(lots: Sequence[Lot]) -> list[Lot]:
    """Soonest end first; among lots that end together a rollover before the rest (it burns before the
    refill lot it arrived with), then the oldest."""
    return sorted(lots, key=lambda lot: (lot.expires_at or _NEVER, lot.kind != "rollover", lot.created_at, lot.id))


@dataclass(frozen=True)
class LotView:
    lot: Lot
    left: int  # what is left of the lot after allocating consumption in burn order


def allocate(lots: Sequence[Lot], balance: int) -> list[LotView]:
    """Each live lot with what is left of it, given the pool's balance."""
    live = [lot for lot in burn_order(lots) if not lot.expired]
    spent = max(0, sum(lot.remaining for lot in live) - balance)
    views = []
    for lot in live:
        taken = min(spent, lot.remaining)
        spent -= taken
        views.append(LotView(lot, lot.remaining - taken))
    return views


def next_expiry(lots: Sequence[Lot]) -> int | None:
    ends = [lot.expires_at for lot in lots if not lot.expired and lot.expires_at is not None]
    return min(ends) if ends else None
