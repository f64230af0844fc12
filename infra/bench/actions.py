"""The DynamoDB requests of ``POST /v1/actions`` decided by an allow rule (SPEC.md "Targets": one request
more than a consume), counted on the same botocore hook as every other figure of the benchmark.

A policy with one allow rule (for the action ``run``) is put first: the figure is for a real rule, not
for the default of a tenant without a policy. Each call asks for one use of the benchmark's feature, so
each approved action holds one token (the seeded pool has millions).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

RULE = {"id": "runs", "effect": "allow", "match": {"actions": ["run"]}}


def measure(
    approvals_app: ModuleType,
    context: Any,
    license_key: str,
    tenant_id: str,
    feature: str,
    event: Callable[..., dict[str, Any]],
    count: Callable[[Callable[[], None]], dict[str, Any]],
) -> dict[str, Any]:
    from tollgate.approvals.store_policy import put_policy, read_policy

    current = read_policy(tenant_id).version  # over whatever policy the benchmark put before (0: none)
    put_policy(tenant_id, {"default_effect": "allow", "rules": [RULE]}, current, int(time.time()), "operator:bench")

    def request_action() -> None:
        body = {"action": "run", "feature": feature, "quantity": 1}
        answer = approvals_app.handler(
            event("POST", "/v1/actions", license_key, body, **{"idempotency-key": uuid.uuid4().hex}), context
        )
        assert answer["statusCode"] == 200, answer
        assert json.loads(answer["body"])["action"]["rule_id"] == "runs", answer

    request_action()  # warm: the container's clients and the policy's first parse
    return count(request_action)


def report(counts: dict[str, Any], consume: dict[str, Any] | None) -> str:
    ops = ", ".join(f"{op} x{n:g}" for op, n in sorted(counts["operations"].items()))
    line = (
        f"DynamoDB requests per POST /v1/actions (an allow rule): {counts['requests_per_call']:g} ({ops}); "
        f"RRU {counts['read_units_per_call']:g}, WRU {counts['write_units_per_call']:g}"
    )
    if consume:
        line += f"; consume (full answer) + {counts['requests_per_call'] - consume['requests_per_call']:g}"
    return line + "\n"
