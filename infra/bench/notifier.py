"""What the notifier costs per million outbox events, on DynamoDB Local.

    .venv/bin/python -m infra.bench.notifier [--events 500] [--endpoints 1] [--batch 100]

Starts its own DynamoDB Local (in memory, a free port), a table from template.yaml and a throwaway HTTP
receiver on 127.0.0.1 that answers 204; creates one tenant with ``--endpoints`` endpoints subscribed to
``purchase.paid``; then hands the notifier's real handler (functions/notifier/app.py) stream batches of
``--batch`` outbox-event records, as Lambda's event source mapping would. It counts every DynamoDB request
and the capacity units DynamoDB reports, per event, and the handler's time per batch, and prices them
(``prices.py``): Lambda invocations (one per full batch) and GB-seconds at the function's 512 MB, DynamoDB
read and write units. Stream reads by Lambda are free; the event item itself is written (and paid) by the
change that caused it. A run with a failing receiver (500) shows what a first failure adds (the endpoint's
``failing_since`` and a pending delivery on ``by_due``). Stops DynamoDB Local and the receiver at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.bench import prices
from infra.bench.measure import RequestCounter, percentile, stdout_bytes

ROOT = Path(__file__).resolve().parents[2]
NOTIFIER_MEMORY_MB = 512  # template.yaml's Globals (NotifierFunction sets no MemorySize of its own)
TENANT = "tn_benchbenchbench0"


class _BilledCounter(RequestCounter):
    """Also counts what AWS bills, from the requests sent (DynamoDB Local under-reports transactions and
    batch reads): 2 WRU per transactional item under 1 KB, 1 WRU per other write (and per index entry a
    write adds or changes: ``by_due`` when a delivery becomes or stays pending), 1 RRU per key of a
    consistent BatchGetItem or GetItem, 1 RRU per consistent Query of under 4 KB."""

    billed_read: float = 0.0
    billed_write: float = 0.0

    def reset(self) -> None:
        super().reset()
        self.billed_read = self.billed_write = 0.0

    def _ask_capacity(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        super()._ask_capacity(params, model, **kwargs)
        name = model.name
        if name == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                self.billed_write += 2
                put = item.get("Put", {}).get("Item", {})
                if "due_shard" in put:
                    self.billed_write += 1  # the by_due index entry
        elif name == "BatchGetItem":
            self.billed_read += sum(len(r.get("Keys", [])) for r in params.get("RequestItems", {}).values())
        elif name in ("GetItem", "Query"):
            self.billed_read += 1
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.billed_write += 1 + (1 if "due_shard" in params.get("Item", {}) else 0)


class _Context:
    function_name = "bench-notifier"
    memory_limit_in_mb = NOTIFIER_MEMORY_MB
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-notifier"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


def _receiver(status: list[int]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _record(tenant_id: str, event_id: str, at: int, sequence: int) -> dict[str, Any]:
    """An outbox event insert as DynamoDB Streams hands it to Lambda (NEW_AND_OLD_IMAGES)."""
    data = json.dumps({"purchase_id": "pu_bench", "tokens": 1000, "amount": 4900, "currency": "usd"})
    image = {
        "pk": {"S": f"T#{tenant_id}#E"},
        "sk": {"S": f"{at:012d}#{event_id}"},
        "kind": {"S": "event"},
        "type": {"S": "purchase.paid"},
        "data": {"S": data},
    }
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": f"{sequence:021d}",
            "ApproximateCreationDateTime": at,
        },
    }


def measure(args: argparse.Namespace, endpoint: str) -> dict[str, Any]:
    table = f"tollgate-bench-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        TABLE_NAME=table,
        TOLLGATE_DDB_ENDPOINT=endpoint,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 (DynamoDB Local accepts any)
        CREDENTIAL_PEPPER="bench-pepper",
        WEBHOOK_SEALING_KEYS="bench1=bench-webhook-sealing-key-not-secret-0123",
        TOLLGATE_WEBHOOKS_ALLOW_LOOPBACK="true",
        # two shared cores: DynamoDB Local answers slower than AWS (as the local stack allows for)
        TOLLGATE_DDB_READ_TIMEOUT_S="6",
        TOLLGATE_DDB_RETRY_BUDGET_S="8",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="TollgateBench",
        POWERTOOLS_SERVICE_NAME="notifier",
    )
    from infra.local import dynamodb_local
    from infra.local.tables import create_table

    create_table(dynamodb_local.dynamodb_client(endpoint, "us-east-1"), table, ROOT / "template.yaml")
    counter = _BilledCounter()
    counter.install()
    sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "functions" / "notifier")]
    from tollgate.core.clock import SYSTEM_CLOCK
    from tollgate.events.sealing import SecretBox
    from tollgate.events.service_webhooks import EndpointStatus, WebhookEndpoint
    from tollgate.events.signing import new_secret
    from tollgate.events.store_webhooks import DynamoWebhookEndpoints

    status = [204]
    server = _receiver(status)
    try:
        box, now = SecretBox(), SYSTEM_CLOCK.now()
        for n in range(args.endpoints):
            endpoint_id = f"we_bench{n:011d}"
            DynamoWebhookEndpoints().add(
                WebhookEndpoint(
                    id=endpoint_id,
                    tenant_id=TENANT,
                    url=f"http://127.0.0.1:{server.server_address[1]}/hook/{n}",
                    events=("purchase.paid",),
                    description=None,
                    status=EndpointStatus.ENABLED,
                    created_at=now,
                    secret_sealed=box.seal(new_secret(), TENANT, endpoint_id),
                ),
                limit=100,
            )
        import importlib

        app = importlib.import_module("app")
        sequence = 0

        def batch(size: int) -> dict[str, Any]:
            nonlocal sequence
            records = []
            for _ in range(size):
                sequence += 1
                records.append(_record(TENANT, f"ev_bench{sequence:012d}", SYSTEM_CLOCK.now(), sequence))
            result: dict[str, Any] = app.handler({"Records": records}, _Context())
            assert result["batchItemFailures"] == [], result
            return result

        batch(10)  # warm-up: connections, the sealing key, imports
        figures: dict[str, Any] = {"endpoint": endpoint, "table": table, "endpoints": args.endpoints}
        for label, answer in (("delivered", 204), ("first_failure", 500)):
            status[0] = answer
            counter.ask_capacity = True
            counter.reset()
            batch_ms: list[float] = []
            batches = max(1, args.events // args.batch)
            with stdout_bytes() as logged:
                for _ in range(batches):
                    started = time.perf_counter()
                    batch(args.batch)
                    batch_ms.append((time.perf_counter() - started) * 1000)
            counter.ask_capacity = False
            events = batches * args.batch
            per_event = {
                "requests": counter.total / events,
                "operations": {name: n / events for name, n in counter.requests.items()},
                "read_units": counter.billed_read / events,
                "write_units": counter.billed_write / events,
                "reported_read_units": counter.read_units / events,
                "reported_write_units": counter.write_units / events,
                "log_bytes": logged[0] / events,
                "batch_p50_ms": percentile(batch_ms, 50),
            }
            invocations = 1_000_000 / args.batch
            gb_s = NOTIFIER_MEMORY_MB / 1024 * math.ceil(percentile(batch_ms, 50)) / 1000 * invocations
            cost = {
                "lambda_requests": invocations / 1_000_000 * prices.LAMBDA_PER_MILLION_REQUESTS,
                "lambda_duration": gb_s * prices.LAMBDA_ARM64_PER_GB_S,
                "dynamodb": per_event["read_units"] * prices.DYNAMODB_PER_MILLION_RRU
                + per_event["write_units"] * prices.DYNAMODB_PER_MILLION_WRU,
                "logs": per_event["log_bytes"] * 1_000_000 / 1024**3 * prices.CLOUDWATCH_LOGS_PER_GB,
            }
            figures[label] = {"per_event": per_event, "invocations_per_million": invocations, "cost": cost}
        return figures
    finally:
        server.shutdown()
        server.server_close()


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"\nNotifier, per outbox event ({figures['endpoints']} endpoint(s) subscribed; units as AWS bills them,"
        " from the requests sent)"
    ]
    for label, title in (("delivered", "delivered at once"), ("first_failure", "first attempt fails (500)")):
        f = figures[label]
        p = f["per_event"]
        ops = ", ".join(f"{op} x{n:g}" for op, n in sorted(p["operations"].items()))
        total = sum(f["cost"].values())
        parts = ", ".join(f"{name} ${value:.4f}" for name, value in f["cost"].items())
        lines.append(
            f"  {title}: {p['requests']:g} DynamoDB requests ({ops}); RRU {p['read_units']:g}, "
            f"WRU {p['write_units']:g}; log {p['log_bytes']:.0f} B; batch of 100 p50 {p['batch_p50_ms']:.0f} ms"
        )
        lines.append(f"    per million events: {f['invocations_per_million']:,.0f} invocations, ${total:.4f} ({parts})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench.notifier", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events per measured run")
    parser.add_argument("--endpoints", type=int, default=1, help="endpoints subscribed to every event")
    parser.add_argument("--batch", type=int, default=100, help="records per stream batch (BatchSize)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from infra.local import dynamodb_local

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    handle = dynamodb_local.start(port)
    try:
        figures = measure(args, handle.endpoint)
    finally:
        handle.stop()
    sys.stdout.write(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
