"""The sweeper: settles what is past its end (leases, allowances, token lots) and what the clock changes in
actions (escalation, expiry, grants lapsing), and tells tenants of keys about to expire, from an index of
what is due next.

It reads only the due index (``due_at <= now``, page by page; never a table scan), so a run with nothing due
is one query. Each due record is settled through the same code as the on-read path (``LeaseService`` for a
lease, the ``LotExpirer`` for a tenant's lots); every settlement is conditional on the record still being
open, so running twice, or two sweepers at once, changes nothing the second time. It stops with a margin
before the invocation's time runs out and reports how many records it left for the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

from tollgate.core.clock import Clock

LOG = logging.getLogger(__name__)


class DueKind(StrEnum):
    LEASE = "lease"
    LOT = "lot"
    ALLOWANCE = "allowance"
    ACTION = "action"
    KEY = "key"  # a license key whose key.expiring event is due


@dataclass(frozen=True)
class DueRecord:
    tenant_id: str
    kind: DueKind
    record_id: str
    due_at: int


@dataclass(frozen=True)
class DuePage:
    records: list[DueRecord]
    cursor: Any | None  # opaque; None when there is no further page


class DueIndex(Protocol):
    def due(self, now: int, cursor: Any | None, limit: int) -> DuePage:
        """Records due at or before ``now``, soonest first."""
        ...

    def count_due(self, now: int) -> int: ...


class LeaseExpirer(Protocol):
    def expire_if_due(self, tenant_id: str, lease_id: str) -> bool: ...


class AllowanceExpirer(Protocol):
    def expire_if_due(self, tenant_id: str, allowance_id: str) -> bool: ...


class ActionExpirer(Protocol):
    def expire_if_due(self, tenant_id: str, action_id: str) -> bool:
        """Escalate, expire or lapse what the clock changed; True if this call changed anything."""
        ...


class KeyNotices(Protocol):
    def notify_if_due(self, tenant_id: str, key_id: str) -> bool:
        """Raise ``key.expiring`` for a key whose notice is due; True if this call raised it."""
        ...


class LotExpirer(Protocol):
    def expire_due_lots(self, tenant_id: str) -> int:
        """Expire every lot of the tenant past its end; how many this call expired."""
        ...


@dataclass
class SweepReport:
    now: int
    leases_expired: int = 0
    lots_expired: int = 0
    allowances_expired: int = 0
    actions_changed: int = 0  # escalated, expired or grants lapsed
    keys_expiring: int = 0  # key.expiring events raised
    examined: int = 0
    already_settled: int = 0
    errors: int = 0
    pages: int = 0
    remaining: int = 0
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SweeperService:
    def __init__(
        self,
        index: DueIndex,
        leases: LeaseExpirer,
        lots: LotExpirer,
        clock: Clock,
        page_size: int = 100,
        margin_ms: int = 15_000,
        workers: int = 1,
        log_failure: Callable[[str, dict[str, Any]], None] | None = None,
        allowances: AllowanceExpirer | None = None,
        actions: ActionExpirer | None = None,
        key_notices: KeyNotices | None = None,
    ) -> None:
        self._actions = actions
        self._key_notices = key_notices
        self._allowances = allowances
        self._index = index
        self._log_failure = log_failure or (lambda message, fields: LOG.exception(message, extra=fields))
        self._leases = leases
        self._lots = lots
        self._clock = clock
        self._page_size = page_size
        self._margin_ms = margin_ms
        self._workers = workers

    def sweep(self, remaining_ms: Callable[[], int] | None = None) -> SweepReport:
        """Settle everything due now, page by page, while ``remaining_ms()`` stays above the margin."""
        report = SweepReport(now=self._clock.now())
        cursor: Any | None = None
        seen_lot_tenants: set[str] = set()
        pool = ThreadPoolExecutor(self._workers) if self._workers > 1 else None
        try:
            while True:
                if remaining_ms is not None and remaining_ms() < self._margin_ms:
                    report.stopped_early = True
                    report.remaining = self._index.count_due(report.now)
                    break
                page = self._index.due(report.now, cursor, self._page_size)
                report.pages += 1
                work = [r for r in page.records if r.kind is not DueKind.LOT or r.tenant_id not in seen_lot_tenants]
                seen_lot_tenants.update(r.tenant_id for r in page.records if r.kind is DueKind.LOT)
                report.examined += len(page.records)
                outcomes: Iterable[tuple[DueRecord, int | None]]
                outcomes = pool.map(self._settle, work) if pool is not None else map(self._settle, work)
                for record, settled in outcomes:
                    self._count(report, record, settled)
                cursor = page.cursor
                if cursor is None:
                    break
        finally:
            if pool is not None:
                pool.shutdown()
        return report

    def _settle(self, record: DueRecord) -> tuple[DueRecord, int | None]:
        """How many records this settled (None on error); errors are logged and left for the next run."""
        try:
            if record.kind is DueKind.LEASE:
                return record, int(self._leases.expire_if_due(record.tenant_id, record.record_id))
            if record.kind is DueKind.ALLOWANCE:
                if self._allowances is None:
                    return record, 0
                return record, int(self._allowances.expire_if_due(record.tenant_id, record.record_id))
            if record.kind is DueKind.ACTION:
                if self._actions is None:
                    return record, 0
                return record, int(self._actions.expire_if_due(record.tenant_id, record.record_id))
            if record.kind is DueKind.KEY:
                if self._key_notices is None:
                    return record, 0
                return record, int(self._key_notices.notify_if_due(record.tenant_id, record.record_id))
            return record, self._lots.expire_due_lots(record.tenant_id)
        except Exception:  # one bad record must not stop the sweep; it stays due and is retried next run
            fields = {"kind": record.kind.value, "record_id": record.record_id, "tenant_id": record.tenant_id}
            self._log_failure("settling a due record failed", fields)
            return record, None

    @staticmethod
    def _count(report: SweepReport, record: DueRecord, settled: int | None) -> None:
        if settled is None:
            report.errors += 1
        elif settled == 0:
            report.already_settled += 1
        elif record.kind is DueKind.LEASE:
            report.leases_expired += settled
        elif record.kind is DueKind.ALLOWANCE:
            report.allowances_expired += settled
        elif record.kind is DueKind.ACTION:
            report.actions_changed += settled
        elif record.kind is DueKind.KEY:
            report.keys_expiring += settled
        else:
            report.lots_expired += settled
