"""Payments, refunds and disputes through the controls, and the signed webhooks they deliver."""

from __future__ import annotations

import json
import socket

import pytest
import stripe

from infra.local.stripe_standin import start_standin

from .conftest import WEBHOOK_SECRET, Harness, raw_http


def test_completion_delivers_a_checkout_session_completed_that_stripe_verifies(harness: Harness) -> None:
    session = harness.new_session()

    done = harness.control(f"/checkout/sessions/{session.id}/complete")

    assert done["delivery"]["status"] == 200
    assert done["delivery"]["error"] is None
    assert done["session"]["status"] == "complete"
    assert done["session"]["payment_status"] == "paid"
    [delivery] = harness.receiver.received
    assert delivery.headers["Content-Type"] == "application/json; charset=utf-8"
    header = delivery.headers["Stripe-Signature"]
    event = stripe.Webhook.construct_event(delivery.body, header, WEBHOOK_SECRET)
    assert event.id == done["event"]["id"]
    assert event.id.startswith("evt_")
    assert event.type == "checkout.session.completed"
    paid = event.data.object
    assert (paid.id, paid.payment_status, paid.amount_total) == (session.id, "paid", 2999)
    assert paid.metadata.to_dict() == {"purchase_id": "pur_1"}
    assert paid.payment_intent.startswith("pi_")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, header, "whsec_wrong")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body.replace(b"2999", b"9999"), header, WEBHOOK_SECRET)


def test_the_webhook_endpoint_may_call_back_and_sees_the_new_state(harness: Harness) -> None:
    session = harness.new_session()
    seen: list[str] = []
    harness.receiver.on_receive = lambda delivery: seen.append(
        harness.get(f"/v1/checkout/sessions/{delivery.event['data']['object']['id']}")["payment_status"]
    )

    harness.control(f"/checkout/sessions/{session.id}/complete")

    assert seen == ["paid"]


def test_the_event_is_stored_and_marked_delivered(harness: Harness) -> None:
    session = harness.new_session()
    done = harness.control(f"/checkout/sessions/{session.id}/complete")

    event = harness.client.v1.events.retrieve(done["event"]["id"])

    assert event.type == "checkout.session.completed"
    assert event.pending_webhooks == 0
    assert harness.receiver.events()[0]["pending_webhooks"] == 1
    assert event.data.object.id == session.id


def test_resend_delivers_the_same_event_again_with_a_valid_signature(harness: Harness) -> None:
    session = harness.new_session()
    done = harness.control(f"/checkout/sessions/{session.id}/complete")

    again = harness.control(f"/events/{done['event']['id']}/resend")

    assert again["delivery"]["status"] == 200
    first, second = harness.receiver.received
    assert second.body == first.body
    resent = stripe.Webhook.construct_event(second.body, second.headers["Stripe-Signature"], WEBHOOK_SECRET)
    assert resent.id == done["event"]["id"]


def test_a_lost_webhook_is_not_delivered_until_resent(harness: Harness) -> None:
    session = harness.new_session()

    done = harness.control(f"/checkout/sessions/{session.id}/complete", {"deliver": False})

    assert done["delivery"]["status"] is None
    assert done["delivery"]["delivered"] is False
    assert harness.receiver.received == []
    assert harness.client.v1.events.retrieve(done["event"]["id"]).pending_webhooks == 1
    harness.control(f"/events/{done['event']['id']}/resend")
    assert [event["id"] for event in harness.receiver.events()] == [done["event"]["id"]]


def test_a_failed_delivery_is_reported_not_raised(harness: Harness) -> None:
    harness.receiver.status = 500
    session = harness.new_session()

    done = harness.control(f"/checkout/sessions/{session.id}/complete")

    assert done["delivery"]["status"] == 500
    assert "500" in done["delivery"]["error"]
    assert harness.client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_an_unreachable_endpoint_is_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    server = start_standin(0, f"http://127.0.0.1:{closed_port}/hook", WEBHOOK_SECRET)
    try:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.url}, max_network_retries=0)
        customer = client.v1.customers.create()
        price = client.v1.prices.create(params={"currency": "usd", "unit_amount": 100, "product_data": {"name": "x"}})
        session = client.v1.checkout.sessions.create(
            params={"mode": "payment", "customer": customer.id, "line_items": [{"price": price.id, "quantity": 1}]}
        )

        status, _, raw = raw_http("POST", f"{server.url}/_standin/checkout/sessions/{session.id}/complete", b"{}")
    finally:
        server.stop()

    assert status == 200
    assert b'"status": null' in raw
    assert b"ConnectionRefused" in raw or b"URLError" in raw


def test_without_a_webhook_url_events_are_recorded_only() -> None:
    server = start_standin(0, None, WEBHOOK_SECRET)
    try:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.url}, max_network_retries=0)
        price = client.v1.prices.create(params={"currency": "usd", "unit_amount": 100, "product_data": {"name": "x"}})
        session = client.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}]}
        )

        _, _, raw = raw_http("POST", f"{server.url}/_standin/checkout/sessions/{session.id}/complete", b"")
        events = client.v1.events.list()
    finally:
        server.stop()

    assert b'"skipped": "no webhook URL configured"' in raw
    assert [(event.type, event.pending_webhooks) for event in events.data] == [("checkout.session.completed", 0)]


def test_a_session_completes_only_once(harness: Harness) -> None:
    session = harness.new_session()
    harness.control(f"/checkout/sessions/{session.id}/complete")

    status, _, raw = harness.http("POST", f"/_standin/checkout/sessions/{session.id}/complete", b"{}")

    assert status == 400
    assert b"checkout_session_not_open" in raw
    assert len(harness.receiver.received) == 1


def test_partial_then_full_refund_updates_the_charge_and_sends_charge_refunded(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()
    refunds = harness.client.v1.refunds

    partial = refunds.create(params={"charge": charge_id, "amount": 1000, "reason": "requested_by_customer"})
    after_partial = harness.client.v1.charges.retrieve(charge_id)
    rest = refunds.create(params={"charge": charge_id})
    after_full = harness.client.v1.charges.retrieve(charge_id)

    assert partial.id.startswith("re_")
    assert (partial.amount, partial.status, partial.charge) == (1000, "succeeded", charge_id)
    assert (after_partial.amount_refunded, after_partial.refunded) == (1000, False)
    assert rest.amount == 1999
    assert (after_full.amount_refunded, after_full.refunded) == (2999, True)
    assert refunds.retrieve(rest.id).amount == 1999
    refunded = [event for event in harness.receiver.events() if event["type"] == "charge.refunded"]
    assert [event["data"]["object"]["amount_refunded"] for event in refunded] == [1000, 2999]
    assert {event["data"]["object"]["id"] for event in refunded} == {charge_id}
    with pytest.raises(stripe.InvalidRequestError) as again:
        refunds.create(params={"charge": charge_id, "amount": 1})
    assert again.value.code == "charge_already_refunded"


def test_a_refund_may_name_the_payment_intent(harness: Harness) -> None:
    session_id, charge_id = harness.paid_charge()
    intent_id = harness.client.v1.checkout.sessions.retrieve(session_id).payment_intent

    refund = harness.client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 500})

    assert (refund.charge, refund.payment_intent, refund.amount) == (charge_id, intent_id, 500)


def test_an_over_refund_is_refused_and_changes_nothing(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()
    harness.client.v1.refunds.create(params={"charge": charge_id, "amount": 2000})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        harness.client.v1.refunds.create(params={"charge": charge_id, "amount": 1000})

    assert (raised.value.http_status, raised.value.code, raised.value.param) == (400, "amount_too_large", "amount")
    assert harness.client.v1.charges.retrieve(charge_id).amount_refunded == 2000
    assert [event["type"] for event in harness.receiver.events()].count("charge.refunded") == 1


def test_a_dispute_marks_the_charge_and_sends_charge_dispute_created(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()

    done = harness.control(f"/charges/{charge_id}/dispute", {"amount": 1500})

    dispute = done["dispute"]
    assert dispute["id"].startswith("dp_")
    assert (dispute["status"], dispute["amount"], dispute["charge"]) == ("needs_response", 1500, charge_id)
    assert harness.client.v1.charges.retrieve(charge_id).disputed is True
    event = harness.receiver.events()[-1]
    assert event["type"] == "charge.dispute.created"
    assert event["data"]["object"]["id"] == dispute["id"]
    with pytest.raises(stripe.InvalidRequestError) as refused:
        harness.client.v1.refunds.create(params={"charge": charge_id})
    assert refused.value.code == "charge_disputed"


def test_a_dispute_defaults_to_the_whole_charge(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()

    done = harness.control(f"/charges/{charge_id}/dispute")

    assert done["dispute"]["amount"] == 2999
    assert harness.client.v1.disputes.retrieve(done["dispute"]["id"]).status == "needs_response"


def test_an_async_payment_that_succeeds(harness: Harness) -> None:
    session = harness.new_session()

    pending = harness.control(f"/checkout/sessions/{session.id}/complete", {"payment_status": "unpaid"})
    intent = harness.client.v1.payment_intents.retrieve(pending["session"]["payment_intent"])
    settled = harness.control(f"/checkout/sessions/{session.id}/async_payment", {"succeeded": True})

    assert (pending["session"]["status"], pending["session"]["payment_status"]) == ("complete", "unpaid")
    assert intent.status == "processing"
    assert settled["session"]["payment_status"] == "paid"
    assert [(event["type"], event["data"]["object"]["payment_status"]) for event in harness.receiver.events()] == [
        ("checkout.session.completed", "unpaid"),
        ("checkout.session.async_payment_succeeded", "paid"),
    ]
    charge = harness.client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.status, charge.paid, charge.amount_captured) == ("succeeded", True, 2999)


def test_an_async_payment_that_fails(harness: Harness) -> None:
    session = harness.new_session()
    harness.control(f"/checkout/sessions/{session.id}/complete", {"payment_status": "unpaid"})

    failed = harness.control(f"/checkout/sessions/{session.id}/async_payment", {"succeeded": False})

    assert failed["event"]["type"] == "checkout.session.async_payment_failed"
    assert failed["session"]["payment_status"] == "unpaid"
    intent = harness.client.v1.payment_intents.retrieve(failed["session"]["payment_intent"])
    assert intent.status == "requires_payment_method"
    assert harness.client.v1.charges.retrieve(str(intent.latest_charge)).status == "failed"
    status, _, _ = harness.http(
        "POST", f"/_standin/checkout/sessions/{session.id}/async_payment", b'{"succeeded": true}'
    )
    assert status == 400


def test_async_payment_needs_a_pending_payment(harness: Harness) -> None:
    session = harness.new_session()
    harness.control(f"/checkout/sessions/{session.id}/complete")

    status, _, raw = harness.http(
        "POST", f"/_standin/checkout/sessions/{session.id}/async_payment", b'{"succeeded": true}'
    )

    assert status == 400
    assert b"checkout_session_not_pending" in raw


def test_expiring_an_open_session_sends_checkout_session_expired(harness: Harness) -> None:
    session = harness.new_session()

    expired = harness.client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    assert [event["type"] for event in harness.receiver.events()] == ["checkout.session.expired"]
    status, _, _ = harness.http("POST", f"/_standin/checkout/sessions/{session.id}/complete", b"{}")
    assert status == 400


def test_a_won_dispute_sends_funds_reinstated_then_closed_signed(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()
    dispute_id = harness.control(f"/charges/{charge_id}/dispute")["dispute"]["id"]

    done = harness.control(f"/disputes/{dispute_id}/close", {"status": "won"})

    assert done["dispute"]["status"] == "won"
    assert [sent["event"]["type"] for sent in done["events"]] == [
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    ]
    assert all(sent["delivery"]["delivered"] for sent in done["events"])
    for delivery in harness.receiver.received[-2:]:
        event = stripe.Webhook.construct_event(delivery.body, delivery.headers["Stripe-Signature"], WEBHOOK_SECRET)
        assert (event["data"]["object"]["id"], event["data"]["object"]["status"]) == (dispute_id, "won")
    assert harness.client.v1.disputes.retrieve(dispute_id).status == "won"
    status, _, raw = harness.http(
        "POST", f"/_standin/disputes/{dispute_id}/close", b'{"status": "lost"}', {"Content-Type": "application/json"}
    )
    assert status == 400 and json.loads(raw)["error"]["code"] == "dispute_already_closed"


def test_a_lost_dispute_sends_only_closed(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()
    dispute_id = harness.control(f"/charges/{charge_id}/dispute")["dispute"]["id"]

    done = harness.control(f"/disputes/{dispute_id}/close", {"status": "lost"})

    assert [sent["event"]["type"] for sent in done["events"]] == ["charge.dispute.closed"]
    assert harness.receiver.events()[-1]["data"]["object"]["status"] == "lost"
    status, _, _ = harness.http(
        "POST", f"/_standin/disputes/{dispute_id}/close", b'{"status": "maybe"}', {"Content-Type": "application/json"}
    )
    assert status == 400


def test_a_session_can_be_paid_for_another_amount_and_currency(harness: Harness) -> None:
    session = harness.new_session()  # 29.99 USD of line items

    done = harness.control(f"/checkout/sessions/{session.id}/complete", {"amount_total": 100, "currency": "EUR"})

    paid = harness.client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.amount_total, paid.currency, paid.payment_status) == (100, "eur", "paid")
    intent = harness.client.v1.payment_intents.retrieve(paid.payment_intent)
    assert (intent.amount, intent.currency) == (100, "eur")
    assert harness.receiver.events()[-1]["data"]["object"]["amount_total"] == 100
    assert done["event"]["type"] == "checkout.session.completed"
    for bad in (b'{"amount_total": -1}', b'{"amount_total": "100"}', b'{"currency": "euro"}'):
        other = harness.new_session()
        status, _, _ = harness.http(
            "POST", f"/_standin/checkout/sessions/{other.id}/complete", bad, {"Content-Type": "application/json"}
        )
        assert status == 400, bad
        assert harness.client.v1.checkout.sessions.retrieve(other.id).status == "open"


def test_the_stand_in_dates_objects_by_the_clock_it_is_given() -> None:
    later = 2_000_000_000  # the local stack passes its application clock, moved by POST /_local/clock
    server = start_standin(0, None, WEBHOOK_SECRET, clock=lambda: later)
    try:
        client = stripe.StripeClient("sk_test_clock", base_addresses={"api": server.url})
        assert client.v1.customers.create(params={"email": "a@example.com"}).created == later
        product = client.v1.products.create(params={"name": "p"})
        assert product.created == later
    finally:
        server.stop()
