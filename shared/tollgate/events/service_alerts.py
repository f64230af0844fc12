"""Alerts: thresholds that raise an event once when crossed and once when they recover. Pure rules.

An alert is ``armed`` or ``fired``. It is evaluated against a level: ``balance_below`` against the pool's
``available``, ``project_budget_used_percent`` against a project's committed share of its budget,
``depletion_within_days`` against the forecast's days left, ``lot_expiring_within_days`` against the soonest
end of a live lot that still has tokens left. An armed alert whose condition holds fires (one event); a fired
alert whose condition no longer holds recovers (one event). Each flip is a conditional write of the alert
in the same transaction as its event (``tollgate.events.store_alerts``), so two evaluators, or the stream
delivering a change again, never flip it twice. An alert created while its condition already holds starts
``fired`` without an event: it was not crossed, and it will say when it recovers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol

from tollgate.core import limits
from tollgate.core.clock import Clock
from tollgate.core.errors import InvalidField
from tollgate.core.ids import IdGenerator
from tollgate.core.models import Principal, Project


class AlertKind(str, Enum):
    BALANCE_BELOW = "balance_below"
    DEPLETION_WITHIN_DAYS = "depletion_within_days"
    LOT_EXPIRING_WITHIN_DAYS = "lot_expiring_within_days"
    PROJECT_BUDGET_USED_PERCENT = "project_budget_used_percent"


class AlertState(str, Enum):
    ARMED = "armed"
    FIRED = "fired"


# Event types (SPEC.md, "Events"): what firing and recovering each kind raise.
FIRES = {
    AlertKind.BALANCE_BELOW: "balance.low",
    AlertKind.DEPLETION_WITHIN_DAYS: "forecast.depletion_soon",
    AlertKind.LOT_EXPIRING_WITHIN_DAYS: "lot.expiring",
    AlertKind.PROJECT_BUDGET_USED_PERCENT: "balance.low",
}
RECOVERS = "balance.recovered"
DEPLETED = "balance.depleted"
EXHAUSTED = "budget.exhausted"  # a budget level's left reached 0 (once per level per period)
THRESHOLDS = {
    AlertKind.BALANCE_BELOW: (0, limits.MAX_TOKENS),
    AlertKind.DEPLETION_WITHIN_DAYS: (1, limits.MAX_VALID_DAYS),
    AlertKind.LOT_EXPIRING_WITHIN_DAYS: (1, limits.MAX_VALID_DAYS),
    AlertKind.PROJECT_BUDGET_USED_PERCENT: (1, 100),
}
TIMED = frozenset({AlertKind.DEPLETION_WITHIN_DAYS, AlertKind.LOT_EXPIRING_WITHIN_DAYS})
MAX_ALERTS = 50  # per tenant


@dataclass(frozen=True)
class Alert:
    id: str
    tenant_id: str
    kind: AlertKind
    threshold: int
    created_at: int
    created_by: str
    project_id: str | None = None
    state: AlertState = AlertState.ARMED
    version: int = 0
    changed_at: int | None = None
    seen: int | None = None  # the stream sequence number of the change that last flipped it


def check_new(kind: str, threshold: int, project_id: str | None) -> AlertKind:
    try:
        chosen = AlertKind(kind)
    except ValueError:
        raise InvalidField("kind", f"one of {', '.join(k.value for k in AlertKind)}") from None
    low, high = THRESHOLDS[chosen]
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not low <= threshold <= high:
        raise InvalidField("threshold", f"an integer from {low} to {high} for {chosen.value}")
    if chosen is AlertKind.PROJECT_BUDGET_USED_PERCENT and project_id is None:
        raise InvalidField("project_id", "project_budget_used_percent needs a project")
    if chosen is not AlertKind.PROJECT_BUDGET_USED_PERCENT and project_id is not None:
        raise InvalidField("project_id", f"{chosen.value} is not about a project")
    return chosen


def holds(alert: Alert, level: int | None) -> bool:
    """Whether the alert's condition holds at ``level`` (None: nothing to measure, e.g. nothing burns)."""
    if level is None:
        return False
    if alert.kind is AlertKind.BALANCE_BELOW:
        return level < alert.threshold
    if alert.kind is AlertKind.PROJECT_BUDGET_USED_PERCENT:
        return level >= alert.threshold
    return level <= alert.threshold  # days left, days to a lot's end


def flip(alert: Alert, level: int | None) -> AlertState | None:
    """The state the alert moves to at ``level``, or None when it stays."""
    condition = holds(alert, level)
    if alert.state is AlertState.ARMED and condition:
        return AlertState.FIRED
    if alert.state is AlertState.FIRED and not condition:
        return AlertState.ARMED
    return None


def budget_used_percent(budget: int | None, committed: int) -> int | None:
    """A project's committed share of its budget, in whole percent rounded down (None without a budget)."""
    if budget is None:
        return None
    if budget <= 0:
        return 100
    return committed * 100 // budget


def days_until(at: int | None, now: int) -> int | None:
    """Whole days from ``now`` to ``at`` (rounded down, never negative); None when ``at`` is None."""
    if at is None:
        return None
    return max(0, at - now) // 86_400


class AlertRepository(Protocol):
    def add(self, alert: Alert, limit: int) -> None:
        """Store a new alert; raises Conflict when the tenant already has ``limit`` alerts."""
        ...

    def list(self, tenant_id: str) -> list[Alert]: ...

    def delete(self, tenant_id: str, alert_id: str) -> Alert:
        """Remove it and return it as it was; NotFound when absent."""
        ...


class LevelReader(Protocol):
    """Current levels, for an alert's first state."""

    def available(self, tenant_id: str) -> int: ...

    def project(self, tenant_id: str, project_id: str) -> Project: ...


class AlertService:
    def __init__(self, alerts: AlertRepository, levels: LevelReader, clock: Clock, ids: IdGenerator) -> None:
        self._alerts = alerts
        self._levels = levels
        self._clock = clock
        self._ids = ids

    def create(self, caller: Principal, kind: str, threshold: int, project_id: str | None) -> Alert:
        chosen = check_new(kind, threshold, project_id)
        alert = Alert(
            id=self._ids.new_id("alr"),
            tenant_id=caller.tenant_id,
            kind=chosen,
            threshold=threshold,
            created_at=self._clock.now(),
            created_by=caller.key_id,
            project_id=project_id,
        )
        level: int | None = None
        if chosen is AlertKind.BALANCE_BELOW:
            level = self._levels.available(caller.tenant_id)
        elif chosen is AlertKind.PROJECT_BUDGET_USED_PERCENT:
            assert project_id is not None
            project = self._levels.project(caller.tenant_id, project_id)  # NotFound for another tenant's
            if project.budget is None:
                raise InvalidField("project_id", "this project has no budget")
            level = budget_used_percent(project.budget, project.committed)
        if holds(alert, level):
            alert = replace(alert, state=AlertState.FIRED)  # already past it: it will say when it recovers
        self._alerts.add(alert, MAX_ALERTS)
        return alert

    def list(self, caller: Principal) -> list[Alert]:
        return self._alerts.list(caller.tenant_id)

    def delete(self, caller: Principal, alert_id: str) -> Alert:
        return self._alerts.delete(caller.tenant_id, alert_id)
