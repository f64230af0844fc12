"""``python -m infra.bench.inplace``: what one operation of the validation path costs where the handler runs it.

The handler runs between two DynamoDB requests, and botocore's handling of a request evicts what the
handler's code and data had in the caches: an operation costs there several times what it costs in a tight
loop (``infra.bench.breakdown`` shows it step by step). This times single operations, and the alternatives
tried for them, each right after a bare ``BatchGetItem`` on DynamoDB Local (median of ``--calls``) and in a
tight loop, so a choice on the hot path is made on the figure that matters. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from infra.bench import run

Operation = Callable[[], Any]


def operations() -> dict[str, Operation]:
    """The operations compared: each pair is today's choice and the one it replaced (or was weighed against)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

    from tollgate.core import jsonlog
    from tollgate.tenancy import rules as credentials

    seed = os.urandom(32)
    openssl_key, sodium_key = Ed25519PrivateKey.from_private_bytes(seed), crypto_sign_seed_keypair(seed)[1]
    message = os.urandom(256)
    credential = "tgk_eu-west-1.tn_01m8q0c1prn3fzv5.lk_01m8q0c2e3vvb1h6.abcdefghijklmnopqrstuvwxyz012345"
    claims = {"key_id": "lk_01m8q0c2e3vvb1h6", "code": "VALID", "valid": True, "iat": 1764530000, "exp": 1764530300}
    compact = json.JSONEncoder(separators=(",", ":"))
    return {
        "Ed25519 sign, cryptography (OpenSSL)": lambda: openssl_key.sign(message),
        "Ed25519 sign, PyNaCl (libsodium)": lambda: crypto_sign(message, sodium_key),
        "ISO time, datetime.now().isoformat": lambda: datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
        "ISO time, time.strftime": lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1764530300)),
        "ISO time, jsonlog._timestamp": jsonlog._timestamp,
        "claims JSON, JSONEncoder.encode": lambda: compact.encode(claims),
        "SHA-256 of a license key": lambda: hashlib.sha256(credential.encode()).hexdigest(),
        "license key parsed (regex, SHA-256)": lambda: credentials.parse_license_key(credential),
        "nothing (the timer itself)": lambda: None,
    }


def measure(endpoint: str, calls: int, tight_calls: int = 3000) -> dict[str, tuple[float, float]]:
    """Median microseconds per operation: (right after a bare read, in a tight loop)."""
    table = f"tollgate-inplace-{uuid.uuid4().hex[:8]}"
    os.environ.update(run._environment(endpoint, table))
    from infra.local.dynamodb_local import dynamodb_client
    from infra.local.tables import create_table
    from tollgate.kernel.client import new_client

    create_table(dynamodb_client(endpoint), table, run.TEMPLATE)
    license_key, tenant_id = run._seed()
    request = {table: {"Keys": run.bare_read_keys(tenant_id, license_key), "ConsistentRead": True}}
    client = new_client(endpoint)
    chosen = operations()
    after_read: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(calls):
        for name, operation in chosen.items():
            client.batch_get_item(RequestItems=request)
            start = time.perf_counter()
            operation()
            after_read[name].append(time.perf_counter() - start)
    figures = {}
    for name, operation in chosen.items():
        looped = []
        for _ in range(tight_calls):
            start = time.perf_counter()
            operation()
            looped.append(time.perf_counter() - start)
        figures[name] = (statistics.median(after_read[name]) * 1e6, statistics.median(looped) * 1e6)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="timings of each operation after a read")
    args = parser.parse_args(argv)
    from infra.local import dynamodb_local

    handle = dynamodb_local.start(run._free_port())
    try:
        figures = measure(handle.endpoint, args.calls)
    finally:
        handle.stop()
    out = sys.stdout.write
    out(f"\nOne operation, median µs ({args.calls} after a bare read each; 3,000 in a tight loop):\n\n")
    out(f"  {'operation':42s} {'after a read':>13s} {'tight loop':>11s}\n")
    for name, (in_place, looped) in figures.items():
        out(f"  {name:42s} {in_place:13.1f} {looped:11.2f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
