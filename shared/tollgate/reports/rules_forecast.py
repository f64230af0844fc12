"""Forecasts from usage: burn rates, when ``available`` runs out, what each lot will leave unused when it
expires, and when each project's budget runs out. Pure.

Burn rate over N days: the tokens spent over the last N *complete* UTC days, divided by N (or by the
complete days the tenant has existed, when fewer). Today's partial day is left out, so a rate never jumps
with the time of day. The depletion forecast burns the lots in burn order (``tollgate.pool.rules``) at the
7-day rate (the 30-day rate when the last 7 days were idle): a lot that ends before it is burnt leaves the
rest unused, and burning moves to the next lot at its end. Tokens already held (``reserved``) come out of
the first lots in burn order, as they will when the holds are charged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tollgate.core.models import Project
from tollgate.pool.rules import LotView
from tollgate.reports.rules import DAY_S, day_of, start_of

WINDOWS = (7, 30)


@dataclass(frozen=True)
class BurnRate:
    days: int  # the window asked for
    days_counted: int  # complete days in it that the tenant existed
    tokens: int  # spent over those days

    @property
    def per_day(self) -> float:
        return self.tokens / self.days_counted if self.days_counted else 0.0


@dataclass(frozen=True)
class LotForecast:
    view: LotView
    projected_unused: int  # tokens of the lot left when it expires, at the forecast's rate


@dataclass(frozen=True)
class ProjectForecast:
    project: Project
    rate: BurnRate
    depletes_at: int | None  # when budget_left reaches 0 at the 7-day rate; None: no budget or no burn


@dataclass(frozen=True)
class Forecast:
    now: int
    rates: tuple[BurnRate, ...]
    rate_used: float  # tokens per day the projection burns at
    available: int
    depletes_at: int | None  # None when nothing burns
    lots: list[LotForecast]
    projects: list[ProjectForecast]

    @property
    def depletion_date(self) -> str | None:
        return None if self.depletes_at is None else day_of(self.depletes_at)


def complete_days(now: int, since: int, window: int) -> list[str]:
    """The last ``window`` complete UTC days before today, oldest first, none before the day of ``since``."""
    today = dt.date.fromisoformat(day_of(now))
    first = dt.date.fromisoformat(day_of(since))
    days = [today - dt.timedelta(days=n) for n in range(window, 0, -1)]
    return [d.isoformat() for d in days if d >= first]


def burn_rate(spent_per_day: Mapping[str, int], now: int, since: int, window: int) -> BurnRate:
    days = complete_days(now, since, window)
    return BurnRate(window, len(days), sum(spent_per_day.get(day, 0) for day in days))


def project_lots(
    views: Sequence[LotView], reserved: int, rate: float, now: int
) -> tuple[int | None, list[LotForecast]]:
    """Burn the lots (already in burn order) at ``rate`` tokens a day from ``now``: when the last one is
    burnt (None when nothing burns or only expiry empties them) and what each leaves unused."""
    t = float(now)
    held = max(0, reserved)
    forecasts: list[LotForecast] = []
    burns_out = rate > 0
    for view in views:
        left = view.left
        taken = min(held, left)  # what holds already keep comes out first
        held -= taken
        left -= taken
        end = view.lot.expires_at
        if left <= 0:
            forecasts.append(LotForecast(view, 0))
            continue
        if rate <= 0:
            forecasts.append(LotForecast(view, left if end is not None else 0))
            continue
        if end is not None and end <= t:
            forecasts.append(LotForecast(view, left))
            continue
        need_s = left / rate * DAY_S
        if end is not None and t + need_s > end:
            burnt = min(left, int((end - t) * rate / DAY_S))
            forecasts.append(LotForecast(view, left - burnt))
            t = float(end)
        else:
            forecasts.append(LotForecast(view, 0))
            t += need_s
    return (int(t) if burns_out else None), forecasts


def forecast(
    now: int,
    created_at: int,
    spent_per_day: Mapping[str, int],
    available: int,
    reserved: int,
    lots: Sequence[LotView],
    projects: Sequence[Project],
    project_spent_per_day: Mapping[str, Mapping[str, int]],
) -> Forecast:
    rates = tuple(burn_rate(spent_per_day, now, created_at, window) for window in WINDOWS)
    rate = rates[0].per_day or rates[1].per_day
    depletes_at, lot_forecasts = project_lots(lots, reserved, rate, now)
    if available <= 0:
        depletes_at = now
    elif depletes_at is not None and rate > 0:
        # never later than available alone allows (lots and available can differ by what holds keep)
        depletes_at = min(depletes_at, int(now + available / rate * DAY_S))
    project_forecasts = []
    for project in projects:
        spent = project_spent_per_day.get(project.id, {})
        project_rate = burn_rate(spent, now, max(created_at, project.created_at), WINDOWS[0])
        left = project.budget_left
        depletes = None
        if left is not None and left <= 0:
            depletes = now
        elif left is not None and project_rate.per_day > 0:
            depletes = int(now + left / project_rate.per_day * DAY_S)
        project_forecasts.append(ProjectForecast(project, project_rate, depletes))
    return Forecast(now, rates, rate, available, depletes_at, lot_forecasts, project_forecasts)


def first_day_of_window(now: int, window: int = WINDOWS[-1]) -> str:
    """The oldest day a forecast reads usage for."""
    return day_of(start_of(day_of(now)) - window * DAY_S)
