"""The stand-in's Stripe API, driven through the real stripe SDK."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from .conftest import Harness


def test_customer_create_retrieve_and_list_by_email(harness: Harness) -> None:
    customers = harness.client.v1.customers
    created = customers.create(params={"email": "ops@acme.example", "name": "Acme", "metadata": {"tenant_id": "t_1"}})
    customers.create(params={"email": "other@example.com"})

    fetched = customers.retrieve(created.id)

    assert created.id.startswith("cus_")
    assert (fetched.id, fetched.email, fetched.name) == (created.id, "ops@acme.example", "Acme")
    assert fetched.metadata.to_dict() == {"tenant_id": "t_1"}
    listed = customers.list(params={"email": "ops@acme.example"})
    assert [customer.id for customer in listed.data] == [created.id]


def test_customer_update_merges_metadata(harness: Harness) -> None:
    customers = harness.client.v1.customers
    created = customers.create(params={"metadata": {"a": "1", "b": "2"}})

    updated = customers.update(created.id, params={"name": "New", "metadata": {"b": "", "c": "3"}})

    assert updated.name == "New"
    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}


def test_session_from_price_data_totals_its_line_items(harness: Harness) -> None:
    session = harness.new_session(client_reference_id="tenant_1")

    assert session.id.startswith("cs_test_")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (2999, 2999, "usd")
    assert session.url == f"{harness.standin.url}/checkout/{session.id}"
    assert session.client_reference_id == "tenant_1"
    assert session.metadata.to_dict() == {"purchase_id": "pur_1"}
    assert session.payment_intent is None
    items = harness.client.v1.checkout.sessions.line_items.list(session.id)
    assert [(item.description, item.quantity, item.amount_total) for item in items.data] == [
        ("100 tokens", 2, 1000),
        ("1k tokens", 1, 1999),
    ]
    assert items.data[0].id.startswith("li_")
    assert items.data[0].price.unit_amount == 500
    assert items.data[0].price.id.startswith("price_")


def test_session_from_a_price_id(harness: Harness) -> None:
    product = harness.client.v1.products.create(params={"name": "10k tokens"})
    price = harness.client.v1.prices.create(params={"currency": "EUR", "unit_amount": 1500, "product": product.id})

    session = harness.client.v1.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 3}]}
    )

    assert harness.client.v1.prices.retrieve(price.id).unit_amount == 1500
    assert (session.amount_total, session.currency) == (4500, "eur")
    items = harness.client.v1.checkout.sessions.line_items.list(session.id)
    assert [(item.price.id, item.description, item.quantity) for item in items.data] == [(price.id, "10k tokens", 3)]


def test_retrieve_expands_line_items_and_payment_intent(harness: Harness) -> None:
    session = harness.new_session(payment_intent_data={"metadata": {"purchase_id": "pur_1"}})
    harness.control(f"/checkout/sessions/{session.id}/complete")

    expanded = harness.client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["line_items", "payment_intent"]}
    )
    plain = harness.get(f"/v1/checkout/sessions/{session.id}")

    assert "line_items" not in plain
    assert isinstance(plain["payment_intent"], str)
    assert [item.quantity for item in expanded.line_items.data] == [2, 1]
    intent = expanded.payment_intent
    assert intent.id == plain["payment_intent"]
    assert (intent.status, intent.amount, intent.amount_received) == ("succeeded", 2999, 2999)
    assert intent.metadata.to_dict() == {"purchase_id": "pur_1"}


def test_expanding_an_unknown_property_is_refused(harness: Harness) -> None:
    session = harness.new_session()

    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        harness.client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["nonsense"]})


def test_same_idempotency_key_and_params_answer_the_same_session(harness: Harness) -> None:
    params = {"mode": "payment", "line_items": [{"price_data": _price_data(700), "quantity": 1}]}
    sessions = harness.client.v1.checkout.sessions

    first = sessions.create(params=params, options={"idempotency_key": "purchase-1"})
    second = sessions.create(params=params, options={"idempotency_key": "purchase-1"})

    assert second.id == first.id
    assert second.url == first.url
    assert [session.id for session in sessions.list().data] == [first.id]


def test_concurrent_retries_with_one_key_create_one_session(harness: Harness) -> None:
    params = {"mode": "payment", "line_items": [{"price_data": _price_data(700), "quantity": 1}]}
    sessions = harness.client.v1.checkout.sessions

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(
            pool.map(lambda _: sessions.create(params=params, options={"idempotency_key": "race"}).id, range(8))
        )

    assert len(set(created)) == 1
    assert [session.id for session in sessions.list().data] == created[:1]


def test_replayed_answer_says_so(harness: Harness) -> None:
    body = b"name=Acme"
    headers = {"Authorization": "Bearer sk_test_x", "Idempotency-Key": "cust-1"}

    _, first_headers, first = harness.http("POST", "/v1/customers", body, headers)
    _, second_headers, second = harness.http("POST", "/v1/customers", body, headers)

    assert json.loads(first) == json.loads(second)
    assert "Idempotent-Replayed" not in first_headers
    assert second_headers["Idempotent-Replayed"] == "true"


def test_same_idempotency_key_with_other_params_is_refused(harness: Harness) -> None:
    sessions = harness.client.v1.checkout.sessions
    sessions.create(
        params={"mode": "payment", "line_items": [{"price_data": _price_data(700), "quantity": 1}]},
        options={"idempotency_key": "purchase-2"},
    )

    with pytest.raises(stripe.IdempotencyError) as raised:
        sessions.create(
            params={"mode": "payment", "line_items": [{"price_data": _price_data(700), "quantity": 2}]},
            options={"idempotency_key": "purchase-2"},
        )

    assert raised.value.http_status == 400
    assert len(sessions.list().data) == 1


def test_list_sessions_filters_and_pages(harness: Harness) -> None:
    customer = harness.client.v1.customers.create(params={"email": "a@example.com"})
    first = harness.new_session()
    second = harness.new_session(customer=customer.id)
    third = harness.new_session()
    harness.control(f"/checkout/sessions/{second.id}/complete")
    sessions = harness.client.v1.checkout.sessions

    complete = sessions.list(params={"status": "complete"})
    still_open = sessions.list(params={"status": "open"})
    by_customer = sessions.list(params={"customer": customer.id})
    since = sessions.list(params={"created": {"gte": first.created}})
    later = sessions.list(params={"created": {"gt": third.created + 1}})
    page_one = sessions.list(params={"limit": 1})
    page_two = sessions.list(params={"limit": 1, "starting_after": page_one.data[0].id})

    assert [session.id for session in complete.data] == [second.id]
    assert [session.id for session in still_open.data] == [third.id, first.id]
    assert [session.id for session in by_customer.data] == [second.id]
    assert [session.id for session in since.data] == [third.id, second.id, first.id]
    assert later.data == []
    assert (complete.object, complete.url, complete.has_more) == ("list", "/v1/checkout/sessions", False)
    assert ([session.id for session in page_one.data], page_one.has_more) == ([third.id], True)
    assert [session.id for session in page_two.data] == [second.id]
    assert [session.id for session in sessions.list().auto_paging_iter()] == [third.id, second.id, first.id]


def test_events_list_newest_first_with_type_filters(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()
    harness.client.v1.refunds.create(params={"charge": charge_id, "amount": 100})
    events = harness.client.v1.events

    everything = events.list()
    refunds = events.list(params={"type": "charge.refunded"})
    wildcard = events.list(params={"type": "checkout.session.*"})

    assert [event.type for event in everything.data] == ["charge.refunded", "checkout.session.completed"]
    assert [event.type for event in refunds.data] == ["charge.refunded"]
    assert [event.type for event in wildcard.data] == ["checkout.session.completed"]
    assert events.retrieve(refunds.data[0].id).data.object.id == charge_id


def test_a_request_without_an_api_key_gets_401(harness: Harness) -> None:
    status, _, raw = harness.http("GET", "/v1/customers")
    bad_status, _, bad_raw = harness.http("GET", "/v1/customers", headers={"Authorization": "Bearer pk_test_123"})

    assert status == 401
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"
    assert bad_status == 401
    assert "Invalid API Key" in json.loads(bad_raw)["error"]["message"]
    wrong = stripe.StripeClient("pk_test_123", base_addresses={"api": harness.standin.url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError):
        wrong.v1.customers.list()


def test_an_unknown_id_gets_404_resource_missing(harness: Harness) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        harness.client.v1.checkout.sessions.retrieve("cs_test_missing")
    with pytest.raises(stripe.InvalidRequestError) as customer:
        harness.client.v1.customers.retrieve("cus_missing")

    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
    assert "cs_test_missing" in str(raised.value.user_message)
    assert customer.value.http_status == 404


def test_an_unrecognized_url_gets_404(harness: Harness) -> None:
    status, _, raw = harness.http("GET", "/v1/subscriptions", headers={"Authorization": "Bearer sk_test_x"})

    assert status == 404
    assert "Unrecognized request URL" in json.loads(raw)["error"]["message"]


def test_bad_input_is_refused_and_changes_nothing(harness: Harness) -> None:
    sessions = harness.client.v1.checkout.sessions
    good_line = {"price_data": _price_data(500), "quantity": 1}

    with pytest.raises(stripe.InvalidRequestError) as no_lines:
        sessions.create(params={"mode": "payment"})
    with pytest.raises(stripe.InvalidRequestError) as unknown_price:
        sessions.create(params={"mode": "payment", "line_items": [good_line, {"price": "price_nope", "quantity": 1}]})
    with pytest.raises(stripe.InvalidRequestError) as unknown_param:
        sessions.create(params={"mode": "payment", "line_items": [good_line], "shipping_options": [{"x": "y"}]})
    with pytest.raises(stripe.InvalidRequestError) as bad_quantity:
        sessions.create(params={"mode": "payment", "line_items": [{"price_data": _price_data(500), "quantity": 0}]})
    with pytest.raises(stripe.InvalidRequestError) as unknown_customer:
        sessions.create(params={"mode": "payment", "line_items": [good_line], "customer": "cus_nope"})

    assert (no_lines.value.code, no_lines.value.param) == ("parameter_missing", "line_items")
    assert (unknown_price.value.code, unknown_price.value.param) == ("resource_missing", "line_items[1][price]")
    assert unknown_price.value.http_status == 400
    assert unknown_param.value.code == "parameter_unknown"
    assert bad_quantity.value.param == "line_items[0][quantity]"
    assert unknown_customer.value.param == "customer"
    assert sessions.list().data == []
    assert harness.standin.store.newest_first("price") == []
    assert harness.standin.store.newest_first("product") == []


def _price_data(unit_amount: int) -> dict[str, object]:
    return {"currency": "usd", "unit_amount": unit_amount, "product_data": {"name": "tokens"}}
