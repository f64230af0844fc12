"""The outbox over real HTTP: what happens to a purchase, a lot and a lease is listed at ``GET /v1/events``,
once per change whatever Stripe repeats, written in the transaction of the change itself."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.conftest import Stack
from tests.integration.event_payloads import listed
from tests.integration.test_purchases import buy, control, pay, resend, stripe_get, stripe_post

pytestmark = pytest.mark.integration


def events(stack: Stack, key: str, type: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = f"?limit={limit}" + (f"&type={type}" if type else "") + (f"&cursor={cursor}" if cursor else "")
        page = stack.call("GET", "/v1/events" + query, key=key)
        assert page.status == 200, page.body
        found += listed(page.body["events"])
        cursor = page.body["next_cursor"]
        if cursor is None:
            return found


def test_a_purchase_paid_refunded_and_disputed_raises_one_event_each(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    record = buy(stack, owner, po_number="PO-7")["purchase"]
    completed = pay(stack, record["stripe_session_id"])
    for _ in range(3):
        resend(stack, completed["event"]["id"])
    paid = events(stack, owner, "purchase.paid")
    assert len(paid) == 1
    assert paid[0]["data"]["purchase_id"] == record["id"]
    assert paid[0]["data"]["tokens"] == 1000 and paid[0]["data"]["po_number"] == "PO-7"
    assert paid[0]["id"].startswith("ev_") and paid[0]["created_at"].endswith("Z")

    intent = stripe_get(stack, f"/v1/checkout/sessions/{record['stripe_session_id']}")["payment_intent"]
    refund = stripe_post(stack, "/v1/refunds", {"payment_intent": intent, "amount": "100"})
    assert refund
    charge = stripe_get(stack, f"/v1/payment_intents/{intent}")["latest_charge"]
    disputed = control(stack, f"/_standin/charges/{charge}/dispute")
    resend(stack, disputed["event"]["id"])

    # The dispute took the last 900 tokens: the alert evaluator, a stream consumer, raises balance.depleted
    # after the webhook has answered. Wait for it, then the list is exact.
    stack.settle()
    every = events(stack, owner)
    assert sorted(e["type"] for e in every) == [
        "balance.depleted",
        "purchase.disputed",
        "purchase.paid",
        "purchase.refunded",
    ]
    assert [e["created_at"] for e in every] == sorted((e["created_at"] for e in every), reverse=True)  # newest first
    by_type = {e["type"]: e["data"] for e in every}
    assert by_type["balance.depleted"]["available"] <= 0, by_type["balance.depleted"]
    assert (by_type["purchase.refunded"]["amount_refunded"], by_type["purchase.refunded"]["tokens_taken_back"]) == (
        100,
        100,
    )
    assert by_type["purchase.disputed"]["tokens_taken_back"] == 900
    stack.audit(tenant_id)


def test_expired_lots_and_leases_raise_their_events(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 50, "trial", "--valid-days", "1")
    opened = stack.call(
        "POST", "/v1/leases", {"feature": "build", "duration_s": 60}, key=member, Idempotency_Key=uuid.uuid4().hex
    )
    assert opened.status == 201, opened.body
    stack.advance(2 * 86_400)
    for _ in range(2):  # the sweeper twice: still one event per lot and per lease
        assert stack.invoke("SweeperFunction").status == 200
    stack.settle()  # the lot's end empties the pool: the alert evaluator raises balance.depleted as well
    lots = events(stack, owner, "lot.expired")
    leases = events(stack, owner, "lease.expired")
    assert len(lots) == 1 and len(leases) == 1, (lots, leases)
    assert sorted(e["type"] for e in events(stack, owner)) == ["balance.depleted", "lease.expired", "lot.expired"]
    assert leases[0]["data"]["lease_id"] == opened.body["lease"]["id"]
    assert lots[0]["data"]["tokens"] == 50
    stack.audit(tenant_id)


def test_events_are_for_their_tenant_and_roles_only(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 10, "trial", "--valid-days", "1")
    _, stranger = stack.signup("Other")
    record = buy(stack, owner)["purchase"]
    pay(stack, record["stripe_session_id"])
    stack.settle()  # nothing a consumer writes for this tenant can reach the stranger either
    assert events(stack, stranger) == []
    for role, status in (("billing", 200), ("auditor", 200), ("admin", 200), ("member", 403), ("approver", 403)):
        answer = stack.call("GET", "/v1/events", key=stack.api_key(owner, role))
        assert answer.status == status, (role, answer.body)
    assert stack.call("GET", "/v1/events").status == 401
    bad = stack.call("GET", "/v1/events?type=purchase.stolen", key=owner)
    assert bad.status == 422 and bad.body["error"]["field"] == "type"
    forged = stack.call("GET", "/v1/events?cursor=abc.defghijklmnopqrstuvwx", key=owner)
    assert forged.status == 422


def test_pages_walk_every_event_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    ids = []
    for _ in range(5):
        record = buy(stack, owner)["purchase"]
        pay(stack, record["stripe_session_id"])
        ids.append(record["id"])
    stack.settle()  # then the list is exact: five purchase.paid and nothing else
    listed = events(stack, owner, limit=2)
    assert [e["type"] for e in listed] == ["purchase.paid"] * 5
    assert sorted(e["data"]["purchase_id"] for e in listed) == sorted(ids)
    assert len({e["id"] for e in listed}) == 5
    stack.audit(tenant_id)


def test_a_key_about_to_expire_is_announced_once_a_week_before(stack: Stack) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.integration.test_license_keys import issue

    tenant_id, owner = stack.signup()
    _, probe = issue(stack, owner)
    now = datetime.strptime(probe["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    at = (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, expiring = issue(stack, owner, expires_at=at)
    _, revoked = issue(stack, owner, expires_at=at)
    assert stack.call("DELETE", f"/v1/keys/{revoked['id']}", key=owner).status == 200

    assert stack.invoke("SweeperFunction").status == 200
    assert events(stack, owner, "key.expiring") == []  # ten days out: not yet
    stack.advance(4 * 86_400)  # six days before its end
    for _ in range(2):
        assert stack.invoke("SweeperFunction").status == 200
    told = events(stack, owner, "key.expiring")
    assert [e["data"]["key_id"] for e in told] == [expiring["id"]]  # once, and not for the revoked key
    assert told[0]["data"]["expires_at"] == int(
        datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    )
    stack.audit(tenant_id)
