"""Buying tokens end to end over real HTTP: the local gateway, DynamoDB Local, and the Stripe stand-in
delivering signed webhooks to the webhook function. Exactly-once crediting under re-sent and out-of-order
events, refused forgeries, refunds that leave the pool owing, and reconciliation of a lost webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest

from tests.integration.conftest import Stack, http

pytestmark = pytest.mark.integration
WEBHOOK_SECRET = "whsec_tollgate_local"  # the local stack's default (infra/local/stack.py)


def stripe_post(stack: Stack, path: str, form: dict[str, str]) -> Any:
    """Stripe's own API on the stand-in, form-encoded, as the SDK would send it."""
    from urllib.parse import urlencode

    answer = http(
        "POST",
        stack.stripe_url + path,
        raw=urlencode(form).encode(),
        headers={"Authorization": "Bearer sk_test_tollgate_local", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 200, answer.body
    return answer.body


def stripe_get(stack: Stack, path: str) -> Any:
    answer = http("GET", stack.stripe_url + path, headers={"Authorization": "Bearer sk_test_tollgate_local"})
    assert answer.status == 200, answer.body
    return answer.body


def control(stack: Stack, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = http("POST", stack.stripe_url + path, body or {})
    assert answer.status == 200, answer.body
    return answer.body


def buy(stack: Stack, key: str, pack: str = "starter", idempotency_key: str | None = None, **extra: Any) -> Any:
    answer = stack.call(
        "POST",
        "/v1/purchases",
        {"pack_id": pack, "quantity": 1, **extra},
        key=key,
        Idempotency_Key=idempotency_key or uuid.uuid4().hex,
    )
    assert answer.status == 201, answer.body
    return answer.body


def pay(stack: Stack, session_id: str, deliver: bool = True) -> dict[str, Any]:
    return control(stack, f"/_standin/checkout/sessions/{session_id}/complete", {"deliver": deliver})


def resend(stack: Stack, event_id: str) -> dict[str, Any]:
    return control(stack, f"/_standin/events/{event_id}/resend")


def balance(stack: Stack, key: str) -> int:
    answer = stack.call("GET", "/v1/balance", key=key)
    assert answer.status == 200, answer.body
    return int(answer.body["balance"])


def ledger(stack: Stack, key: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = stack.call("GET", "/v1/ledger?limit=100" + (f"&cursor={cursor}" if cursor else ""), key=key)
        assert page.status == 200, page.body
        entries += page.body["entries"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return entries


def purchase(stack: Stack, key: str, purchase_id: str) -> dict[str, Any]:
    answer = stack.call("GET", f"/v1/purchases/{purchase_id}", key=key)
    assert answer.status == 200, answer.body
    return dict(answer.body["purchase"])


def consume(stack: Stack, key: str, quantity: int) -> Any:
    return stack.call(
        "POST", "/v1/consume", {"feature": "build", "quantity": quantity}, key=key, Idempotency_Key=uuid.uuid4().hex
    )


def signed(payload: bytes, secret: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def assert_every_credit_explained(stack: Stack, key: str) -> None:
    entries = ledger(stack, key)
    assert sum(e["amount"] for e in entries) == balance(stack, key)
    for entry in entries:
        if entry["kind"] in ("purchase", "refund", "dispute"):
            assert entry["purchase_id"], entry
        if entry["amount"] > 0:
            assert entry["kind"] in ("purchase", "grant"), entry
            assert entry["purchase_id"] or (entry["kind"] == "grant" and entry["reason"]), entry


def test_buy_pay_credit_once_resends_and_forgeries(stack: Stack) -> None:
    _, owner = stack.signup()
    key = uuid.uuid4().hex
    bought = buy(stack, owner, idempotency_key=key, po_number="PO-42")
    record = bought["purchase"]
    assert record["status"] == "pending" and record["po_number"] == "PO-42"
    assert bought["checkout_url"].startswith(stack.stripe_url)
    again = buy(stack, owner, idempotency_key=key, po_number="PO-42")
    assert again["purchase"]["id"] == record["id"] and again["checkout_url"] == bought["checkout_url"]
    conflict = stack.call("POST", "/v1/purchases", {"pack_id": "team", "quantity": 1}, key=owner, Idempotency_Key=key)
    assert conflict.status == 409

    paid = pay(stack, record["stripe_session_id"])
    assert paid["delivery"]["delivered"], paid
    assert balance(stack, owner) == 1000
    for _ in range(5):
        assert resend(stack, paid["event"]["id"])["delivery"]["status"] == 200
    assert balance(stack, owner) == 1000
    after = purchase(stack, owner, record["id"])
    assert after["status"] == "paid" and after["lot_id"]
    lots = stack.call("GET", "/v1/balance", key=owner).body["lots"]
    assert [(lot["purchase_id"], lot["tokens"]) for lot in lots] == [(record["id"], 1000)]

    # forged and stale signatures, straight at the API's webhook route: refused, nothing credited
    event = stripe_get(stack, f"/v1/events/{paid['event']['id']}")
    event["id"] = "evt_forged_" + uuid.uuid4().hex[:12]
    payload = json.dumps(event).encode()
    now = int(time.time())
    for header in (signed(payload, "whsec_not_ours", now), signed(payload, WEBHOOK_SECRET, now - 3600), ""):
        answer = http(
            "POST",
            stack.api + "/v1/stripe/webhook",
            raw=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        assert answer.status == 400, answer.body
    assert balance(stack, owner) == 1000
    listed = stack.call("GET", "/v1/purchases", key=owner).body["purchases"]
    assert [p["id"] for p in listed] == [record["id"]]
    assert_every_credit_explained(stack, owner)


def test_refund_can_leave_the_pool_owing_until_a_top_up(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    record = buy(stack, owner)["purchase"]
    pay(stack, record["stripe_session_id"])
    assert consume(stack, member, 600).status == 200
    intent = stripe_get(stack, f"/v1/checkout/sessions/{record['stripe_session_id']}")["payment_intent"]

    stripe_post(stack, "/v1/refunds", {"payment_intent": intent, "amount": "250"})  # a quarter of the money
    assert balance(stack, owner) == 400 - 250
    stripe_post(stack, "/v1/refunds", {"payment_intent": intent})  # the rest
    assert balance(stack, owner) == -600
    refunded = purchase(stack, owner, record["id"])
    assert (refunded["status"], refunded["refunded_tokens"]) == ("refunded", 1000)

    refused = consume(stack, member, 1)
    assert refused.status == 402 and refused.body["error"]["code"] == "INSUFFICIENT_TOKENS"
    stack.grant(tenant_id, 700, "settling after a refund")
    assert consume(stack, member, 1).status == 200
    assert balance(stack, owner) == 99
    assert_every_credit_explained(stack, owner)


def test_out_of_order_events_credit_once(stack: Stack) -> None:
    _, owner = stack.signup()
    record = buy(stack, owner)["purchase"]
    completed = pay(stack, record["stripe_session_id"], deliver=False)
    intent = stripe_get(stack, f"/v1/checkout/sessions/{record['stripe_session_id']}")["payment_intent"]
    # the refund's webhook arrives before the payment's: Tollgate fetches the session and credits first
    stripe_post(stack, "/v1/refunds", {"payment_intent": intent, "amount": "100"})
    assert balance(stack, owner) == 900
    for _ in range(5):
        resend(stack, completed["event"]["id"])
    assert balance(stack, owner) == 900
    kinds = sorted(e["kind"] for e in ledger(stack, owner))
    assert kinds == ["purchase", "refund"]
    assert_every_credit_explained(stack, owner)


def test_dispute_takes_back_what_is_left(stack: Stack) -> None:
    _, owner = stack.signup()
    record = buy(stack, owner)["purchase"]
    pay(stack, record["stripe_session_id"])
    intent = stripe_get(stack, f"/v1/checkout/sessions/{record['stripe_session_id']}")["payment_intent"]
    charge = stripe_get(stack, f"/v1/payment_intents/{intent}")["latest_charge"]
    disputed = control(stack, f"/_standin/charges/{charge}/dispute")
    resend(stack, disputed["event"]["id"])
    assert balance(stack, owner) == 0
    assert purchase(stack, owner, record["id"])["status"] == "disputed"


def test_lost_webhook_is_recovered_by_reconciliation_once(stack: Stack) -> None:
    _, owner = stack.signup()
    record = buy(stack, owner)["purchase"]
    completed = pay(stack, record["stripe_session_id"], deliver=False)
    assert completed["delivery"]["skipped"]
    assert balance(stack, owner) == 0

    first = stack.operator("--json", "reconcile", "--since-hours", "1")
    assert first.returncode == 0, first.stderr
    assert record["id"] in json.loads(first.stdout)["credited"]
    second = stack.operator("--json", "reconcile", "--since-hours", "1")
    assert second.returncode == 0, second.stderr
    assert record["id"] not in json.loads(second.stdout)["credited"]
    scheduled = stack.invoke("ReconcileFunction", {})
    assert scheduled.status == 200, scheduled.body
    assert balance(stack, owner) == 1000

    resend(stack, completed["event"]["id"])  # the lost webhook turns up after all
    assert balance(stack, owner) == 1000
    [entry] = ledger(stack, owner)
    assert (entry["kind"], entry["purchase_id"], entry["actor"].startswith("operator:")) == (
        "purchase",
        record["id"],
        True,
    )
