"""Alerts and their flips: each flip a compare-and-set of the alert in the transaction of its event."""

from __future__ import annotations

import random
import time
from typing import Any, Protocol

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from tollgate.core.errors import Conflict, NotFound, StoreBusy
from tollgate.core.models import Project
from tollgate.events.service_alerts import TIMED, Alert, AlertKind, AlertState
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import AlertCountItem, AlertItem, TenantItem
from tollgate.kernel.pool import PoolTransaction, Refused

ALERT, COUNT = "alert", "alert_count"  # transaction labels
COUNT_ATTEMPTS = 20  # reads of the count before a create or delete gives up (503) under contention


def _pause() -> None:
    time.sleep(random.uniform(0, 0.02))  # noqa: S311 - jitter between racing writers, not a secret


def _count_item(tenant_id: str) -> AlertCountItem:
    return AlertCountItem(keys.tenant_pk(tenant_id), keys.ALERT_COUNT_SK)


def _counted(stored: int | None) -> Any:
    """The condition that the count is still what was read (absent: still absent)."""
    return AlertCountItem.alerts.does_not_exist() if stored is None else AlertCountItem.alerts == stored


def to_alert(tenant_id: str, item: AlertItem) -> Alert:
    return Alert(
        id=item.alert_id,
        tenant_id=tenant_id,
        kind=AlertKind(item.kind),
        threshold=int(item.threshold),
        created_at=int(item.created_at),
        created_by=item.created_by,
        project_id=item.project_id,
        state=AlertState(item.state),
        version=int(item.version or 0),
        changed_at=None if item.changed_at is None else int(item.changed_at),
        seen=None if item.seen is None else int(item.seen),
    )


def alert_item(alert: Alert) -> AlertItem:
    item = AlertItem(
        keys.tenant_pk(alert.tenant_id),
        keys.alert_sk(alert.id),
        alert_id=alert.id,
        kind=alert.kind.value,
        threshold=alert.threshold,
        project_id=alert.project_id,
        state=alert.state.value,
        version=alert.version,
        created_at=alert.created_at,
        created_by=alert.created_by,
        changed_at=alert.changed_at,
        seen=alert.seen,
    )
    if alert.kind in TIMED:
        item.kind_pk = keys.KIND_TIMED_ALERT
        item.kind_sk = keys.timed_alert_kind_sk(alert.tenant_id, alert.id)
    return item


class DynamoAlertRepository:
    def add(self, alert: Alert, limit: int) -> None:
        """The alert and the tenant's count + 1, in one transaction conditioned on the count read (a
        concurrent create or delete makes it read again): the limit holds under concurrent creates;
        ``Conflict`` at ``limit``."""
        tenant_id = alert.tenant_id
        for _ in range(COUNT_ATTEMPTS):
            stored = self._count(tenant_id)
            count = len(self.list(tenant_id)) if stored is None else stored
            if count >= limit:
                raise Conflict(f"a tenant has at most {limit} alerts; delete one first")
            tx = PoolTransaction(tenant_id, kernel.token("alert", alert.id, str(count)))
            tx.put(ALERT, alert_item(alert), AlertItem.pk.does_not_exist())
            tx.update(COUNT, _count_item(tenant_id), [AlertCountItem.alerts.set(count + 1)], _counted(stored))
            try:
                tx.commit()
            except Refused as refused:
                if COUNT in refused:
                    _pause()  # another create or delete came first: count again
                    continue
                raise
            return
        raise StoreBusy()

    def _count(self, tenant_id: str) -> int | None:
        try:
            with busy_as_store_busy():
                item = AlertCountItem.get(keys.tenant_pk(tenant_id), keys.ALERT_COUNT_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return int(item.alerts)

    def list(self, tenant_id: str) -> list[Alert]:
        with busy_as_store_busy():
            items = AlertItem.query(
                keys.tenant_pk(tenant_id), AlertItem.sk.startswith(keys.ALERT_SK_PREFIX), consistent_read=True
            )
            return [to_alert(tenant_id, item) for item in items]

    def timed_tenants(self) -> tuple[str, ...]:
        """Tenants with alerts that time alone can cross (by_kind ``ALERT_TIMED``), each once."""
        with busy_as_store_busy():
            items = AlertItem.by_kind.query(keys.KIND_TIMED_ALERT)
            return tuple(sorted({str(item.kind_sk).split("#", 1)[0] for item in items}))

    def get(self, tenant_id: str, alert_id: str) -> Alert:
        try:
            with busy_as_store_busy():
                item = AlertItem.get(keys.tenant_pk(tenant_id), keys.alert_sk(alert_id), consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound("no such alert") from exc
        return to_alert(tenant_id, item)

    def delete(self, tenant_id: str, alert_id: str) -> Alert:
        """The alert and the tenant's count - 1, in one transaction (as ``add``)."""
        alert = self.get(tenant_id, alert_id)
        item = AlertItem(keys.tenant_pk(tenant_id), keys.alert_sk(alert_id))
        for _ in range(COUNT_ATTEMPTS):
            stored = self._count(tenant_id)
            tx = PoolTransaction(tenant_id, kernel.token("alert-delete", alert_id, str(stored)))
            if stored is None:  # alerts from before the count: nothing to take one from, but none may start it
                condition = AlertCountItem.alerts.does_not_exist()
                tx.check(COUNT, AlertCountItem, keys.tenant_pk(tenant_id), keys.ALERT_COUNT_SK, condition)
            else:
                less: list[Action] = [AlertCountItem.alerts.set(max(0, stored - 1))]
                tx.update(COUNT, _count_item(tenant_id), less, _counted(stored))
            tx.delete(ALERT, item, AlertItem.pk.exists())
            try:
                tx.commit()
            except Refused as refused:
                if ALERT in refused:
                    raise NotFound("no such alert") from refused
                if COUNT in refused:
                    _pause()
                    continue
                raise
            return alert
        raise StoreBusy()


class ProjectReader(Protocol):
    def get(self, tenant_id: str, project_id: str) -> Project:
        """``NotFound`` when there is no such project."""
        ...


class DynamoLevels:
    """The levels an alert's first state is measured against (projects read through tenancy's repository,
    handed in by the composition root)."""

    def __init__(self, projects: ProjectReader) -> None:
        self._projects = projects

    def available(self, tenant_id: str) -> int:
        try:
            with busy_as_store_busy():
                item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound("no such tenant") from exc
        return int(item.available or 0)

    def created_at(self, tenant_id: str) -> int:
        try:
            with busy_as_store_busy():
                item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, attributes_to_get=["created_at"])
        except DoesNotExist as exc:
            raise NotFound("no such tenant") from exc
        return int(item.created_at)

    def project(self, tenant_id: str, project_id: str) -> Project:
        return self._projects.get(tenant_id, project_id)
