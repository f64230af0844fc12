"""Reports to the tenant: usage over a range, the forecast, and what became of one purchase's tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tollgate.core.clock import Clock
from tollgate.core.errors import NotFound
from tollgate.core.models import Lot, Pool, Principal, Project
from tollgate.pool.rules import allocate
from tollgate.purchases.rules_records import Purchase
from tollgate.purchases.rules_take_back import expired_of_lot
from tollgate.reports.rules import (
    DayRange,
    UsageLine,
    UsageReport,
    day_of,
    day_range,
    parse_granularity,
    parse_group_by,
    report,
)
from tollgate.reports.rules_forecast import Forecast, first_day_of_window, forecast


class UsageRepository(Protocol):
    def lines(self, tenant_id: str, within: DayRange) -> list[UsageLine]: ...


class PoolReader(Protocol):
    def pool(self, tenant_id: str) -> Pool: ...

    def lots(self, tenant_id: str) -> list[Lot]: ...


class ProjectReader(Protocol):
    def list(self, tenant_id: str) -> list[Project]: ...


class PurchaseReader(Protocol):
    def get(self, caller: Principal, purchase_id: str) -> Purchase: ...


@dataclass(frozen=True)
class PurchaseUsage:
    """What became of one procurement ticket's tokens. ``consumed`` is what was spent from its lot (burn
    order) and not taken back: ``tokens = consumed + expired + taken_back + remaining`` unless a take-back
    reached tokens already spent (then the tenant owes them, and the balance shows it)."""

    purchase: Purchase
    tokens: int
    consumed: int
    expired: int
    taken_back: int
    remaining: int
    lots: list[str]


class ReportService:
    def __init__(
        self,
        usage: UsageRepository,
        pools: PoolReader,
        projects: ProjectReader,
        purchases: PurchaseReader,
        clock: Clock,
    ) -> None:
        self._usage = usage
        self._pools = pools
        self._projects = projects
        self._purchases = purchases
        self._clock = clock

    def usage(
        self,
        caller: Principal,
        first: str | None,
        last: str | None,
        granularity: str | None,
        group_by: str | None,
    ) -> UsageReport:
        within = day_range(first, last, self._clock.now())
        grain, dimensions = parse_granularity(granularity), parse_group_by(group_by)
        return report(self._usage.lines(caller.tenant_id, within), within, grain, dimensions)

    def forecast(self, caller: Principal) -> Forecast:
        return self.forecast_of(caller.tenant_id, caller.tenant.created_at)

    def forecast_of(self, tenant_id: str, created_at: int) -> Forecast:
        """The forecast, for the alert evaluator (no caller: the system's own read)."""
        now = self._clock.now()
        lines = self._usage.lines(tenant_id, DayRange(first_day_of_window(now), day_of(now)))
        per_day: dict[str, int] = {}
        per_project: dict[str, dict[str, int]] = {}
        for line in lines:
            per_day[line.day] = per_day.get(line.day, 0) + line.tokens
            if line.project_id is not None:
                days = per_project.setdefault(line.project_id, {})
                days[line.day] = days.get(line.day, 0) + line.tokens
        pool = self._pools.pool(tenant_id)
        views = allocate(self._pools.lots(tenant_id), pool.balance)
        projects = [p for p in self._projects.list(tenant_id) if p.budget is not None]
        return forecast(
            now,
            created_at,
            per_day,
            pool.available,
            pool.reserved,
            views,
            projects,
            per_project,
        )

    def purchase_usage(self, caller: Principal, purchase_id: str) -> PurchaseUsage:
        purchase = self._purchases.get(caller, purchase_id)  # 404 for an unknown id or another tenant's
        if purchase.tenant_id != caller.tenant_id:
            raise NotFound("no such purchase")
        every_lot = self._pools.lots(caller.tenant_id)
        lots = [lot for lot in every_lot if lot.purchase_id == purchase.id]
        if not purchase.credited and not lots:
            return PurchaseUsage(purchase, purchase.tokens, 0, 0, 0, 0, [])
        pool = self._pools.pool(caller.tenant_id)
        left = {view.lot.id: view.left for view in allocate(every_lot, pool.balance)}
        expired = sum(
            expired_of_lot(lot.tokens, lot.remaining, lot.expired, lot.expired_tokens, purchase.taken_back)
            for lot in lots
        )
        remaining = sum(max(0, left.get(lot.id, 0)) for lot in lots if not lot.expired)
        taken_back = purchase.taken_back
        consumed = max(0, purchase.tokens - expired - taken_back - remaining)
        return PurchaseUsage(
            purchase, purchase.tokens, consumed, expired, taken_back, remaining, sorted(lot.id for lot in lots)
        )
