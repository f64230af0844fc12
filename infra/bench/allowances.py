"""The allowance figures of ``make bench``: the vendor SDK's ``allowance`` spending through the usage
function, in process (a ``Transport`` that hands each request to the handler as a payload-2.0 event).

One allowance with ``block=100`` spends ``uses`` uses from one thread, every ``spend()`` timed; the
DynamoDB requests and capacity units of the whole run are counted (``RequestCounter``), so the pool
writes (``TransactWriteItems``: the opening and each settlement) and the dollars per million uses come
from what was measured, not assumed.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from infra.bench import prices
from infra.bench.measure import RequestCounter, percentile, stdout_bytes

BLOCK = 100
POOL_WRITE = "TransactWriteItems"


class HandlerTransport:
    """The SDK's ``Transport`` seam, answered by a Lambda handler in process; times every call."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], context: Any) -> None:
        self._handler = handler
        self._context = context
        self.calls_ms: list[float] = []

    def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: Any) -> Any:  # noqa: ARG002
        from tollgate_sdk import HttpResponse

        path = urlsplit(url).path
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {name.lower(): value for name, value in headers.items()},
            "requestContext": {
                "requestId": uuid.uuid4().hex,
                "http": {"method": method, "path": path, "sourceIp": "127.0.0.1", "protocol": "HTTP/1.1"},
                "stage": "$default",
            },
            "body": body.decode() if body else None,
            "isBase64Encoded": False,
        }
        start = time.perf_counter()
        answer = self._handler(event, self._context)
        self.calls_ms.append((time.perf_counter() - start) * 1000)
        return HttpResponse(
            int(answer["statusCode"]),
            {name.lower(): str(value) for name, value in (answer.get("headers") or {}).items()},
            str(answer.get("body") or "").encode(),
        )

    def close(self) -> None:
        pass


def measure(
    usage_app: Any, context: Any, license_key: str, feature: str, counter: RequestCounter, uses: int, memory_mb: int
) -> dict[str, Any]:
    from tollgate_sdk import Tollgate

    transport = HandlerTransport(usage_app.handler, context)
    tg = Tollgate(license_key, "http://bench.invalid", transport=transport)
    spend_ns: list[int] = []
    counter.ask_capacity = True
    counter.reset()
    with stdout_bytes() as logged:
        with tg.allowance(feature, block=BLOCK, wait_s=30.0) as spending:
            clock = time.perf_counter_ns
            for _ in range(uses):
                start = clock()
                spending.spend()
                spend_ns.append(clock() - start)
        record = spending.record
    counter.ask_capacity = False
    assert (record.status, record.charged) == ("settled", uses), record
    requests = spending.reports
    pool_writes = counter.requests.get(POOL_WRITE, 0)
    per_request = prices.per_million(
        rru=counter.read_units / requests,
        wru=counter.write_units / requests,
        billed_ms=math.ceil(percentile(transport.calls_ms, 50)),
        memory_mb=memory_mb,
        log_bytes=logged[0] / requests,
    )
    per_use = {name: value * requests / uses for name, value in asdict(per_request).items()}
    return {
        "block": BLOCK,
        "uses": uses,
        "sdk_requests": requests,
        "dynamodb_requests": dict(counter.requests),
        "pool_writes": pool_writes,
        "uses_per_pool_write": uses / pool_writes if pool_writes else None,
        "read_units": counter.read_units,
        "write_units": counter.write_units,
        "request_p50_ms": percentile(transport.calls_ms, 50),
        "spend_p50_us": percentile([ns / 1000 for ns in spend_ns], 50),
        "spend_p99_us": percentile([ns / 1000 for ns in spend_ns], 99),
        "cost_per_million_uses": per_use,
    }


def report(figures: dict[str, Any]) -> str:
    ops = ", ".join(f"{op} x{n}" for op, n in sorted(figures["dynamodb_requests"].items()))
    cost = figures["cost_per_million_uses"]
    parts = ", ".join(f"{name} ${value:.4f}" for name, value in cost.items())
    return (
        f"\nAllowances (SDK, block={figures['block']}, {figures['uses']} uses from one thread):\n"
        f"  SDK requests {figures['sdk_requests']} (open + settlements); DynamoDB {ops}; "
        f"RRU {figures['read_units']:g}, WRU {figures['write_units']:g}\n"
        f"  uses per pool write {figures['uses_per_pool_write']:.1f}; request p50 {figures['request_p50_ms']:.2f} ms\n"
        f"  spend() p50 {figures['spend_p50_us']:.2f} us, p99 {figures['spend_p99_us']:.2f} us\n"
        f"  dollars per million uses ${sum(cost.values()):.4f}  ({parts})\n"
    )
