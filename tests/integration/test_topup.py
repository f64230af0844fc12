"""Auto top-up over real HTTP on the local stack (SPEC.md, "Budgets, top-ups and refills"; invariant 14):
a card saved through Checkout in setup mode on the Stripe stand-in, one off-session purchase per crossing
of the threshold however many spenders cross together (and however often the stream delivers the change),
a declining card failing three crossings and then switching auto top-up off, and ``monthly_limit``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Stack
from tests.integration.test_alerts import events, redeliver
from tests.integration.test_pool import consume
from tests.integration.test_purchases import control

pytestmark = pytest.mark.integration
STARTER = 1000  # tokens in the starter pack


def save_card(stack: Stack, owner: str, test_method: str = "pm_card_visa") -> dict[str, Any]:
    setup = stack.call("POST", "/v1/payment-methods/setup", key=owner)
    assert setup.status == 201, setup.body
    assert setup.body["checkout_url"].startswith(stack.stripe_url)
    done = control(
        stack, f"/_standin/checkout/sessions/{setup.body['session_id']}/complete", {"payment_method": test_method}
    )
    assert done["session"]["mode"] == "setup" and done["delivery"], done
    cards = stack.call("GET", "/v1/payment-methods", key=owner)
    assert cards.status == 200, cards.body
    return dict(cards.body["payment_methods"][0])


def enable(stack: Stack, owner: str, threshold: int, monthly_limit: int = 5, enabled: bool = True) -> Any:
    body = {
        "enabled": enabled,
        "threshold": threshold,
        "pack_id": "starter",
        "quantity": 1,
        "monthly_limit": monthly_limit,
    }
    return stack.call("PUT", "/v1/auto-top-up", body, key=owner)


def topups(stack: Stack, owner: str) -> list[dict[str, Any]]:
    stack.settle()
    answer = stack.call("GET", "/v1/purchases?limit=100", key=owner)
    assert answer.status == 200, answer.body
    return [p for p in answer.body["purchases"] if p["buyer_key_id"] == "system:topup"]


def available(stack: Stack, owner: str) -> int:
    return int(stack.call("GET", "/v1/balance", key=owner).body["available"])


def test_a_card_is_saved_through_checkout_in_setup_mode_and_enabling_needs_one(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    refused = enable(stack, owner, threshold=50)
    assert refused.status == 409 and "save one first" in refused.body["error"]["message"], refused.body
    assert stack.call("GET", "/v1/payment-methods", key=owner).body == {"payment_methods": []}
    auditor = stack.api_key(owner, "auditor")
    assert stack.call("GET", "/v1/auto-top-up", key=auditor).status == 403

    card = save_card(stack, owner)
    stack.grant(tenant_id, 100)  # above the threshold: enabling buys nothing

    assert (card["brand"], card["last4"], card["default"]) == ("visa", "4242", True)
    assert card["id"].startswith("pm_")
    answer = enable(stack, owner, threshold=50)
    assert answer.status == 200, answer.body
    assert answer.body == {
        "enabled": True,
        "threshold": 50,
        "pack_id": "starter",
        "quantity": 1,
        "monthly_limit": 5,
        "payment_method": card,
        "purchases_this_month": 0,
        "consecutive_failures": 0,
        "disabled_reason": None,
    }
    assert topups(stack, owner) == []
    stack.audit(tenant_id)


def test_eight_spenders_crossing_the_threshold_buy_exactly_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    save_card(stack, owner)
    stack.grant(tenant_id, 100)
    assert enable(stack, owner, threshold=50).status == 200

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: consume(stack, member, 10), range(8)))
    assert [status for status, _ in results] == [200] * 8
    redeliver(stack, 20)  # the crossing's change delivered again: still one purchase

    bought = topups(stack, owner)
    assert [(p["status"], p["tokens"]) for p in bought] == [("paid", STARTER)]
    assert available(stack, owner) == 100 - 80 + STARTER
    state = stack.call("GET", "/v1/auto-top-up", key=owner).body
    assert (state["purchases_this_month"], state["consecutive_failures"], state["enabled"]) == (1, 0, True)
    assert len(events(stack, owner, "topup.succeeded")) == 1
    assert [e["data"]["purchase_id"] for e in events(stack, owner, "purchase.paid")] == [bought[0]["id"]]
    stack.audit(tenant_id)


def test_a_declining_card_fails_three_crossings_then_auto_top_up_switches_off(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    save_card(stack, owner, "pm_card_chargeDeclined")
    stack.grant(tenant_id, 60)
    assert enable(stack, owner, threshold=50).status == 200
    for crossing in range(4):
        assert consume(stack, member, 60)[0] == 200
        assert len(topups(stack, owner)) == min(crossing + 1, 3)
        stack.grant(tenant_id, 60)  # back above the threshold: the next debit crosses again

    bought = topups(stack, owner)
    assert [p["status"] for p in bought] == ["failed"] * 3  # the fourth crossing found it switched off
    state = stack.call("GET", "/v1/auto-top-up", key=owner).body
    assert (state["enabled"], state["consecutive_failures"], state["purchases_this_month"]) == (False, 3, 0)
    assert state["disabled_reason"] == "three consecutive payments failed"
    failed = events(stack, owner, "topup.failed")
    assert sorted(e["data"]["consecutive_failures"] for e in failed) == [1, 2, 3]
    assert {e["data"]["reason"] for e in failed} == {"Your card was declined."}
    assert len(events(stack, owner, "topup.disabled")) == 1
    assert available(stack, owner) == 60  # nothing credited
    stack.audit(tenant_id)


def test_monthly_limit_caps_the_crossings_that_buy_and_enabling_below_the_threshold_buys(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    save_card(stack, owner)
    stack.grant(tenant_id, 10)
    assert enable(stack, owner, threshold=50, monthly_limit=1).status == 200  # already below: a crossing
    assert [p["status"] for p in topups(stack, owner)] == ["paid"]
    assert available(stack, owner) == 10 + STARTER

    assert consume(stack, member, STARTER)[0] == 200  # crosses again: the month's one top-up is spent
    assert len(topups(stack, owner)) == 1
    assert available(stack, owner) == 10
    state = stack.call("GET", "/v1/auto-top-up", key=owner).body
    assert (state["purchases_this_month"], state["enabled"]) == (1, True)
    stack.audit(tenant_id)
