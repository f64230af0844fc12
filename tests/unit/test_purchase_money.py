"""Issue 12, "Secrets and money", in process: refunds and disputes after expiry, won disputes, paid sessions
that do not match their purchase, and packs whose Stripe Price does not match. The real data layer on moto,
the real stripe SDK against the real Stripe stand-in (as in test_purchases.py)."""

from __future__ import annotations

import pytest

from infra.local.stripe_standin import StandinServer
from tests.unit.test_purchases import World, paid_purchase
from tests.unit.test_purchases import standin as standin  # the module's stand-in fixture
from tollgate.core.errors import Conflict, InvalidField, NotFound
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import EntryKind, Principal, TokenPack
from tollgate.purchases.service import Outcome, PurchaseStatus, check_stripe_price
from tollgate.purchases.stripe_checkout import StripeCheckout

YEAR = 366 * 86400


@pytest.fixture
def world(table: str, standin: StandinServer) -> World:
    return World(standin)


def expire_lots(world: World, caller: Principal) -> None:
    from tollgate.pool.store_expiry import DynamoExpiry

    DynamoExpiry(world.clock, RANDOM_IDS).expire_due_lots(caller.tenant_id)


def charge_of(world: World, payment_intent: str) -> str:
    return str(world.stripe.v1.payment_intents.retrieve(payment_intent).latest_charge)


def open_dispute(world: World, payment_intent: str) -> tuple[str, str]:
    opened = world.control(f"/_standin/charges/{charge_of(world, payment_intent)}/dispute", {"deliver": False})
    return str(opened["dispute"]["id"]), str(opened["event"]["id"])


def close_dispute(world: World, dispute_id: str, status: str) -> dict[str, str]:
    closed = world.control(f"/_standin/disputes/{dispute_id}/close", {"status": status, "deliver": False})
    return {sent["event"]["type"]: sent["event"]["id"] for sent in closed["events"]}


def ledger_sums_to_balance(world: World, caller: Principal) -> None:
    assert sum(e.amount for e in world.ledger(caller)) == world.balance(caller)


# 1. Refunds and disputes take back only what was not consumed or expired


def test_full_refund_after_expiry_takes_back_only_what_was_consumed(world: World) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)  # 1,000 tokens for 365 days
    world.pool.consume(caller, "build", 10, "use")
    world.clock.advance(YEAR)
    expire_lots(world, caller)
    assert world.balance(caller) == 0
    assert world.deliver(world.refund(purchase.payment_intent_id, 1000)) is Outcome.TAKEN_BACK
    assert world.balance(caller) == -10  # the old code took 1,000 again: -1,000
    after = world.service.get(caller, purchase.id)
    assert (after.status, after.taken_back, after.expired, after.refunded_tokens) == (
        PurchaseStatus.REFUNDED,
        10,
        990,
        1000,
    )
    ledger_sums_to_balance(world, caller)


def test_partial_refund_after_expiry_takes_nothing_the_rest_takes_the_consumption(world: World) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)
    world.pool.consume(caller, "build", 10, "use")
    world.clock.advance(YEAR)
    expire_lots(world, caller)
    assert world.deliver(world.refund(purchase.payment_intent_id, 500)) is Outcome.RECORDED  # share only
    assert world.balance(caller) == 0
    world.deliver(world.refund(purchase.payment_intent_id, 500))
    assert world.balance(caller) == -10
    ledger_sums_to_balance(world, caller)


def test_refund_before_expiry_then_expiry_ends_where_expiry_then_refund_does(world: World) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)
    world.pool.consume(caller, "build", 10, "use")
    world.deliver(world.refund(purchase.payment_intent_id, 500))  # before the end: 500 taken, lot 500
    world.clock.advance(YEAR)
    expire_lots(world, caller)  # 490 left unspent expire
    assert world.balance(caller) == 0
    world.deliver(world.refund(purchase.payment_intent_id, 500))
    assert world.balance(caller) == -10
    assert world.service.get(caller, purchase.id).expired == 490


def test_dispute_after_expiry_takes_back_only_what_was_consumed(world: World) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)
    world.pool.consume(caller, "build", 10, "use")
    world.clock.advance(YEAR)
    expire_lots(world, caller)
    _, opened = open_dispute(world, purchase.payment_intent_id)
    assert world.deliver(opened) is Outcome.TAKEN_BACK
    assert world.balance(caller) == -10
    after = world.service.get(caller, purchase.id)
    assert (after.status, after.dispute_taken, after.taken_back) == (PurchaseStatus.DISPUTED, 10, 10)


# 2. A dispute the tenant wins gives back exactly what it took, once


@pytest.mark.parametrize("first", ["charge.dispute.funds_reinstated", "charge.dispute.closed"])
def test_won_dispute_gives_back_once_whichever_event_comes_first(world: World, first: str) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)
    world.pool.consume(caller, "build", 300, "use")
    dispute_id, opened = open_dispute(world, purchase.payment_intent_id)
    assert world.deliver(opened) is Outcome.TAKEN_BACK
    assert world.balance(caller) == -300
    events = close_dispute(world, dispute_id, "won")
    other = next(kind for kind in events if kind != first)
    assert world.deliver(events[first]) is Outcome.GIVEN_BACK
    assert world.balance(caller) == 700
    assert world.deliver(events[other]) is Outcome.NOTHING_TO_TAKE
    assert world.deliver(events[first]) is Outcome.DUPLICATE
    assert world.balance(caller) == 700
    after = world.service.get(caller, purchase.id)
    assert (after.status, after.taken_back, after.dispute_taken) == (PurchaseStatus.PAID, 0, 1000)
    assert after.dispute_won_at is not None
    [lot] = world.pools.lots(caller.tenant_id)
    assert lot.remaining == 1000  # restored: consumption is allocated to it when read
    kinds = [e.kind for e in world.ledger(caller)]
    assert kinds.count(EntryKind.DISPUTE_WON) == 1
    ledger_sums_to_balance(world, caller)


def test_lost_dispute_gives_nothing_back(world: World) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)
    dispute_id, opened = open_dispute(world, purchase.payment_intent_id)
    world.deliver(opened)
    events = close_dispute(world, dispute_id, "lost")
    assert list(events) == ["charge.dispute.closed"]
    assert world.deliver(events["charge.dispute.closed"]) is Outcome.IGNORED
    assert world.balance(caller) == 0
    assert world.service.get(caller, purchase.id).status is PurchaseStatus.DISPUTED


def test_won_dispute_overtaking_the_dispute_leaves_the_pool_whole(world: World) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)
    dispute_id, opened = open_dispute(world, purchase.payment_intent_id)
    events = close_dispute(world, dispute_id, "won")
    assert world.deliver(events["charge.dispute.closed"]) is Outcome.RECORDED
    assert world.deliver(opened) is Outcome.NOTHING_TO_TAKE
    assert world.balance(caller) == 1000


def test_won_dispute_after_the_lot_ended_gives_back_into_a_lot_with_the_same_end(world: World) -> None:
    caller = world.tenant()
    purchase = paid_purchase(world, caller)
    world.pool.consume(caller, "build", 10, "use")
    dispute_id, opened = open_dispute(world, purchase.payment_intent_id)
    world.deliver(opened)  # takes what is left: all 1,000 (nothing expired or taken back yet)
    assert world.balance(caller) == -10
    world.clock.advance(YEAR)
    expire_lots(world, caller)
    events = close_dispute(world, dispute_id, "won")
    assert world.deliver(events["charge.dispute.closed"]) is Outcome.GIVEN_BACK
    assert world.balance(caller) == 990
    expire_lots(world, caller)  # what was given back had already ended: it expires as it would have
    assert world.balance(caller) == 0
    ledger_sums_to_balance(world, caller)


# 3. A paid session whose amount or currency differs is held for review, not credited


@pytest.mark.parametrize("change", [{"amount_total": 1}, {"currency": "eur"}])
def test_mismatched_payment_is_held_for_review_then_resolved_once(world: World, change: dict[str, object]) -> None:
    caller = world.tenant()
    purchase = world.buy(caller)
    paid = world.control(f"/_standin/checkout/sessions/{purchase.stripe_session_id}/complete", change)
    assert world.deliver(paid["event"]["id"]) is Outcome.NEEDS_REVIEW
    assert world.deliver(paid["event"]["id"]) is Outcome.DUPLICATE
    assert world.balance(caller) == 0
    held = world.service.get(caller, purchase.id)
    assert held.status is PurchaseStatus.NEEDS_REVIEW and held.review_note
    assert [p.id for p in world.service.under_review()] == [purchase.id]
    assert world.service.reconcile(3600).needs_review == [purchase.id]  # the reconciler does not credit it
    assert world.balance(caller) == 0

    with pytest.raises(InvalidField):
        world.service.resolve(purchase.id, credit=True, reason=" ", actor="operator:test")
    credited = world.service.resolve(purchase.id, credit=True, reason="bank confirmed", actor="operator:test")
    assert credited.status is PurchaseStatus.PAID and "bank confirmed" in str(credited.review_note)
    again = world.service.resolve(purchase.id, credit=True, reason="retry after a timeout", actor="operator:test")
    assert again.version == credited.version
    assert world.balance(caller) == 1000
    with pytest.raises(Conflict):
        world.service.resolve(purchase.id, credit=False, reason="changed my mind", actor="operator:test")
    assert world.service.under_review() == []
    ledger_sums_to_balance(world, caller)


def test_rejected_purchase_is_never_credited(world: World) -> None:
    caller = world.tenant()
    purchase = world.buy(caller)
    paid = world.control(f"/_standin/checkout/sessions/{purchase.stripe_session_id}/complete", {"amount_total": 5})
    world.deliver(paid["event"]["id"])
    rejected = world.service.resolve(purchase.id, credit=False, reason="wrong price", actor="operator:test")
    assert rejected.status is PurchaseStatus.REJECTED
    assert world.service.resolve(purchase.id, credit=False, reason="again", actor="operator:test").status is (
        PurchaseStatus.REJECTED
    )
    assert world.service.reconcile(3600).credited == []
    assert world.deliver(world.refund(str(rejected.payment_intent_id), 5)) is Outcome.RECORDED  # buyer refunded
    assert world.balance(caller) == 0
    with pytest.raises(NotFound):
        world.service.resolve("pu_0000000000000000", credit=True, reason="x", actor="operator:test")


def test_purchase_refunded_while_under_review_cannot_be_credited(world: World) -> None:
    caller = world.tenant()
    purchase = world.buy(caller)
    paid = world.control(f"/_standin/checkout/sessions/{purchase.stripe_session_id}/complete", {"amount_total": 5})
    world.deliver(paid["event"]["id"])
    held = world.service.get(caller, purchase.id)
    assert world.deliver(world.refund(str(held.payment_intent_id), 5)) is Outcome.RECORDED
    assert world.balance(caller) == 0
    with pytest.raises(Conflict, match="refunded or disputed"):
        world.service.resolve(purchase.id, credit=True, reason="looks fine", actor="operator:test")
    assert world.service.resolve(purchase.id, credit=False, reason="refunded", actor="operator:test").status is (
        PurchaseStatus.REJECTED
    )
    assert world.balance(caller) == 0


def test_matching_payment_is_credited_as_before(world: World) -> None:
    caller = world.tenant()
    purchase = world.buy(caller)
    assert world.deliver(world.pay(purchase.stripe_session_id)) is Outcome.CREDITED
    assert world.service.get(caller, purchase.id).status is PurchaseStatus.PAID


# 4. A pack's Stripe Price must match the pack


def test_stripe_price_must_sell_the_pack_for_its_price(world: World) -> None:
    product = world.stripe.v1.products.create(params={"name": "Starter"})
    right = world.stripe.v1.prices.create(params={"product": product.id, "unit_amount": 1000, "currency": "usd"})
    cheap = world.stripe.v1.prices.create(params={"product": product.id, "unit_amount": 10, "currency": "usd"})
    euro = world.stripe.v1.prices.create(params={"product": product.id, "unit_amount": 1000, "currency": "eur"})
    prices = StripeCheckout(world.stripe)
    pack = TokenPack("starter", 1000, 1000, "usd", 365, "Starter")
    check_stripe_price(pack, prices.price(right.id))
    for wrong in (cheap.id, euro.id):
        with pytest.raises(InvalidField, match="sells for"):
            check_stripe_price(pack, prices.price(wrong))
    with pytest.raises(InvalidField):
        prices.price("price_doesnotexist")


# The operator alarm: the handler's metric is the one the template's alarm watches


def _alarm_metrics() -> list[dict[str, object]]:
    from infra.local.template import read_template
    from tests.conftest import TEMPLATE

    resources = read_template(TEMPLATE)["Resources"]
    alarm = resources["PurchaseNeedsReviewAlarm"]["Properties"]
    assert alarm["AlarmActions"] and alarm["Threshold"] == 0
    services = {
        name: resources[name]["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for name in ("StripeWebhookFunction", "ReconcileFunction")
    }
    stats = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert sorted(d["Value"] for m in stats for d in m["Dimensions"]) == sorted(services.values())
    return stats


def test_webhook_handler_emits_the_metric_the_alarm_watches(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util
    import json
    import time

    from infra.local.stripe_standin.webhooks import signature_header
    from tests.conftest import ROOT
    from tests.unit.test_purchases import SECRET, Context, http_event
    from tollgate import services

    [webhook, _] = _alarm_metrics()
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", str(webhook["Namespace"]))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "stripe-webhook")
    spec = importlib.util.spec_from_file_location("stripe_webhook_app_review", ROOT / "functions/stripe_webhook/app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(services, "purchase_service", lambda: world.service)
    caller = world.tenant()
    purchase = world.buy(caller)
    paid = world.control(f"/_standin/checkout/sessions/{purchase.stripe_session_id}/complete", {"amount_total": 7})
    body = world.payload(paid["event"]["id"])
    capsys.readouterr()

    answer = module.handler(http_event(body, signature_header(body, SECRET, int(time.time()))), Context())

    assert answer["statusCode"] == 200 and json.loads(answer["body"])["outcome"] == "needs_review"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [record] = [r for r in emitted if webhook["MetricName"] in r]
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == webhook["Namespace"]
    assert record["service"] == "stripe-webhook" and record[webhook["MetricName"]] in (1.0, [1.0])
    assert webhook["Dimensions"] == [{"Name": "service", "Value": record["service"]}]
    assert world.balance(caller) == 0
