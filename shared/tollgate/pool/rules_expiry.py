"""Expiring token lots past their end. Pure: which lot, how much leaves the pool, what ends next.

A lot past its end takes out of the pool what is left of it after allocating, in burn order (domain/lots.py),
both what was consumed and what running leases hold (``available`` = balance − reserved). Counting the
reservations as committed means an expiry never takes tokens a running lease holds: ``available`` never
goes below zero through expiry, and the lease's later charge never drives the balance negative. The price:
if such a lease is checked in early, the part of its reservation it releases outlives the lot (bounded by
that lease's reservation); see docs/leases.md.

Bookkeeping: expiring a lot with stored ``remaining`` R and leftover L removes R from the live lots' sum and
L from the balance, and stores ``remaining = R − L`` on the (now expired, no longer live) lot: what expiry
took back is L, as ``Lot.remaining`` is defined. The unallocated spend ``sum(remaining of live lots) −
balance`` therefore drops by exactly the consumption that the expired lot absorbed, R − L.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.core.models import Lot, Pool
from tollgate.pool.rules import allocate, next_expiry

LOT_EXPIRY_ACTOR = "system:lot-expiry"


@dataclass(frozen=True)
class LotExpiry:
    lot: Lot  # as stored before expiry
    leftover: int  # tokens that leave the pool
    next_lot_expiry: int | None  # the soonest end among the live lots that remain

    @property
    def remaining_after(self) -> int:
        return self.lot.remaining - self.leftover


def first_due(lots: Sequence[Lot], pool: Pool, now: int) -> LotExpiry | None:
    """The soonest live lot whose end is at or before ``now``, and what its expiry takes; None if none is due."""
    for view in allocate(lots, pool.available):
        lot = view.lot
        if lot.expires_at is not None and lot.expires_at <= now:
            rest = [other for other in lots if other.id != lot.id]
            return LotExpiry(lot=lot, leftover=max(0, view.left), next_lot_expiry=next_expiry(rest))
    return None
