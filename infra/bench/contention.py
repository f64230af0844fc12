"""Contended consumption through the whole local stack, on DynamoDB Local.

    .venv/bin/python -m infra.bench.contention [--clients 32] [--requests 640] [--workers 32]

Starts the local stack in-process (gateway with ``--workers`` Lambda-like worker processes, DynamoDB Local,
Stripe stand-in, all on free ports), signs a tenant up, grants it fewer tokens than the clients will ask
for, and sends ``--requests`` consumes of 1 token from ``--clients`` threads at once over HTTP. Prints the
throughput of answered requests, the latency of debits and refusals, and checks the invariants: exactly as
many debits as the grant covers, the balance never below zero, the ledger summing to the balance.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.bench.measure import percentile
from infra.local.stack import LocalStack, StackSettings


def _call(method: str, url: str, body: Any = None, token: str | None = None, **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def run(clients: int, requests: int, workers: int) -> dict[str, Any]:
    settings = StackSettings.from_env(
        {"TOLLGATE_API_PORT": "0", "TOLLGATE_DDB_PORT": "0", "TOLLGATE_STRIPE_PORT": "0"},
        workers=workers,
        schedules=False,
    )
    stack = LocalStack(settings)
    stack.start()
    try:
        api = stack.api_url
        status, signed_up = _call("POST", f"{api}/v1/tenants", {"name": "Bench", "email": "bench@example.com"})
        assert status == 201, signed_up
        owner, tenant_id = signed_up["api_key"]["secret"], signed_up["tenant"]["id"]
        status, member = _call("POST", f"{api}/v1/api-keys", {"name": "sdk", "role": "member"}, owner)
        assert status == 201, member
        grant = requests * 3 // 4
        os.environ["TABLE_NAME"] = settings.table_name
        os.environ["TOLLGATE_DDB_ENDPOINT"] = f"http://127.0.0.1:{settings.ddb_port}"
        from tollgate import services

        services.pool_service().grant(tenant_id, grant, "contention benchmark", "operator:bench")
        token = member["api_key"]["secret"]

        def consume(_: int) -> tuple[int, float]:
            start = time.perf_counter()
            code, _body = _call(
                "POST", f"{api}/v1/consume", {"feature": "build"}, token, **{"Idempotency-Key": uuid.uuid4().hex}
            )
            return code, (time.perf_counter() - start) * 1000

        # Warm every worker (Lambda environment) first: cold imports on a 2-core machine are not the subject.
        with ThreadPoolExecutor(workers) as pool:
            for _ in range(3):
                list(pool.map(lambda _: _call("POST", f"{api}/v1/consume", {}, token), range(workers)))
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(consume, range(requests)))
        elapsed = time.perf_counter() - started
        _, balance = _call("GET", f"{api}/v1/balance", token=owner)
        _, ledger = _call("GET", f"{api}/v1/ledger?limit=200", token=owner)
        entries, cursor = ledger["entries"], ledger["next_cursor"]
        while cursor:
            _, page = _call("GET", f"{api}/v1/ledger?limit=200&cursor={cursor}", token=owner)
            entries, cursor = entries + page["entries"], page["next_cursor"]
        debits = [ms for code, ms in results if code == 200]
        refusals = [ms for code, ms in results if code == 402]
        return {
            "clients": clients,
            "requests": requests,
            "gateway_workers": workers,
            "granted": grant,
            "debited": len(debits),
            "refused_402": len(refusals),
            "other": len(results) - len(debits) - len(refusals),
            "final_balance": balance["balance"],
            "ledger_sum": sum(entry["amount"] for entry in entries),
            "seconds": round(elapsed, 2),
            "answers_per_s": round(len(results) / elapsed, 1),
            "debits_per_s": round(len(debits) / elapsed, 1),
            "debit_latency_ms": {"p50": round(percentile(debits, 50), 1), "p95": round(percentile(debits, 95), 1)},
            "refusal_latency_ms": {
                "p50": round(percentile(refusals, 50), 1),
                "p95": round(percentile(refusals, 95), 1),
            },
            "invariants_hold": len(debits) == grant
            and balance["balance"] == 0
            and sum(entry["amount"] for entry in entries) == 0,
        }
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench.contention", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--workers", type=int, default=16, help="gateway worker processes (Lambda environments)")
    args = parser.parse_args(argv)
    figures = run(args.clients, args.requests, args.workers)
    print(json.dumps(figures, indent=2))
    return 0 if figures["invariants_hold"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
