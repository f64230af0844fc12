"""The usage aggregator's work on one batch of the table's stream: the ledger entries it carries, counted
into the usage rollups (``tollgate.reports.store``), tenant by tenant.

Records are grouped per tenant and counted together (a few transactions per batch, not one per record);
the rollup marks make a batch the stream delivers again count nothing twice. When a tenant's group fails,
its records are reported as failures (``ReportBatchItemFailures``): Lambda then retries the batch from the
earliest of them, and what was already counted is skipped by its marks. Powertools' ``BatchProcessor``
handles records one at a time, which would cost a transaction per entry; this handler keeps its contract
(the same answer shape) without that cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tollgate.core.models import LedgerEntry
from tollgate.kernel import keys
from tollgate.kernel.items import LedgerEntryItem
from tollgate.kernel.records import to_entry
from tollgate.reports.store import DynamoUsageRepository

Log = Callable[[str, Mapping[str, Any]], None]


@dataclass
class BatchResult:
    records: int = 0
    entries: int = 0
    counted: int = 0
    repeated: int = 0
    transactions: int = 0
    items: int = 0  # written in those transactions
    marks_read: int = 0
    failed: list[str] = field(default_factory=list)  # sequence numbers

    def answer(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in self.failed]}


def ledger_entry(record: Mapping[str, Any]) -> LedgerEntry | None:
    """The ledger entry a stream record inserted, or None for any other record."""
    if record.get("eventName") != "INSERT":
        return None
    image = record.get("dynamodb", {}).get("NewImage") or {}
    pk = image.get("pk", {}).get("S", "")
    tenant_id = keys.tenant_of_ledger(pk)
    if tenant_id is None:
        return None
    return to_entry(tenant_id, LedgerEntryItem.from_raw_data(image), None)


class UsageAggregator:
    def __init__(self, usage: DynamoUsageRepository, log: Log) -> None:
        self._usage = usage
        self._log = log

    def process(self, records: Sequence[Mapping[str, Any]]) -> BatchResult:
        result = BatchResult(records=len(records))
        by_tenant: dict[str, list[tuple[str, LedgerEntry]]] = {}
        for record in records:
            sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
            try:
                entry = ledger_entry(record)
            except Exception:  # an unreadable record is reported, never silently dropped
                self._log("unreadable stream record", {"sequence": sequence})
                result.failed.append(sequence)
                continue
            if entry is not None:
                by_tenant.setdefault(entry.tenant_id, []).append((sequence, entry))
        for tenant_id, items in by_tenant.items():
            result.entries += len(items)
            try:
                applied = self._usage.apply(tenant_id, [entry for _, entry in items])
            except Exception:  # the tenant's records are retried; others are not held up
                self._log("usage rollup failed", {"tenant_id": tenant_id, "entries": len(items)})
                result.failed.extend(sequence for sequence, _ in items)
                continue
            result.counted += applied.counted
            result.repeated += applied.repeated
            result.transactions += applied.transactions
            result.items += applied.items
            result.marks_read += applied.marks_read
        return result
