"""Saved cards on the stand-in, through the real stripe SDK: Checkout in setup mode, SetupIntents,
PaymentMethods and off-session PaymentIntents (idempotent per key; ``pm_card_chargeDeclined`` declines)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from .conftest import Harness


def _saved(harness: Harness, test_method: str) -> tuple[str, Any]:
    customer = harness.client.v1.customers.create(params={"email": "ops@acme.example"})
    session = harness.client.v1.checkout.sessions.create(
        params={"mode": "setup", "customer": customer.id, "success_url": "https://tollgate.example/ok"}
    )
    assert (session.mode, session.status, session.setup_intent) == ("setup", "open", None)
    done = harness.control(f"/checkout/sessions/{session.id}/complete", {"payment_method": test_method})
    assert done["event"]["type"] == "checkout.session.completed"
    assert done["delivery"]
    return customer.id, harness.client.v1.checkout.sessions.retrieve(session.id)


def test_a_setup_session_saves_the_card_on_the_customer(harness: Harness) -> None:
    customer_id, session = _saved(harness, "pm_card_visa")

    setup = harness.client.v1.setup_intents.retrieve(session.setup_intent)
    methods = harness.client.v1.payment_methods.list(params={"customer": customer_id, "type": "card"})

    assert (session.status, setup.status, setup.customer) == ("complete", "succeeded", customer_id)
    assert [(m.id, m.card.brand, m.card.last4) for m in methods.data] == [(setup.payment_method, "visa", "4242")]
    sent = harness.receiver.events()[-1]
    assert (sent["type"], sent["data"]["object"]["mode"]) == ("checkout.session.completed", "setup")
    assert sent["data"]["object"]["setup_intent"] == setup.id


def test_an_off_session_intent_pays_once_per_idempotency_key(harness: Harness) -> None:
    customer_id, session = _saved(harness, "pm_card_visa")
    method = harness.client.v1.setup_intents.retrieve(session.setup_intent).payment_method
    params: dict[str, Any] = {
        "amount": 1999,
        "currency": "usd",
        "customer": customer_id,
        "payment_method": method,
        "confirm": True,
        "off_session": True,
        "metadata": {"purchase_id": "pur_1"},
    }

    first = harness.client.v1.payment_intents.create(params=params, options={"idempotency_key": "topup-t-1"})
    again = harness.client.v1.payment_intents.create(params=params, options={"idempotency_key": "topup-t-1"})
    other = harness.client.v1.payment_intents.create(params=params, options={"idempotency_key": "topup-t-2"})

    assert first.id == again.id != other.id
    assert (first.status, first.amount_received, first.metadata.to_dict()) == (
        "succeeded",
        1999,
        {"purchase_id": "pur_1"},
    )
    succeeded = [e for e in harness.receiver.events() if e["type"] == "payment_intent.succeeded"]
    assert [e["data"]["object"]["id"] for e in succeeded] == [first.id, other.id]


def test_a_declining_card_answers_card_declined_and_sends_payment_failed(harness: Harness) -> None:
    customer_id, session = _saved(harness, "pm_card_chargeDeclined")
    method = harness.client.v1.setup_intents.retrieve(session.setup_intent).payment_method
    assert harness.client.v1.payment_methods.retrieve(method).card.last4 == "0002"
    params: dict[str, Any] = {
        "amount": 500,
        "currency": "usd",
        "customer": customer_id,
        "payment_method": method,
        "confirm": True,
        "off_session": True,
    }

    with pytest.raises(stripe.CardError) as declined:
        harness.client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
    with pytest.raises(stripe.CardError) as replayed:
        harness.client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})

    assert declined.value.code == "card_declined"
    intent = declined.value.error.payment_intent  # type: ignore[union-attr]
    assert intent.status == "requires_payment_method"
    assert replayed.value.error.payment_intent.id == intent.id  # type: ignore[union-attr]
    failed = [e for e in harness.receiver.events() if e["type"] == "payment_intent.payment_failed"]
    assert [e["data"]["object"]["id"] for e in failed] == [intent.id]
