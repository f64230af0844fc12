"""Refills with rollover (SPEC.md, "Budgets, top-ups and refills"): a recurring grant per UTC month, and the
part of the previous refill lot left unused carried over, capped. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.core import limits
from tollgate.core.errors import InvalidField


@dataclass(frozen=True)
class RefillPlan:
    tenant_id: str
    tokens: int
    rollover_percent: int
    rollover_cap: int
    created_at: int
    updated_by: str
    every: str = "month"
    last_period: int | None = None  # the UTC month start whose lots were given last
    last_lot_id: str | None = None  # that period's refill lot


def check_plan(tokens: int, every: str, rollover_percent: int, rollover_cap: int) -> None:
    if isinstance(tokens, bool) or not 1 <= tokens <= limits.MAX_TOKENS:
        raise InvalidField("tokens", f"an integer from 1 to {limits.MAX_TOKENS}")
    if every != "month":
        raise InvalidField("every", "month")
    if isinstance(rollover_percent, bool) or not 0 <= rollover_percent <= 100:
        raise InvalidField("rollover_percent", "an integer from 0 to 100")
    if isinstance(rollover_cap, bool) or not 0 <= rollover_cap <= limits.MAX_TOKENS:
        raise InvalidField("rollover_cap", f"an integer from 0 to {limits.MAX_TOKENS}")


def due(plan: RefillPlan, period: int) -> bool:
    """Whether the period starting at ``period`` still has to be given."""
    return plan.last_period is None or plan.last_period < period


def rollover(unused: int, percent: int, cap: int) -> int:
    """``percent`` of the previous refill lot's unused part (rounded down), at most ``cap``."""
    return max(0, min(cap, unused * percent // 100))
