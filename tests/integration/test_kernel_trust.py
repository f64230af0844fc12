"""Issue 12's defects around the pool kernel, over real HTTP on the local stack: operator grants that a
retry cannot double, the operator tool on the stack's clock, leases kept only by the key that opened them,
and a refund racing consumers, each ending with ``tollgate audit``."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

from tests.integration.conftest import Stack, http
from tests.integration.test_purchases import buy, pay, stripe_get, stripe_post

pytestmark = pytest.mark.integration
DAY = 86400


def license_key(stack: Stack, owner: str, name: str = "runner") -> str:
    created = stack.call("POST", "/v1/keys", {"name": name, "regions": ["us-east-1"]}, key=owner)
    assert created.status == 201, created.body
    return str(created.body["secret"])


def balance(stack: Stack, owner: str) -> dict[str, Any]:
    answer = stack.call("GET", "/v1/balance", key=owner)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def test_a_repeated_operator_grant_credits_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    args = ("--json", "grant", "--tenant", tenant_id, "--tokens", "250", "--reason", "support credit")
    first = stack.operator(*args, "--idempotency-key", "ticket-4711")
    again = stack.operator(*args, "--idempotency-key", "ticket-4711")  # the operator's retry after a timeout
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"]
    assert balance(stack, owner)["balance"] == 250
    other = stack.operator("--json", "grant", "--tenant", tenant_id, "--tokens", "5", "--reason", "x")
    assert other.returncode == 0 and json.loads(other.stdout)["idempotency_key"]  # generated and printed
    assert balance(stack, owner)["balance"] == 255
    changed = stack.operator(
        "grant", "--tenant", tenant_id, "--tokens", "999", "--reason", "x", "--idempotency-key", "ticket-4711"
    )
    assert changed.returncode == 1 and "IDEMPOTENCY_KEY_REUSED" in changed.stderr
    stack.audit(tenant_id)


def test_the_operator_tool_reads_the_local_stacks_clock(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.advance(40 * DAY)
    before = http("GET", stack.api + "/_local/clock").body["now"]
    stack.grant(tenant_id, 100, "trial", "--valid-days", "1")
    after = http("GET", stack.api + "/_local/clock").body["now"]
    now = balance(stack, owner)
    assert (now["balance"], now["available"]) == (100, 100)  # not born expired
    [lot] = now["lots"]
    ends = datetime.fromisoformat(lot["expires_at"].replace("Z", "+00:00")).timestamp()
    assert before + DAY - 1 <= ends <= after + DAY + 1, (lot, before, after)  # a day from the grant, that clock's
    stack.advance(DAY + 60)
    assert balance(stack, owner)["balance"] == 0  # and it does expire a day later on that clock
    stack.audit(tenant_id)


def test_only_the_key_that_opened_a_lease_keeps_it(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    opener, other = license_key(stack, owner, "a"), license_key(stack, owner, "b")
    opened = stack.call(
        "POST", "/v1/leases", {"feature": "build", "duration_s": 600}, key=opener, Idempotency_Key=uuid.uuid4().hex
    )
    assert opened.status == 201, opened.body
    lease_id = opened.body["lease"]["id"]
    for method, path in (("POST", f"/v1/leases/{lease_id}/heartbeat"), ("DELETE", f"/v1/leases/{lease_id}")):
        refused = stack.call(method, path, key=other)
        assert (refused.status, refused.body["error"]["code"]) == (403, "FORBIDDEN"), refused.body
    assert stack.call("POST", f"/v1/leases/{lease_id}/heartbeat", key=opener).status == 200
    closed = stack.call("DELETE", f"/v1/leases/{lease_id}", key=owner)  # an owner API key may end it
    assert (closed.status, closed.body["lease"]["status"]) == (200, "closed")
    stack.audit(tenant_id)


def test_a_refund_racing_consumers_leaves_the_books_right(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    record = buy(stack, owner)["purchase"]
    pay(stack, record["stripe_session_id"])
    intent = stripe_get(stack, f"/v1/checkout/sessions/{record['stripe_session_id']}")["payment_intent"]

    def spend(_: int) -> int:
        key, body = uuid.uuid4().hex, {"feature": "build", "quantity": 20}
        for attempt in range(6):  # as the SDK does: a 5xx is sent again with the same Idempotency-Key
            answer = stack.call("POST", "/v1/consume", body, key=member, Idempotency_Key=key)
            if answer.status < 500:
                break
            time.sleep(0.2 * 2**attempt)
        return int(answer.status)

    with ThreadPoolExecutor(9) as pool:
        spent = [pool.submit(spend, i) for i in range(24)]
        refund = pool.submit(stripe_post, stack, "/v1/refunds", {"payment_intent": intent, "amount": "500"})
        statuses = [f.result() for f in spent]
        refund.result()
    assert set(statuses) <= {200, 402}, statuses
    final = balance(stack, owner)
    assert final["balance"] == 1000 - 20 * statuses.count(200) - 500
    stack.audit(tenant_id)
