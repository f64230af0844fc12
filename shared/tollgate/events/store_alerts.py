"""Alerts and their flips: each flip a compare-and-set of the alert in the transaction of its event."""

from __future__ import annotations

from typing import Protocol

from pynamodb.exceptions import DeleteError, DoesNotExist

from tollgate.core.errors import Conflict, NotFound
from tollgate.core.models import Project
from tollgate.events.service_alerts import TIMED, Alert, AlertKind, AlertState
from tollgate.kernel import keys
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import AlertItem, TenantItem


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
        if len(self.list(alert.tenant_id)) >= limit:
            raise Conflict(f"a tenant has at most {limit} alerts; delete one first")
        with busy_as_store_busy():
            alert_item(alert).save(condition=AlertItem.pk.does_not_exist())

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
        alert = self.get(tenant_id, alert_id)
        try:
            with busy_as_store_busy():
                alert_item(alert).delete(condition=AlertItem.pk.exists())
        except DeleteError as exc:
            raise NotFound("no such alert") from exc
        return alert


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
