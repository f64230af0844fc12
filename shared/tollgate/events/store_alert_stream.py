"""Evaluating alerts where the change happens: the table's stream carries every change of a tenant's pool
item and project items with their old and new images, in order per item; a scheduled run evaluates the
kinds that time alone can cross (depletion forecast, lot ends).

A flip is one transaction: the alert, on condition that it is still the version read and that the change
is newer than the last one that flipped it (``seen``, the stream sequence number), and its event, whose id
is derived from the alert and the change. A change the stream delivers again, or one delivered late after
the alert recovered, flips nothing; two evaluators racing on one alert flip it once. ``balance.depleted``
needs no alert: it is raised when ``available`` goes from above zero to zero or below, with an id derived
from the change, so a redelivery cannot raise it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pynamodb.expressions.condition import Condition

from tollgate.core.budgets import TENANT_SCOPE
from tollgate.core.clock import Clock
from tollgate.core.events import RETENTION_S
from tollgate.events.rules import new_event
from tollgate.events.service_alerts import (
    DEPLETED,
    EXHAUSTED,
    FIRES,
    RECOVERS,
    Alert,
    AlertKind,
    AlertState,
    budget_used_percent,
    days_until,
    flip,
)
from tollgate.events.store import emit
from tollgate.events.store_alerts import DynamoAlertRepository
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.items import AlertItem, BudgetMarkItem
from tollgate.kernel.pool import PoolTransaction, Refused

Log = Callable[[str, Mapping[str, Any]], None]
Levels = Callable[[str, Sequence[Alert]], dict[str, int | None]]  # timed alerts' levels, by alert id


def _number(image: Mapping[str, Any] | None, name: str) -> int | None:
    value = (image or {}).get(name, {})
    return int(value["N"]) if isinstance(value, dict) and "N" in value else None


@dataclass
class AlertBatch:
    records: int = 0
    fired: int = 0
    recovered: int = 0
    depleted: int = 0
    exhausted: int = 0
    failed: list[str] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in self.failed]}


@dataclass(frozen=True)
class Change:
    """One change of a pool or project item, as the stream carried it."""

    tenant_id: str
    sequence: int
    project_id: str | None  # None: the pool
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    at: int | None = None  # when the stream recorded it (ApproximateCreationDateTime): the same on redelivery
    scope: str | None = None  # an environment's or a license key's budget level (``BUDGET#<scope>``)


def change_of(record: Mapping[str, Any]) -> Change | None:
    if record.get("eventName") != "MODIFY":
        return None
    data = record.get("dynamodb", {})
    key = data.get("Keys", {})
    pk, sk = key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")
    if not pk.startswith("T#") or pk.count("#") != 1:
        return None
    new, old = data.get("NewImage") or {}, data.get("OldImage") or {}
    sequence = int(str(data.get("SequenceNumber", "0")))
    created = data.get("ApproximateCreationDateTime")
    at = int(float(created)) if created is not None else None
    if sk == keys.TENANT_SK:
        return Change(pk[2:], sequence, None, old, new, at)
    if sk.startswith("PROJECT#"):
        return Change(pk[2:], sequence, sk[len("PROJECT#") :], old, new, at)
    if sk.startswith(keys.BUDGET_PREFIX):
        return Change(pk[2:], sequence, None, old, new, at, scope=sk[len(keys.BUDGET_PREFIX) :])
    return None


def _left(image: Mapping[str, Any]) -> int | None:
    budget = _number(image, "budget")
    if budget is None:
        return None
    left = _number(image, "budget_left")
    return budget - (_number(image, "committed") or 0) if left is None else left


def exhausted(change: Change) -> tuple[str, str, int] | None:
    """(scope, period, limit) when this change took a budget level's ``left`` from above 0 to 0 or below
    within one period and one limit; else None."""
    limit, before, after = _number(change.new, "budget"), _left(change.old), _left(change.new)
    if limit is None or before is None or after is None or _number(change.old, "budget") != limit:
        return None
    period = _number(change.new, "period_start")
    if period != _number(change.old, "period_start") or not before > 0 >= after:
        return None
    scope = change.scope or (f"project:{change.project_id}" if change.project_id else TENANT_SCOPE)
    return scope, "none" if period is None else str(period), limit


class AlertEvaluator:
    def __init__(self, alerts: DynamoAlertRepository, clock: Clock, log: Log, levels: Levels | None = None) -> None:
        self._alerts = alerts
        self._clock = clock
        self._log = log
        self._levels = levels

    # changes (the stream)
    def process(self, records: Sequence[Mapping[str, Any]]) -> AlertBatch:
        batch = AlertBatch(records=len(records))
        by_tenant: dict[str, list[tuple[str, Change]]] = {}
        for record in records:
            sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
            try:
                change = change_of(record)
            except (AttributeError, KeyError, TypeError, ValueError):
                self._log("unreadable stream record", {"sequence": sequence})
                batch.failed.append(sequence)
                continue
            if change is not None:
                by_tenant.setdefault(change.tenant_id, []).append((sequence, change))
        for tenant_id, changes in by_tenant.items():
            try:
                self._tenant(tenant_id, [change for _, change in changes], batch)
            except Exception:  # the tenant's records are retried from the first; flips are idempotent
                self._log("alert evaluation failed", {"tenant_id": tenant_id})
                batch.failed.extend(sequence for sequence, _ in changes)
        return batch

    def _tenant(self, tenant_id: str, changes: Sequence[Change], batch: AlertBatch) -> None:
        alerts = {a.id: a for a in self._alerts.list(tenant_id) if a.kind not in _TIMED_KINDS}
        for change in changes:
            level_exhausted = exhausted(change)
            if level_exhausted is not None and self._exhausted(change, *level_exhausted):
                batch.exhausted += 1
            if change.scope is not None:
                continue  # an environment's or a key's level: no alert watches it
            if change.project_id is None:
                before, after = _number(change.old, "available"), _number(change.new, "available")
                if after is None or before == after:
                    continue
                if before is not None and before > 0 >= after and self._depleted(change, after):
                    batch.depleted += 1
                watched = [a for a in alerts.values() if a.kind is AlertKind.BALANCE_BELOW]
                level: int | None = after
            else:
                budget = _number(change.new, "budget")
                committed = _number(change.new, "committed") or 0
                level = budget_used_percent(budget, committed)
                watched = [
                    a
                    for a in alerts.values()
                    if a.kind is AlertKind.PROJECT_BUDGET_USED_PERCENT and a.project_id == change.project_id
                ]
            for alert in watched:
                if alert.seen is not None and alert.seen >= change.sequence:
                    continue  # this change, or a later one, already flipped it
                state = flip(alert, level)
                if state is None:
                    continue
                flipped = self._flip(alert, state, level, change.sequence, str(change.sequence))
                if flipped is None:  # deleted, or changed under us: read it again for the next change
                    alerts.pop(alert.id)
                    fresh = [a for a in self._alerts.list(tenant_id) if a.id == alert.id]
                    alerts.update({a.id: a for a in fresh})
                    continue
                alerts[alert.id] = flipped
                batch.fired += state is AlertState.FIRED
                batch.recovered += state is AlertState.ARMED

    def _depleted(self, change: Change, available: int) -> bool:
        # the event's time is the change's, so a redelivery writes the very same item (and is refused)
        at = change.at if change.at is not None else self._clock.now()
        data = {"available": available}
        event = new_event(change.tenant_id, DEPLETED, at, data, "depleted", str(change.sequence))
        return emit(event)

    def _exhausted(self, change: Change, scope: str, period: str, limit: int) -> bool:
        """``budget.exhausted`` with a mark of the level's period, in one transaction: once per level, period
        and limit, however many changes or redeliveries find it."""
        at = change.at if change.at is not None else self._clock.now()
        data = {"scope": scope, "limit": limit, "period": "none" if period == "none" else "month"}
        event = new_event(change.tenant_id, EXHAUSTED, at, data, scope, period, str(limit))
        mark = BudgetMarkItem(keys.tenant_pk(change.tenant_id), f"EXHAUSTED#{scope}#{period}#{limit}", at=at)
        mark.purge_at = at + RETENTION_S
        tx = PoolTransaction(change.tenant_id, kernel.token("exhausted", change.tenant_id, scope, period, str(limit)))
        tx.put("mark", mark, BudgetMarkItem.pk.does_not_exist())
        tx.event(event)
        try:
            tx.commit()
        except Refused:
            return False  # raised before for this period
        return True

    # time (the schedule)
    def evaluate_timed(self, tenant_ids: Sequence[str]) -> AlertBatch:
        batch = AlertBatch()
        for tenant_id in tenant_ids:
            alerts = [a for a in self._alerts.list(tenant_id) if a.kind in _TIMED_KINDS]
            if not alerts or self._levels is None:
                continue
            levels = self._levels(tenant_id, alerts)
            for alert in alerts:
                level = levels.get(alert.id)
                state = flip(alert, level)
                if state is None:
                    continue
                if self._flip(alert, state, level, None, f"v{alert.version}") is not None:
                    batch.fired += state is AlertState.FIRED
                    batch.recovered += state is AlertState.ARMED
        return batch

    def _flip(
        self, alert: Alert, state: AlertState, level: int | None, sequence: int | None, change: str
    ) -> Alert | None:
        """Move ``alert`` to ``state`` with its event, once; None when another change or evaluator did it."""
        now = self._clock.now()
        event_type = FIRES[alert.kind] if state is AlertState.FIRED else RECOVERS
        data = {
            "alert_id": alert.id,
            "kind": alert.kind.value,
            "threshold": alert.threshold,
            "project_id": alert.project_id,
            "level": level,
            "state": state.value,
        }
        event = new_event(alert.tenant_id, event_type, now, data, alert.id, change)
        condition: Condition = (AlertItem.version == alert.version) & (AlertItem.state == alert.state.value)
        actions = [
            AlertItem.state.set(state.value),
            AlertItem.version.set(alert.version + 1),
            AlertItem.changed_at.set(now),
        ]
        if sequence is not None:
            condition &= AlertItem.seen.does_not_exist() | (AlertItem.seen < sequence)
            actions.append(AlertItem.seen.set(sequence))
        tx = PoolTransaction(alert.tenant_id, kernel.token("alert", alert.id, change))
        item = AlertItem(keys.tenant_pk(alert.tenant_id), keys.alert_sk(alert.id))
        tx.update("alert", item, list(actions), condition & AlertItem.pk.exists())
        tx.event(event)
        try:
            tx.commit()
        except Refused:
            return None
        return replace(alert, state=state, version=alert.version + 1, changed_at=now, seen=sequence or alert.seen)


_TIMED_KINDS = frozenset({AlertKind.DEPLETION_WITHIN_DAYS, AlertKind.LOT_EXPIRING_WITHIN_DAYS})


def timed_levels(
    forecast_of: Callable[[str], Any], lots_of: Callable[[str], Any], clock: Clock
) -> Levels:  # pragma: no cover - wired in services; exercised by the integration tests
    """Levels of the timed kinds: whole days until the forecast depletion, and until the soonest end of a
    live lot that still has tokens left."""

    def levels(tenant_id: str, alerts: Sequence[Alert]) -> dict[str, int | None]:
        now = clock.now()
        found: dict[str, int | None] = {}
        kinds = {a.kind for a in alerts}
        depletion = forecast_of(tenant_id).depletes_at if AlertKind.DEPLETION_WITHIN_DAYS in kinds else None
        ends = [view.lot.expires_at for view in lots_of(tenant_id) if view.left > 0 and view.lot.expires_at]
        soonest = min(ends) if ends else None
        for alert in alerts:
            at = depletion if alert.kind is AlertKind.DEPLETION_WITHIN_DAYS else soonest
            found[alert.id] = days_until(at, now)
        return found

    return levels
