"""``python -m infra.bench``: the figures of docs/performance.md, in one run on DynamoDB Local.

1. DynamoDB requests per validation and per consumption, counted on botocore's ``before-send`` hook of every
   client (pynamodb's too), with the capacity units DynamoDB reports (``ReturnConsumedCapacity``).
2. The validation function's import time against the floor (import botocore, create one DynamoDB client),
   each in fresh interpreters, interleaved, median of ``--import-runs``; every other function too (SPEC: <= x1.5).
3. A validation through the handler (in-process, payload-2.0 event, timed from the event handed over to the
   answer returned) against the bare BatchGetItem it needs,
   alternating on the same DynamoDB Local: p50 and p95 and their ratios.
4. Dollars per million validations and debits, from those figures and the prices in ``prices.py``.
5. Allowances through the vendor SDK (``allowances.py``): uses per pool write with block=100, dollars per
   million uses, ``spend()`` p50.

It starts its own DynamoDB Local (``infra.local.dynamodb_local``) unless given ``--endpoint``, and creates a
fresh table from template.yaml, so it can also run next to a running local stack.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from infra.bench import actions, allowances, prices
from infra.bench.measure import RequestCounter, percentile, stdout_bytes, time_imports

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
VALIDATE_MEMORY_MB = 1024  # as template.yaml's ValidateFunction
USAGE_MEMORY_MB = 1024  # as template.yaml's UsageFunction
COUNTED_CALLS = 20


class _NoPayments:
    def create_customer(self, tenant_id: str, name: str, email: str, idempotency_key: str) -> str:  # noqa: ARG002
        return f"cus_bench_{tenant_id[-8:]}"


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="use this DynamoDB Local instead of starting one")
    parser.add_argument("--port", type=int, default=0, help="port for the DynamoDB Local it starts (0: any free)")
    parser.add_argument("--calls", type=int, default=400, help="validations timed for the latency ratio")
    parser.add_argument("--consumes", type=int, default=100, help="consumptions timed for the debit cost")
    parser.add_argument("--allowance-uses", type=int, default=10_000, help="uses spent through one allowance")
    parser.add_argument("--import-runs", type=int, default=11, help="fresh interpreters per import variant")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(method: str, path: str, token: str, body: Any, **headers: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "authorization": f"Bearer {token}", **headers},
        "requestContext": {
            "requestId": uuid.uuid4().hex,
            "http": {"method": method, "path": path, "sourceIp": "127.0.0.1", "protocol": "HTTP/1.1"},
            "stage": "$default",
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _environment(endpoint: str, table: str) -> dict[str, str]:
    from infra.local.stack import generate_signing_key_pem

    return {
        "TABLE_NAME": table,
        "TOLLGATE_DDB_ENDPOINT": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "RECEIPT_SIGNING_KEY": generate_signing_key_pem(),
        "CREDENTIAL_PEPPER": "bench-pepper",
        "WEBHOOK_SEALING_KEYS": "bench1=bench-webhook-sealing-key-not-secret-0123",
        "STRIPE_API_KEY": "sk_test_bench",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "TollgateBench",
        "POWERTOOLS_SERVICE_NAME": "bench",
    }


def bare_read_keys(tenant_id: str, license_key: str) -> list[dict[str, Any]]:
    """The item keys of the read a validation needs (tenant and license key): the benchmark's bare read."""
    from tollgate.kernel import keys

    return [
        {"pk": {"S": keys.tenant_pk(tenant_id)}, "sk": {"S": sk}}
        for sk in (keys.TENANT_SK, keys.license_key_sk(license_key.split(".")[2]))
    ]


def _seed() -> tuple[str, str]:
    """A tenant with tokens, a feature, and a license key for it; returns (license key, tenant id)."""
    from tollgate import services
    from tollgate.core.clock import SYSTEM_CLOCK
    from tollgate.core.ids import RANDOM_IDS
    from tollgate.core.models import Feature
    from tollgate.keys.service import NewLicenseKey
    from tollgate.tenancy.service import SignupRequest, TenantService
    from tollgate.tenancy.store import DynamoTenantRepository

    tenants = TenantService(DynamoTenantRepository(), _NoPayments(), SYSTEM_CLOCK, RANDOM_IDS, lambda: "bench")
    signed_up = tenants.sign_up(SignupRequest("Bench", "bench@example.com", REGION), None)
    owner = tenants.authenticate(signed_up.owner_key.secret)
    services.catalog().put_feature(Feature("bench", cost_per_use=1, cost_per_hour=0))
    services.pool_service().grant(owner.tenant_id, 10_000_000, "benchmark", "operator:bench")
    issued = services.license_key_service().issue(
        owner, NewLicenseKey(name="bench", regions=("*",), features=("bench",))
    )
    return issued.secret, owner.tenant_id


def _bench_policy(tenant_id: str) -> None:
    """Five rules that the bench's consume walks through without a match, then allowed by the default."""
    from tollgate.approvals.store_policy import put_policy
    from tollgate.core.clock import SYSTEM_CLOCK

    rules = [
        {"id": "no-leases", "effect": "deny", "match": {"actions": ["lease"]}},
        {
            "id": "nights",
            "effect": "deny",
            "match": {
                "features": ["deploy"],
                "schedule": {"days": ["sun"], "from": "23:00", "to": "23:01", "timezone": "Europe/Berlin"},
            },
        },
        {"id": "prod", "effect": "deny", "match": {"environments": ["production"]}},
        {"id": "huge", "effect": "deny", "match": {"actions": ["consume"], "min_tokens": 1_000_000}},
        {"id": "deploys", "effect": "deny", "match": {"actions": ["deploy.*"], "features": ["deploy"]}},
    ]
    put_policy(tenant_id, {"default_effect": "allow", "rules": rules}, 0, SYSTEM_CLOCK.now(), "operator:bench")


def _count(counter: RequestCounter, call: Any, calls: int) -> dict[str, Any]:
    counter.ask_capacity = True
    counter.reset()
    with stdout_bytes() as logged:
        for _ in range(calls):
            call()
    counter.ask_capacity = False
    return {
        "requests_per_call": counter.total / calls,
        "operations": {name: n / calls for name, n in counter.requests.items()},
        "read_units_per_call": counter.read_units / calls,
        "write_units_per_call": counter.write_units / calls,
        "log_bytes_per_call": logged[0] / calls,
    }


def _timed(call: Any) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95), "n": len(values)}


def measure(args: argparse.Namespace, endpoint: str) -> dict[str, Any]:
    table = f"tollgate-bench-{uuid.uuid4().hex[:8]}"
    os.environ.update(_environment(endpoint, table))
    counter = RequestCounter()
    counter.install()  # before any DynamoDB client exists, so every one is counted

    from infra.local.dynamodb_local import dynamodb_client
    from infra.local.tables import create_table

    create_table(dynamodb_client(endpoint), table, TEMPLATE)
    license_key, tenant_id = _seed()

    validate_app = _load("bench_validate_app", ROOT / "functions" / "validate" / "app.py")
    usage_path = ROOT / "functions" / "usage" / "app.py"
    usage_app = _load("bench_usage_app", usage_path) if usage_path.exists() else None

    def validation_event() -> dict[str, Any]:
        return _event("POST", "/v1/validate", license_key, {"feature": "bench"})

    def check_valid(answer: dict[str, Any]) -> None:
        assert answer["statusCode"] == 200, answer
        assert json.loads(answer["body"])["code"] == "VALID", answer

    def validate() -> None:
        check_valid(validate_app.handler(validation_event(), _Context()))

    def timed_validation() -> float:
        """The handler alone: the event is built before (Lambda hands it over) and the answer read after."""
        event, context = validation_event(), _Context()
        start = time.perf_counter()
        answer = validate_app.handler(event, context)
        elapsed = (time.perf_counter() - start) * 1000
        check_valid(answer)
        return elapsed

    def consume(**headers: str) -> None:
        assert usage_app is not None
        event = _event(
            "POST",
            "/v1/consume",
            license_key,
            {"feature": "bench"},
            **{"idempotency-key": uuid.uuid4().hex},
            **headers,
        )
        answer = usage_app.handler(event, _Context())
        assert answer["statusCode"] == 200, answer

    def consume_minimal() -> None:
        """The SDK's hot path: ``Prefer: return=minimal``; the key is taken from this container's memory."""
        consume(prefer="return=minimal")

    from tollgate.kernel.client import new_client

    bare_client = new_client(endpoint)
    bare_keys = bare_read_keys(tenant_id, license_key)

    def bare_read() -> None:
        timed_bare_read()

    def timed_bare_read() -> float:
        """The read validation needs, through the same client configuration, timed as the handler is."""
        request = {table: {"Keys": bare_keys, "ConsistentRead": True}}
        start = time.perf_counter()
        found = bare_client.batch_get_item(RequestItems=request)
        elapsed = (time.perf_counter() - start) * 1000
        assert len(found["Responses"][table]) == 2
        return elapsed

    figures: dict[str, Any] = {"endpoint": endpoint, "table": table}
    figures["validate_counts"] = _count(counter, validate, COUNTED_CALLS)
    figures["consume_counts"] = _count(counter, consume, COUNTED_CALLS) if usage_app else None
    if usage_app:
        consume_minimal()  # the container reads the key once; every call after it is one write
    figures["consume_minimal_counts"] = _count(counter, consume_minimal, COUNTED_CALLS) if usage_app else None
    if usage_app:
        _bench_policy(tenant_id)  # a policy of structured rules, no condition: the spend's write checks its version
        consume_minimal()  # the container reads the new policy once (its cached version no longer holds)
    figures["consume_minimal_policy_counts"] = _count(counter, consume_minimal, COUNTED_CALLS) if usage_app else None

    if usage_app:
        figures["allowances"] = allowances.measure(
            usage_app, _Context(), license_key, "bench", counter, args.allowance_uses, USAGE_MEMORY_MB
        )
    approvals_path = ROOT / "functions" / "approvals" / "app.py"
    if approvals_path.exists():  # after the others: it puts a policy on the tenant
        approvals_app = _load("bench_approvals_app", approvals_path)
        figures["action_counts"] = actions.measure(
            approvals_app,
            _Context(),
            license_key,
            tenant_id,
            "bench",
            _event,
            lambda call: _count(counter, call, COUNTED_CALLS),
        )

    handler_ms: list[float] = []
    bare_ms: list[float] = []
    with stdout_bytes():
        for _ in range(30):  # warm-up: connections open, caches filled
            validate()
            bare_read()
        for _ in range(args.calls):
            handler_ms.append(timed_validation())
            bare_ms.append(timed_bare_read())
        consume_ms = [_timed(consume) for _ in range(args.consumes)] if usage_app else []
        minimal_ms = [_timed(consume_minimal) for _ in range(args.consumes)] if usage_app else []
    figures["latency"] = {
        "handler": _summary(handler_ms),
        "bare_batch_get": _summary(bare_ms),
        "ratio_p50": percentile(handler_ms, 50) / percentile(bare_ms, 50),
        "ratio_p95": percentile(handler_ms, 95) / percentile(bare_ms, 95),
        "consume_handler": _summary(consume_ms) if consume_ms else None,
        "consume_minimal_handler": _summary(minimal_ms) if minimal_ms else None,
    }

    floor = (
        "import botocore.session\n"
        f"botocore.session.get_session().create_client('dynamodb', region_name={REGION!r}, endpoint_url={endpoint!r})"
    )
    variants = {"floor": ([], floor), "validate": (["functions/validate", "shared"], "import app")}
    for function in sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py")):
        variants.setdefault(function, ([f"functions/{function}", "shared"], "import app"))  # SPEC: <= x1.5
    variants["floor + Powertools Logger"] = ([], floor + "\nfrom aws_lambda_powertools import Logger")
    # what validate adds in modules alone (its client is the floor's): the rest of its figure is not imports
    variants["floor + validate's modules"] = (
        ["functions/validate", "shared"],
        floor
        + "\nimport tollgate.validation_services, tollgate.core.jsonlog, tollgate.edge.errors, tollgate.edge.routes"
        + "\nimport tollgate.keys.routes_validation",
    )
    timings = time_imports(variants, args.import_runs, ROOT, os.environ)
    base = timings["floor"]
    figures["imports"] = {
        name: {
            "wall_ms": round(t.wall, 1),
            "cpu_ms": round(t.cpu, 1),
            "ratio_wall": round(t.wall / base.wall, 3),
            "ratio_cpu": round(t.cpu / base.cpu, 3),
            "runs": len(t.wall_ms),
        }
        for name, t in timings.items()
    }

    v = figures["validate_counts"]
    figures["cost_per_million_validations"] = asdict(
        prices.per_million(
            rru=v["read_units_per_call"],
            wru=v["write_units_per_call"],
            billed_ms=math.ceil(percentile(handler_ms, 50)),
            memory_mb=VALIDATE_MEMORY_MB,
            log_bytes=v["log_bytes_per_call"],
        )
    )
    for counts_key, call_ms, cost_key in (
        ("consume_minimal_counts", minimal_ms, "cost_per_million_debits"),
        ("consume_counts", consume_ms, "cost_per_million_debits_full_answer"),
    ):
        c = figures[counts_key]
        if c:
            figures[cost_key] = asdict(
                prices.per_million(
                    rru=c["read_units_per_call"],
                    wru=c["write_units_per_call"],
                    billed_ms=math.ceil(percentile(call_ms, 50)),
                    memory_mb=USAGE_MEMORY_MB,
                    log_bytes=c["log_bytes_per_call"],
                )
            )
    return figures


def _print(figures: dict[str, Any]) -> None:
    out = sys.stdout.write
    out(f"\nTollgate benchmark on DynamoDB Local at {figures['endpoint']} (table {figures['table']})\n\n")
    for name, key in (
        ("validate", "validate_counts"),
        ("consume (Prefer: return=minimal, the SDK's path)", "consume_minimal_counts"),
        ("consume (full answer, balance_after)", "consume_counts"),
        ("consume (minimal) under a 5-rule policy, no condition", "consume_minimal_policy_counts"),
    ):
        counts = figures[key]
        if counts is None:
            out(f"DynamoDB requests per {name}: SKIPPED (functions/usage/app.py not present)\n")
            continue
        ops = ", ".join(f"{op} x{n:g}" for op, n in sorted(counts["operations"].items()))
        out(
            f"DynamoDB requests per {name}: {counts['requests_per_call']:g} ({ops}); "
            f"RRU {counts['read_units_per_call']:g}, WRU {counts['write_units_per_call']:g}; "
            f"log {counts['log_bytes_per_call']:.0f} B\n"
        )
    if figures.get("action_counts"):
        out(actions.report(figures["action_counts"], figures.get("consume_counts")))
    out("\nImport time (fresh interpreters, median; ratio to the floor):\n")
    for name, t in figures["imports"].items():
        out(
            f"  {name:28s} wall {t['wall_ms']:7.1f} ms  x{t['ratio_wall']:.3f}   "
            f"cpu {t['cpu_ms']:7.1f} ms  x{t['ratio_cpu']:.3f}   (n={t['runs']})\n"
        )
    lat = figures["latency"]
    h, b = lat["handler"], lat["bare_batch_get"]
    out(
        f"\nValidation latency, handler vs bare BatchGetItem (n={h['n']}):\n"
        f"  p50 {h['p50_ms']:.3f} ms vs {b['p50_ms']:.3f} ms  x{lat['ratio_p50']:.3f}\n"
        f"  p95 {h['p95_ms']:.3f} ms vs {b['p95_ms']:.3f} ms  x{lat['ratio_p95']:.3f}\n"
    )
    for label, key in (("minimal", "consume_minimal_handler"), ("full answer", "consume_handler")):
        if lat[key]:
            c = lat[key]
            timing = f"p50 {c['p50_ms']:.2f} ms, p95 {c['p95_ms']:.2f} ms"
            out(f"Consume ({label}) through the handler (n={c['n']}): {timing}\n")
    out(f"\nDollars per million ({prices.REGION}, prices as of {prices.AS_OF}; see infra/bench/prices.py):\n")
    for label, key in (
        ("validations", "cost_per_million_validations"),
        ("debits", "cost_per_million_debits"),
        ("debits, full answer", "cost_per_million_debits_full_answer"),
    ):
        cost = figures.get(key)
        if not cost:
            continue
        total = sum(cost.values())
        parts = ", ".join(f"{name} ${value:.4f}" for name, value in cost.items())
        out(f"  {label:20s} ${total:.4f}  ({parts})\n")
    if figures.get("allowances"):
        out(allowances.report(figures["allowances"]))
    out("\n")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    handle = None
    if args.endpoint is None:
        from infra.local import dynamodb_local

        handle = dynamodb_local.start(args.port or _free_port())
    try:
        figures = measure(args, args.endpoint or handle.endpoint)  # type: ignore[union-attr]
    finally:
        if handle is not None:
            handle.stop()
    _print(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
