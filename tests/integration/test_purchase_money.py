"""Issue 12, "Secrets and money", end to end over real HTTP: the local gateway, DynamoDB Local, and the
Stripe stand-in driven through the real ``stripe`` SDK and its controls, delivering signed webhooks.

- a refund or dispute after the purchase's lot expired takes back only what was consumed (−10, not −1,000)
- a dispute the tenant wins gives back exactly what it took, once, across both of Stripe's events
- a paid session for another amount is held for review, and ``tollgate purchases resolve`` decides it
- a pack's Stripe Price must sell it for what the pack costs
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import stripe

from tests.integration.conftest import Stack
from tests.integration.test_purchases import (
    assert_every_credit_explained,
    balance,
    buy,
    consume,
    control,
    ledger,
    pay,
    purchase,
    resend,
)

pytestmark = pytest.mark.integration
DAY = 86400


def stripe_client(stack: Stack) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_tollgate_local", base_addresses={"api": stack.stripe_url})


def short_pack(stack: Stack) -> str:
    """A pack that ends after one day, so that the clock moves as little as the other tests allow."""
    pack_id = "oneday"
    done = stack.operator("catalog", "set-pack", pack_id, "--tokens", "1000", "--price", "1000", "--valid-days", "1")
    assert done.returncode == 0, done.stderr
    stack.advance(61)  # warm functions see a catalog change within a minute (store/catalog.py, CACHE_S)
    return pack_id


def paid(stack: Stack, owner: str, pack: str = "starter") -> tuple[dict[str, Any], str]:
    """A paid purchase and its payment intent."""
    record = buy(stack, owner, pack)["purchase"]
    pay(stack, record["stripe_session_id"])
    intent = stripe_client(stack).v1.checkout.sessions.retrieve(record["stripe_session_id"]).payment_intent
    return record, str(intent)


def charge_of(stack: Stack, intent: str) -> str:
    return str(stripe_client(stack).v1.payment_intents.retrieve(intent).latest_charge)


def test_refund_and_dispute_after_expiry_take_back_only_what_was_consumed(stack: Stack) -> None:
    pack = short_pack(stack)
    refunding_id, refunding = stack.signup("Refunds")
    disputing_id, disputing = stack.signup("Disputes")
    bought = {}
    for owner in (refunding, disputing):
        record, intent = paid(stack, owner, pack)
        assert consume(stack, stack.api_key(owner, "member"), 10).status == 200
        bought[owner] = (record, intent)

    stack.advance(DAY + 60)  # both lots are past their end
    swept = stack.invoke("SweeperFunction")
    assert swept.status == 200, swept.body
    assert balance(stack, refunding) == balance(stack, disputing) == 0  # 990 each expired unused

    record, intent = bought[refunding]
    stripe_client(stack).v1.refunds.create(params={"payment_intent": intent})  # all of the money
    assert balance(stack, refunding) == -10  # before the fix: -1,000
    view = purchase(stack, refunding, record["id"])
    assert (view["status"], view["expired"], view["taken_back"], view["refunded_tokens"]) == (
        "refunded",
        990,
        10,
        1000,
    )
    assert_every_credit_explained(stack, refunding)

    record, intent = bought[disputing]
    control(stack, f"/_standin/charges/{charge_of(stack, intent)}/dispute")
    assert balance(stack, disputing) == -10
    view = purchase(stack, disputing, record["id"])
    assert (view["status"], view["expired"], view["taken_back"], view["dispute_taken"]) == ("disputed", 990, 10, 10)
    assert_every_credit_explained(stack, disputing)
    stack.audit(refunding_id)
    stack.audit(disputing_id)


def test_won_dispute_gives_back_what_it_took_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    record, intent = paid(stack, owner)
    assert consume(stack, stack.api_key(owner, "member"), 300).status == 200
    opened = control(stack, f"/_standin/charges/{charge_of(stack, intent)}/dispute")
    assert balance(stack, owner) == -300
    closed = control(stack, f"/_standin/disputes/{opened['dispute']['id']}/close", {"status": "won"})
    sent = [(s["event"]["type"], s["delivery"]["status"]) for s in closed["events"]]
    assert sent == [("charge.dispute.funds_reinstated", 200), ("charge.dispute.closed", 200)]
    assert balance(stack, owner) == 700
    for each in closed["events"]:  # Stripe redelivers
        resend(stack, each["event"]["id"])
    assert balance(stack, owner) == 700
    view = purchase(stack, owner, record["id"])
    assert (view["status"], view["taken_back"], view["dispute_taken"]) == ("paid", 0, 1000)
    assert view["dispute_won_at"] is not None
    kinds = [e["kind"] for e in ledger(stack, owner)]
    assert sorted(kinds) == ["consumption", "dispute", "dispute_won", "purchase"]
    stack.audit(tenant_id)


def test_mismatched_payment_is_held_for_review_and_resolved_by_an_operator(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    record = buy(stack, owner)["purchase"]
    completed = control(
        stack, f"/_standin/checkout/sessions/{record['stripe_session_id']}/complete", {"amount_total": 100}
    )
    assert completed["delivery"]["status"] == 200
    resend(stack, completed["event"]["id"])
    assert balance(stack, owner) == 0  # before the fix: 1,000
    held = purchase(stack, owner, record["id"])
    assert (held["status"], held["paid_amount"], held["amount"]) == ("needs_review", 100, 1000)
    listed = stack.operator("--json", "purchases", "review")
    assert listed.returncode == 0, listed.stderr
    assert record["id"] in [p["id"] for p in json.loads(listed.stdout)]

    resolve = ("purchases", "resolve", "--purchase", record["id"], "--credit", "--reason", "paid the rest by wire")
    first = stack.operator(*resolve)
    assert first.returncode == 0, first.stderr
    again = stack.operator("--json", *resolve)  # a retry after a timeout
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "paid"
    assert balance(stack, owner) == 1000
    refused = stack.operator(*resolve[:4], "--reject", "--reason", "no")
    assert refused.returncode == 1 and "CONFLICT" in refused.stderr.upper()
    credited = purchase(stack, owner, record["id"])
    assert credited["status"] == "paid" and "paid the rest by wire" in credited["review_note"]
    assert [e["actor"].startswith("operator:") for e in ledger(stack, owner)] == [True]
    assert_every_credit_explained(stack, owner)
    stack.audit(tenant_id)


def test_pack_stripe_price_must_match_the_pack(stack: Stack) -> None:
    client = stripe_client(stack)
    product = client.v1.products.create(params={"name": "Checked pack"})
    right = client.v1.prices.create(params={"product": product.id, "unit_amount": 2500, "currency": "usd"})
    wrong = client.v1.prices.create(params={"product": product.id, "unit_amount": 25, "currency": "usd"})
    pack_id = f"checked{uuid.uuid4().hex[:6]}"
    base = ("catalog", "set-pack", pack_id, "--tokens", "5000", "--price", "2500")
    refused = stack.operator(*base, "--stripe-price", wrong.id)
    assert refused.returncode == 2  # bad usage: the price given does not fit the pack
    assert f"Stripe price {wrong.id} sells for 25 usd" in refused.stderr
    assert pack_id not in stack.operator("--json", "catalog", "list").stdout
    missing = stack.operator(*base, "--stripe-price", "price_nosuchprice")
    assert missing.returncode == 2 and "no price" in missing.stderr
    accepted = stack.operator("--json", *base, "--stripe-price", right.id)
    assert accepted.returncode == 0, accepted.stderr
    assert pack_id in accepted.stdout
