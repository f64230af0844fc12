"""``python -m infra.bench.budgets``: what budget levels cost a debit, on DynamoDB Local (docs/performance.md,
"Budgets").

For a license key with no budget level but the tenant's (no project, no environment) and for one whose spend
is charged at all four levels (tenant, project, environment, key; each with a limit, the tenant's monthly):

1. DynamoDB requests per consume (``Prefer: return=minimal``, the key from the container's memory), counted on
   botocore's ``before-send`` hook (``measure.RequestCounter``): it must stay 1.
2. The items the consume's TransactWriteItems writes, grouped by partition key, each item's size read back:
   the write units each debit puts on the tenant's hottest partition key (a transactional write costs 2 WCU
   per started KB of each item) and the debits per second that allows under DynamoDB's 1,000 WCU per
   partition.
3. The consume through the handler against the bare TransactWriteItems it sends (the captured request sent
   again with fresh keys for its new items), alternating on the same DynamoDB Local: p50 of each and their
   ratio, in one run.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import time
import uuid
from typing import Any

from infra.bench.measure import RequestCounter, percentile
from infra.bench.run import (
    REGION,
    ROOT,
    TEMPLATE,
    _Context,
    _count,
    _environment,
    _event,
    _free_port,
    _load,
    _NoPayments,
)

PARTITION_WCU = 1000  # DynamoDB's write throughput per partition
BIG = 10**12  # limits no bench run reaches


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.bench.budgets", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="use this DynamoDB Local instead of starting one")
    parser.add_argument("--consumes", type=int, default=200, help="consumes timed per variant (and bare writes)")
    return parser.parse_args(argv)


def _seed() -> tuple[str, str, str]:
    """A tenant with tokens, a key with no level but the tenant's, and one charged at all four levels with a
    limit each: (tenant id, plain key, key of four levels)."""
    from tollgate import services
    from tollgate.core.clock import SYSTEM_CLOCK
    from tollgate.core.ids import RANDOM_IDS
    from tollgate.core.models import Feature
    from tollgate.keys.service import NewLicenseKey
    from tollgate.tenancy.service import SignupRequest, TenantService
    from tollgate.tenancy.store import DynamoTenantRepository

    tenants = TenantService(DynamoTenantRepository(), _NoPayments(), SYSTEM_CLOCK, RANDOM_IDS, lambda: "bench")
    owner = tenants.authenticate(
        tenants.sign_up(SignupRequest("Bench", "b@example.com", REGION), None).owner_key.secret
    )
    services.catalog().put_feature(Feature("bench", cost_per_use=1, cost_per_hour=0))
    services.pool_service().grant(owner.tenant_id, 10_000_000, "benchmark", "operator:bench")
    keys = services.license_key_service()
    plain = keys.issue(owner, NewLicenseKey(name="plain", regions=("*",), features=("bench",)))
    project = services.project_service().create(owner, "bench", BIG)
    scoped = keys.issue(
        owner,
        NewLicenseKey(
            name="scoped", regions=("*",), features=("bench",), project_id=project.id, environment="production"
        ),
    )
    budgets = services.budget_service()
    budgets.put(owner, "tenant", BIG, "month")
    budgets.put(owner, f"environment:{project.id}:production", BIG)
    budgets.put(owner, f"key:{scoped.key.id}", BIG)
    return owner.tenant_id, plain.secret, scoped.secret


class _Capture:
    """The last TransactWriteItems request the kernel sent (through pynamodb's shared connection)."""

    def __init__(self) -> None:
        from pynamodb.connection.base import Connection

        self.last: dict[str, Any] | None = None
        original = Connection.dispatch
        capture = self

        def dispatch(connection: Any, operation: str, kwargs: dict[str, Any]) -> Any:
            if operation == "TransactWriteItems":
                capture.last = copy.deepcopy(kwargs)
            return original(connection, operation, kwargs)

        Connection.dispatch = dispatch  # type: ignore[method-assign,assignment]


def _item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size, near enough: attribute names plus values (numbers about one byte per two digits)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        kind, data = next(iter(value.items()))
        if kind == "S":
            size += len(data.encode())
        elif kind == "N":
            size += math.ceil(len(data.lstrip("-").replace(".", "")) / 2) + 1
        elif kind == "BOOL":
            size += 1
        else:
            size += len(str(data).encode())
    return size


def _hottest(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The items of one consume's transaction by partition key, each costed at 2 WCU per started KB."""
    by_key: dict[str, list[tuple[str, int]]] = {}
    for entry in request["TransactItems"]:
        body = next(iter(entry.values()))
        key = body.get("Key") or {"pk": body["Item"]["pk"], "sk": body["Item"]["sk"]}
        # a ConditionCheck in a write transaction is billed as a transactional write too
        stored = client.get_item(TableName=body["TableName"], Key=key, ConsistentRead=True).get("Item", {})
        units = 2 * max(1, math.ceil(_item_size(stored) / 1024))
        by_key.setdefault(key["pk"]["S"], []).append((key["sk"]["S"].split("#", 1)[0], units))
    pk, items = max(by_key.items(), key=lambda pair: sum(units for _, units in pair[1]))
    wcu = sum(units for _, units in items)
    return {
        "hottest_partition_items": sorted(name for name, _ in items),
        "hottest_partition_wcu_per_debit": wcu,
        "debits_per_s_under_1000_wcu": PARTITION_WCU // wcu,
        "items_written": sum(len(found) for found in by_key.values()),
        "hottest_is_tenant_partition": pk.count("#") == 1,
    }


def _fresh(request: dict[str, Any]) -> dict[str, Any]:
    """The captured transaction again, its new items (ledger entry, idempotency record) under fresh keys."""
    again = copy.deepcopy(request)
    suffix = uuid.uuid4().hex
    for entry in again["TransactItems"]:
        put = entry.get("Put")
        if put is not None:
            put["Item"]["sk"] = {"S": put["Item"]["sk"]["S"] + "#" + suffix}
    again["ClientRequestToken"] = suffix[:32]
    return again


def measure(args: argparse.Namespace, endpoint: str) -> dict[str, Any]:
    os.environ.update(_environment(endpoint, f"tollgate-bench-{uuid.uuid4().hex[:8]}"))
    counter = RequestCounter()
    counter.install()
    capture = _Capture()

    from infra.local.dynamodb_local import dynamodb_client
    from infra.local.tables import create_table
    from tollgate.kernel.client import new_client

    create_table(dynamodb_client(endpoint), os.environ["TABLE_NAME"], TEMPLATE)
    _, plain, scoped = _seed()
    usage_app = _load("bench_budgets_usage_app", ROOT / "functions" / "usage" / "app.py")
    bare = new_client(endpoint)

    def consumer(secret: str) -> Any:
        def consume() -> None:
            headers = {"idempotency-key": uuid.uuid4().hex, "prefer": "return=minimal"}
            answer = usage_app.handler(
                _event("POST", "/v1/consume", secret, {"feature": "bench"}, **headers), _Context()
            )
            assert answer["statusCode"] == 200, answer

        return consume

    figures: dict[str, Any] = {}
    for name, secret in (("without levels", plain), ("four levels", scoped)):
        consume = consumer(secret)
        consume()  # the container reads the key once; every call after it is one write
        counts = _count(counter, consume, 20)
        assert capture.last is not None
        request = capture.last
        handler_ms: list[float] = []
        bare_ms: list[float] = []
        for _ in range(args.consumes):
            start = time.perf_counter()
            consume()
            handler_ms.append((time.perf_counter() - start) * 1000)
            again = _fresh(request)
            start = time.perf_counter()
            bare.transact_write_items(**again)
            bare_ms.append((time.perf_counter() - start) * 1000)
        handler_p50, bare_p50 = percentile(handler_ms, 50), percentile(bare_ms, 50)
        figures[name] = {
            "requests_per_consume": counts["requests_per_call"],
            "operations": counts["operations"],
            "write_units_reported_per_consume": counts["write_units_per_call"],
            **_hottest(bare, request),
            "handler_p50_ms": round(handler_p50, 3),
            "bare_transact_p50_ms": round(bare_p50, 3),
            "p50_ratio": round(handler_p50 / bare_p50, 3),
            "n": args.consumes,
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    import json

    args = _parse(argv)
    handle = None
    if args.endpoint is None:
        from infra.local import dynamodb_local

        handle = dynamodb_local.start(_free_port())
    try:
        figures = measure(args, args.endpoint or handle.endpoint)  # type: ignore[union-attr]
    finally:
        if handle is not None:
            handle.stop()
    for name, found in figures.items():
        print(
            f"consume, {name}: {found['requests_per_consume']:g} DynamoDB request(s) {found['operations']}; "
            f"{found['items_written']} items written, {found['hottest_partition_wcu_per_debit']} WCU on the tenant's "
            f"hottest partition key ({', '.join(found['hottest_partition_items'])}) -> "
            f"{found['debits_per_s_under_1000_wcu']} debits/s under 1,000 WCU; handler p50 "
            f"{found['handler_p50_ms']} ms vs bare TransactWriteItems p50 {found['bare_transact_p50_ms']} ms: "
            f"x{found['p50_ratio']} (n={found['n']})"
        )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
