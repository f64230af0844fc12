"""How long the sweeper takes on a backlog of expired leases, on DynamoDB Local.

    .venv/bin/python -m infra.bench.sweeper [--leases 10000] [--tenants 20] [--workers 1,8]

Starts its own DynamoDB Local (in memory, a free port) and table from template.yaml, opens ``--leases``
leases through the real ``LeaseService`` (spread over ``--tenants`` tenants), moves the clock past their end
and runs ``SweeperService.sweep`` with each ``--workers`` setting on a fresh backlog, with a Lambda-like
300-second budget. It checks the result (every lease expired once, every pool's reservation back to zero,
the ledger explains the balance) and prints one line per run. Stops DynamoDB Local by pid at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.local import dynamodb_local
from infra.local.tables import create_table

TABLE = "tollgate-bench"
LAMBDA_TIMEOUT_MS = 300_000  # SweeperFunction's Timeout in template.yaml
COST_PER_HOUR = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _point_at(endpoint: str) -> None:
    """The data layer reads its settings once, at import: set them before importing it."""
    os.environ.update(
        TABLE_NAME=TABLE,
        TOLLGATE_DDB_ENDPOINT=endpoint,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106  (DynamoDB Local accepts any)
        CREDENTIAL_PEPPER="bench",
    )


def _budget(total_ms: int) -> Callable[[], int]:
    """Like Lambda's ``context.get_remaining_time_in_millis``, for an invocation starting now."""
    deadline = time.monotonic() + total_ms / 1000

    def remaining_ms() -> int:
        return int(1000 * (deadline - time.monotonic()))

    return remaining_ms


def _world(clock: Any) -> dict[str, Any]:
    from tollgate.core.ids import RANDOM_IDS
    from tollgate.core.models import Feature
    from tollgate.holds.service_leases import LeaseService
    from tollgate.holds.store import DynamoLeaseRepository
    from tollgate.pool.service import PoolService
    from tollgate.pool.store import DynamoPoolRepository
    from tollgate.pool.store_expiry import DynamoDueIndex, DynamoExpiry
    from tollgate.purchases.store_catalog import DynamoCatalogRepository
    from tollgate.tenancy.service import TenantService
    from tollgate.tenancy.store import DynamoTenantRepository

    class NoPayments:
        def create_customer(self, tenant_id: str, *_: str, **__: str) -> str:
            return f"cus_{tenant_id}"

    catalog = DynamoCatalogRepository(clock)
    catalog.put_feature(Feature("build", cost_per_use=1, cost_per_hour=COST_PER_HOUR))
    pools = DynamoPoolRepository()
    expiry = DynamoExpiry(clock, RANDOM_IDS)
    return {
        "tenants": TenantService(DynamoTenantRepository(), NoPayments(), clock, RANDOM_IDS, lambda: "bench"),
        "pool": PoolService(pools, catalog, clock, RANDOM_IDS, settler=expiry),
        "pools": pools,
        "leases": LeaseService(DynamoLeaseRepository(), catalog, clock, RANDOM_IDS, settler=expiry),
        "index": DynamoDueIndex(),
        "expiry": expiry,
    }


def _backlog(world: dict[str, Any], leases: int, tenants: int) -> list[Any]:
    """Open ``leases`` one-hour leases over ``tenants`` fresh tenants; returns their principals."""
    from tollgate.tenancy.service import SignupRequest

    callers = []
    for n in range(tenants):
        issued = world["tenants"].sign_up(SignupRequest(f"Bench {n}", f"b{n}@bench.example", "us-east-1"), None)
        world["pool"].grant(issued.owner_key.key.tenant_id, leases * COST_PER_HOUR, "bench", "operator:bench")
        callers.append(world["tenants"].authenticate(issued.owner_key.secret))

    def one(n: int) -> None:
        world["leases"].open(callers[n % tenants], "build", 600, f"bench-{n}")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(leases)))
    return callers


def _check(world: dict[str, Any], callers: list[Any], leases: int) -> None:
    charged = 0
    for caller in callers:
        pool = world["pools"].pool(caller.tenant_id)
        entries, cursor = [], None
        while True:
            page = world["pool"].ledger(caller, cursor, 200)
            entries += page.entries
            cursor = page.cursor
            if cursor is None:
                break
        assert pool.reserved == 0, f"{caller.tenant_id} still holds {pool.reserved}"
        assert sum(e.amount for e in entries) == pool.balance, "the ledger does not explain the balance"
        charged += leases * COST_PER_HOUR - pool.balance
    assert charged == leases * COST_PER_HOUR, f"charged {charged}, expected {leases * COST_PER_HOUR}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leases", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--workers", default="1,8", help="comma-separated worker counts, one run each")
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args(argv)

    port = _free_port()
    with dynamodb_local.start(port) as ddb:
        _point_at(ddb.endpoint)
        create_table(dynamodb_local.dynamodb_client(ddb.endpoint), TABLE, dynamodb_local.REPO_ROOT / "template.yaml")
        from tollgate.core.clock import FixedClock
        from tollgate.pool.service_sweeper import SweeperService

        clock = FixedClock(int(time.time()))
        world = _world(clock)
        idle_sweeper = SweeperService(world["index"], world["leases"], world["expiry"], clock)
        idle_sweeper.sweep()  # the first call pays for the connection
        started = time.perf_counter()
        idle = idle_sweeper.sweep()
        print(f"nothing due: {1000 * (time.perf_counter() - started):.1f} ms, {idle.pages} query")
        for workers in (int(w) for w in args.workers.split(",")):
            seeded = time.perf_counter()
            callers = _backlog(world, args.leases, args.tenants)
            seed_s = time.perf_counter() - seeded
            clock.advance(3600)
            sweeper = SweeperService(
                world["index"], world["leases"], world["expiry"], clock, page_size=args.page_size, workers=workers
            )
            began = time.perf_counter()
            report = sweeper.sweep(_budget(LAMBDA_TIMEOUT_MS))
            took = time.perf_counter() - began
            _check(world, callers, args.leases)
            print(
                f"workers={workers}: {report.leases_expired} leases expired in {took:.1f} s "
                f"({report.leases_expired / took:.0f}/s), pages={report.pages}, errors={report.errors}, "
                f"remaining={report.remaining}, stopped_early={report.stopped_early} "
                f"(backlog of {args.leases} opened in {seed_s:.1f} s over {args.tenants} tenants)"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
