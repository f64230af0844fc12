"""``python -m infra.bench.breakdown``: where a validation's time goes, step by step, in place.

The benchmark's latency figure (``infra.bench``) compares the whole handler with the bare read. This wraps
each step of the real handler (credential, body, the read, the records, the decision, the receipt, the log
line, the answer) with a timer and runs validations alternating with bare reads on DynamoDB Local, as the
benchmark does, so each step is timed where it runs: between two DynamoDB requests, whose handling in
botocore evicts what the handler's code and data had in the caches. A step costs two to five times what it
costs in a tight loop; ``--tight`` times the same steps in a loop without I/O, for comparison.

The wrappers cost about a microsecond each; the totals are for reading side by side, not for quoting.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from infra.bench import run
from infra.bench.measure import stdout_bytes


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=800, help="validations (and bare reads) timed")
    parser.add_argument("--tight", action="store_true", help="also time each step in a loop without I/O")
    return parser.parse_args(argv)


def _timed(spent: dict[str, list[float]], label: str, step: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            spent[label].append(time.perf_counter() - start)

    return wrapper


def measure(endpoint: str, calls: int, tight: bool) -> dict[str, tuple[float, float | None]]:
    """Median microseconds per step: (between reads, in a tight loop or None)."""
    table = f"tollgate-breakdown-{uuid.uuid4().hex[:8]}"
    os.environ.update(run._environment(endpoint, table))
    from infra.local.dynamodb_local import dynamodb_client
    from infra.local.tables import create_table

    create_table(dynamodb_client(endpoint), table, run.TEMPLATE)
    license_key, tenant_id = run._seed()
    app: Any = run._load("breakdown_validate_app", run.ROOT / "functions" / "validate" / "app.py")

    import tollgate.keys.service_validation as validation
    import tollgate.keys.store_validation as reader_module
    from tollgate.kernel.client import new_client

    routes: Any = importlib.import_module("tollgate.keys.routes_validation")  # the handler's steps live there
    spent: dict[str, list[float]] = defaultdict(list)
    service = app.validation
    reader = service._reader
    reader._client.batch_get_item = _timed(spent, "read (BatchGetItem)", reader._client.batch_get_item)
    service._signer.sign = _timed(spent, "receipt (JSON, Ed25519, base64)", service._signer.sign)
    routes.presented_key = _timed(spent, "credential (parse, SHA-256)", routes.presented_key)
    routes._request = _timed(spent, "body (JSON, fields)", routes._request)
    routes.logger.info = _timed(spent, "log line", routes.logger.info)
    routes._answer = _timed(spent, "answer (dict)", routes._answer)
    routes._json = _timed(spent, "answer (JSON)", routes._json)
    reader_module.tenant_from_item = _timed(spent, "tenant record", reader_module.tenant_from_item)
    reader_module.license_key_from_item = _timed(spent, "license key record", reader_module.license_key_from_item)
    validation.decide = _timed(spent, "decision", validation.decide)

    bare = new_client(endpoint)
    bare_keys = run.bare_read_keys(tenant_id, license_key)
    handler_s: list[float] = []
    bare_s: list[float] = []
    with stdout_bytes():
        for n in range(calls + 30):
            event, context = run._event("POST", "/v1/validate", license_key, {"feature": "bench"}), run._Context()
            start = time.perf_counter()
            app.handler(event, context)
            handler_s.append(time.perf_counter() - start)
            request = {table: {"Keys": bare_keys, "ConsistentRead": True}}
            start = time.perf_counter()
            bare.batch_get_item(RequestItems=request)
            bare_s.append(time.perf_counter() - start)
            if n == 29:  # warm-up done
                spent.clear()
                handler_s.clear()
                bare_s.clear()
        in_place = {label: statistics.median(values) * 1e6 for label, values in spent.items()}
        in_place["handler, all of it"] = statistics.median(handler_s) * 1e6
        in_place["bare read"] = statistics.median(bare_s) * 1e6
        looped: dict[str, float] = {}
        if tight:
            looped = _tight(app, license_key, spent)
    return {label: (value, looped.get(label)) for label, value in in_place.items()}


def _tight(app: Any, license_key: str, spent: dict[str, list[float]]) -> dict[str, float]:
    """The same steps, the read answered from memory, 2,000 calls in a row."""
    client = app.validation._reader._client
    captured: dict[str, Any] = {}
    real = client.batch_get_item

    def remembered(**kwargs: Any) -> Any:
        if "answer" not in captured:
            captured["answer"] = real(**kwargs)
        return captured["answer"]

    client.batch_get_item = _timed(spent, "read (answered from memory)", remembered)
    event, context = run._event("POST", "/v1/validate", license_key, {"feature": "bench"}), run._Context()
    for _ in range(200):
        app.handler(event, context)
    spent.clear()
    handler_s = []
    for _ in range(2000):
        start = time.perf_counter()
        app.handler(event, context)
        handler_s.append(time.perf_counter() - start)
    looped = {label: statistics.median(values) * 1e6 for label, values in spent.items()}
    looped["handler, all of it"] = statistics.median(handler_s) * 1e6
    return looped


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from infra.local import dynamodb_local

    handle = dynamodb_local.start(run._free_port())
    try:
        figures = measure(handle.endpoint, args.calls, args.tight)
    finally:
        handle.stop()
    out = sys.stdout.write
    out(f"\nA validation step by step, median µs ({args.calls} calls alternating with bare reads):\n\n")
    out(f"  {'step':36s} {'between reads':>14s}" + (f" {'tight loop':>11s}" if args.tight else "") + "\n")
    for label, (in_place, looped) in figures.items():
        tight_text = f" {looped:11.1f}" if looped is not None else (f" {'':>11s}" if args.tight else "")
        out(f"  {label:36s} {in_place:14.1f}{tight_text}\n")
    handler, bare = figures["handler, all of it"][0], figures["bare read"][0]
    read = figures["read (BatchGetItem)"][0]
    out(
        f"\n  the handler's own time (wrappers included): {handler - read:.1f} µs; "
        f"handler vs bare read x{handler / bare:.3f}\n\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
