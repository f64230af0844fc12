"""The stack under DynamoDB faults (``TOLLGATE_DDB_FAULTS``): a tenth of DynamoDB requests are throttled,
fail with a 500, or commit and lose their answer. Clients retry 5xx answers as the SDK does, with the same
Idempotency-Key. At the end ``tollgate audit`` is clean and every client's final answer matches the ledger:
nothing lost, nothing doubled."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Response, Stack, free_port, http, running_stack

pytestmark = pytest.mark.integration
FAULT_RATE = "0.1"
CONSUMES, LEASES, PURCHASES = 48, 10, 3


@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[Stack, str]]:
    port = free_port()
    with running_stack(warm=False, TOLLGATE_DDB_FAULTS=FAULT_RATE, TOLLGATE_DDB_FAULTS_PORT=str(port)) as stack:
        yield stack, f"http://127.0.0.1:{port}"


def retried(send: Callable[[], Response], attempts: int = 12) -> Response:
    """What the SDK does: the same request (same Idempotency-Key) again after a 5xx, with backoff."""
    answer = send()
    for attempt in range(attempts):
        if answer.status < 500:
            return answer
        time.sleep(min(2.0, 0.1 * 2**attempt))
        answer = send()
    return answer


def deliver_everything(stack: Stack) -> None:
    """Stripe retries failed webhooks; the stand-in is told to, until each event got a 200."""
    for _ in range(12):
        deliveries = http("GET", stack.stripe_url + "/_standin/deliveries").body["deliveries"]
        last: dict[str, Any] = {}
        for delivery in deliveries:
            last[delivery["event"]] = delivery
        failing = [event_id for event_id, d in last.items() if d.get("status") != 200]
        if not failing:
            return
        for event_id in failing:
            http("POST", f"{stack.stripe_url}/_standin/events/{event_id}/resend", {})
    raise AssertionError(f"webhooks still failing: {failing}")


def test_money_survives_dynamodb_faults(faulty: tuple[Stack, str]) -> None:
    stack, proxy = faulty
    signup_key = str(uuid.uuid4())
    signed_up = retried(
        lambda: stack.call(
            "POST", "/v1/tenants", {"name": "Faulty", "email": "ops@faulty.example"}, Idempotency_Key=signup_key
        )
    )
    assert signed_up.status == 201, signed_up.body
    tenant_id, owner = signed_up.body["tenant"]["id"], signed_up.body["api_key"]["secret"]
    member = retried(lambda: stack.call("POST", "/v1/api-keys", {"name": "m", "role": "member"}, key=owner))
    assert member.status == 201, member.body
    spender = member.body["api_key"]["secret"]
    stack.grant(tenant_id, 300)  # the operator writes to DynamoDB Local directly

    def consume(_: int) -> tuple[str, Response]:
        key = str(uuid.uuid4())
        body = {"feature": "build", "quantity": 1}
        return key, retried(lambda: stack.call("POST", "/v1/consume", body, key=spender, Idempotency_Key=key))

    def lease(_: int) -> tuple[Response, Response | None]:
        key = str(uuid.uuid4())
        body = {"feature": "build", "duration_s": 600}
        opened = retried(lambda: stack.call("POST", "/v1/leases", body, key=spender, Idempotency_Key=key))
        if opened.status != 201:
            return opened, None
        lease_id = opened.body["lease"]["id"]
        return opened, retried(lambda: stack.call("DELETE", f"/v1/leases/{lease_id}", key=spender))

    def purchase(_: int) -> Response:
        key = str(uuid.uuid4())
        bought = retried(
            lambda: stack.call(
                "POST", "/v1/purchases", {"pack_id": "starter", "quantity": 1}, key=owner, Idempotency_Key=key
            )
        )
        assert bought.status == 201, bought.body
        session = bought.body["purchase"]["stripe_session_id"]
        http("POST", f"{stack.stripe_url}/_standin/checkout/sessions/{session}/complete", {"deliver": True})
        return bought

    with ThreadPoolExecutor(8) as pool:
        consumes = pool.map(consume, range(CONSUMES))
        leases = pool.map(lease, range(LEASES))
        purchases = pool.map(purchase, range(PURCHASES))
        consumes, leases, purchases = list(consumes), list(leases), list(purchases)
    deliver_everything(stack)
    first = purchases[0].body["purchase"]
    session = http(
        "GET",
        f"{stack.stripe_url}/v1/checkout/sessions/{first['stripe_session_id']}",
        headers={"Authorization": "Bearer sk_test_tollgate_local"},
    ).body
    refund = http(
        "POST",
        stack.stripe_url + "/v1/refunds",
        raw=f"payment_intent={session['payment_intent']}&amount=250".encode(),
        headers={"Authorization": "Bearer sk_test_tollgate_local", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refund.status == 200, refund.body
    deliver_everything(stack)

    report = stack.audit(tenant_id)
    entries = ledger(stack, owner)
    by_key = Counter(e["idempotency_key"] for e in entries if e["kind"] == "consumption")
    mismatches = []
    for key, answer in consumes:
        if answer.status == 200:
            charged = [e for e in entries if e["id"] == answer.body["entry_id"]]
            if by_key[key] != 1 or len(charged) != 1 or charged[0]["amount"] != -answer.body["charged"]:
                mismatches.append((key, answer.status, by_key[key]))
        elif answer.status == 402:
            if by_key[key] != 0:
                mismatches.append((key, answer.status, by_key[key]))
        else:
            mismatches.append((key, answer.status, answer.body))
    for opened, closed in leases:
        if opened.status == 201:
            lease_id = opened.body["lease"]["id"]
            charges = [e for e in entries if e["kind"] == "lease_charge" and e["lease_id"] == lease_id]
            if closed is None or closed.status != 200 or len(charges) != 1:
                mismatches.append((lease_id, closed.status if closed else None, len(charges)))
        elif opened.status != 402:
            mismatches.append(("lease", opened.status, opened.body))
    credits = [e for e in entries if e["kind"] == "purchase"]
    refunds = [e for e in entries if e["kind"] == "refund"]
    faults = http("GET", proxy + "/_faults").body
    print(
        f"\nfaults run: {faults.get('requests', 0)} DynamoDB requests, "
        f"{sum(faults.get(f, 0) for f in ('throttle', 'error', 'lost_answer'))} faults injected {dict(faults)}; "
        f"{len(consumes)} consumes, {len(leases)} leases, {len(purchases)} purchases, 1 refund; "
        f"{len(mismatches)} mismatches; audit {report}"
    )
    assert mismatches == []
    assert len(credits) == PURCHASES and len(refunds) == 1
    assert sum(faults.get(f, 0) for f in ("throttle", "error", "lost_answer")) > 0


def ledger(stack: Stack, key: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        path = "/v1/ledger?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = retried(lambda path=path: stack.call("GET", path, key=key))  # type: ignore[misc]
        assert page.status == 200, page.body
        entries += page.body["entries"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return entries
