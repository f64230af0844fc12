"""What the usage aggregator costs per million ledger entries, on DynamoDB Local.

    .venv/bin/python -m infra.bench.usage [--entries 2000] [--tenants 4] [--batch 100]

Starts its own DynamoDB Local (in memory, a free port) and a table from template.yaml, writes ``--entries``
consumptions through the real ``PoolService`` over ``--tenants`` tenants, then hands the ledger entries to
``UsageAggregator.process`` as the stream would (records of ``--batch``, interleaved across tenants, as one
shard carries them), counting every DynamoDB request and the capacity units DynamoDB reports. Then it
delivers every batch a second time (the worst redelivery) and counts that too. It checks that the rollups
equal the ledger, and prints one JSON document: requests and units per entry, invocations per million, and
dollars per million entries at the prices in ``prices.py`` (Lambda duration from the measured batch time).
Stops DynamoDB Local by pid at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

from infra.bench import prices
from infra.bench.measure import RequestCounter, percentile
from infra.bench.sweeper import TABLE, _free_port, _point_at
from infra.local import dynamodb_local
from infra.local.tables import create_table

MEMORY_MB = 512  # the aggregator's MemorySize (Globals in template.yaml)


def _records(tenants: list[Any]) -> list[dict[str, Any]]:
    """The spending entries as stream records (what the FilterCriteria lets through), tenants interleaved."""
    from tollgate.kernel import keys
    from tollgate.kernel.items import LedgerEntryItem

    spending = {"consumption", "lease_charge", "allowance_charge"}
    per_tenant = [
        [item for item in LedgerEntryItem.query(keys.ledger_pk(t.tenant_id)) if item.kind in spending] for t in tenants
    ]
    records: list[dict[str, Any]] = []
    sequence = 0
    while any(per_tenant):
        for items in per_tenant:
            if items:
                item = items.pop(0)
                sequence += 1
                image = item.serialize()
                record = {"SequenceNumber": str(sequence), "NewImage": image}
                records.append({"eventName": "INSERT", "dynamodb": record})
    return records


def _run(aggregator: Any, batches: list[list[dict[str, Any]]], counter: RequestCounter) -> dict[str, Any]:
    counter.reset()
    counter.ask_capacity = True
    took_ms: list[float] = []
    counted = repeated = transactions = entries = items = marks_read = 0
    for batch in batches:
        started = time.perf_counter()
        result = aggregator.process(batch)
        took_ms.append(1000 * (time.perf_counter() - started))
        assert result.failed == [], result
        counted, repeated = counted + result.counted, repeated + result.repeated
        transactions, entries = transactions + result.transactions, entries + result.entries
        items += result.items
        marks_read += result.marks_read
    counter.ask_capacity = False
    return {
        "batches": len(batches),
        "entries": entries,
        "counted": counted,
        "repeated": repeated,
        "transactions": transactions,
        "transaction_items": items,
        "requests": dict(counter.requests),
        "read_units_reported": counter.read_units,
        "write_units_reported": counter.write_units,
        # billed: a consistent GetItem under 4 KB is 1 RRU; a transaction bills 2 WRU per item under 1 KB, its
        # condition check included (as docs/performance.md assumes); DynamoDB Local under-reports transactions
        "read_units": float(counter.requests.get("GetItem", 0) + marks_read),
        "write_units": 2.0 * items,
        "batch_p50_ms": percentile(took_ms, 50),
    }


def _per_million(run: dict[str, Any], batch_size: int) -> dict[str, Any]:
    per_entry_rru = run["read_units"] / run["entries"]
    per_entry_wru = run["write_units"] / run["entries"]
    invocations = 1_000_000 / batch_size
    gb_s = MEMORY_MB / 1024 * math.ceil(run["batch_p50_ms"]) / 1000
    dollars = {
        "dynamodb": per_entry_rru * prices.DYNAMODB_PER_MILLION_RRU + per_entry_wru * prices.DYNAMODB_PER_MILLION_WRU,
        "lambda_requests": invocations * prices.LAMBDA_PER_MILLION_REQUESTS / 1_000_000,
        "lambda_duration": invocations * gb_s * prices.LAMBDA_ARM64_PER_GB_S,
    }
    return {
        "requests_per_entry": sum(run["requests"].values()) / run["entries"],
        "read_units_per_entry": per_entry_rru,
        "write_units_per_entry": per_entry_wru,
        "invocations_per_million": invocations,
        "dollars_per_million_entries": {**dollars, "total": sum(dollars.values())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100, help="records per invocation (BatchSize)")
    args = parser.parse_args(argv)

    counter = RequestCounter()
    counter.install()
    with dynamodb_local.start(_free_port()) as ddb:
        _point_at(ddb.endpoint)
        create_table(dynamodb_local.dynamodb_client(ddb.endpoint), TABLE, dynamodb_local.REPO_ROOT / "template.yaml")
        from infra.bench.sweeper import _world
        from tollgate.core.clock import FixedClock
        from tollgate.core.models import LicenseKey, Principal
        from tollgate.reports.rules import rollups_of
        from tollgate.reports.store import DynamoUsageRepository
        from tollgate.reports.store_stream import UsageAggregator
        from tollgate.tenancy.service import SignupRequest

        clock = FixedClock(int(time.time()))
        world = _world(clock)
        tenants = []
        for n in range(args.tenants):
            issued = world["tenants"].sign_up(SignupRequest(f"Bench {n}", f"u{n}@bench.example", "us-east-1"), None)
            world["pool"].grant(issued.owner_key.key.tenant_id, args.entries * 10, "bench", "operator:bench")
            owner = world["tenants"].authenticate(issued.owner_key.secret)
            key = LicenseKey(f"lk_bench{n}", owner.tenant_id, "k", "d", "h", ("us-east-1",), clock.now())
            tenants.append(Principal(tenant=owner.tenant, key_id=key.id, license_key=key))
        for n in range(args.entries):
            world["pool"].consume(tenants[n % args.tenants], "build", 1 + n % 3, f"bench-{n}")
            if n % 500 == 499:
                clock.advance(3 * 3600)  # a few UTC days of usage
        records = _records(tenants)
        batches = [records[i : i + args.batch] for i in range(0, len(records), args.batch)]
        usage = DynamoUsageRepository()
        aggregator = UsageAggregator(usage, lambda message, fields: print(message, fields))
        first = _run(aggregator, batches, counter)
        again = _run(aggregator, batches, counter)  # the same batches: DynamoDB replays each by its token
        half = args.batch // 2  # batches cut elsewhere: every chunk refused, then entry by entry
        shifted = _run(
            aggregator,
            [records[:half]] + [records[i : i + args.batch] for i in range(half, len(records), args.batch)],
            counter,
        )
        for tenant in tenants:
            kept = sorted(usage.all_lines(tenant.tenant_id), key=str)
            assert kept == sorted(rollups_of(usage.ledger(tenant.tenant_id)), key=str), tenant.tenant_id
        report = {
            "entries": args.entries,
            "tenants": args.tenants,
            "batch_size": args.batch,
            "first_delivery": first,
            "first_delivery_per_million": _per_million(first, args.batch),
            "same_batches_delivered_again": again,
            "same_batches_again_per_million": _per_million(again, args.batch),
            "batches_cut_elsewhere_delivered_again": shifted,
            "cut_elsewhere_again_per_million": _per_million(shifted, args.batch),
            "prices": {"as_of": prices.AS_OF, "region": prices.REGION},
            "memory_mb": MEMORY_MB,
        }
        print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
