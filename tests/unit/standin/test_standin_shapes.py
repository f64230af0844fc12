"""The stand-in answers in the shapes of Stripe's own example objects (``../shared/stripe/fixtures3.json``):
every key it returns exists in Stripe's object, at every level, and ids carry Stripe's prefixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Harness

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = REPO_ROOT.parent / "shared" / "stripe" / "fixtures3.json"

# Free-form maps: any key is allowed inside.
FREE_FORM = {"metadata"}


def _fixtures() -> dict[str, Any]:
    if not FIXTURES.exists():
        pytest.skip(f"Stripe's example objects are not at {FIXTURES}; the shape test needs them")
    return json.loads(FIXTURES.read_text())["resources"]


def _prefix(object_id: str) -> str:
    return object_id.rsplit("_", 1)[0] + "_"


def _extra_keys(ours: Any, theirs: Any, path: str) -> list[str]:
    """Keys in ``ours`` that Stripe's example lacks, recursively where both sides are objects."""
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return []
    extra = [f"{path}.{key}" for key in ours if key not in theirs]
    for key, value in ours.items():
        if key in theirs and key not in FREE_FORM:
            extra += _extra_keys(value, theirs[key], f"{path}.{key}")
    return extra


def _objects(harness: Harness) -> dict[str, dict[str, Any]]:
    customer = harness.client.v1.customers.create(params={"email": "a@example.com", "name": "A"})
    session = harness.new_session(customer=customer.id, client_reference_id="t_1")
    harness.control(f"/checkout/sessions/{session.id}/complete")
    completed = harness.get(f"/v1/checkout/sessions/{session.id}")
    intent = harness.get(f"/v1/payment_intents/{completed['payment_intent']}")
    refund = harness.client.v1.refunds.create(params={"charge": intent["latest_charge"], "amount": 100})
    dispute = harness.control(f"/charges/{intent['latest_charge']}/dispute")["dispute"]
    item = harness.get(f"/v1/checkout/sessions/{session.id}/line_items")["data"][0]
    events = harness.get("/v1/events")["data"]
    return {
        "checkout.session": completed,
        "customer": harness.get(f"/v1/customers/{customer.id}"),
        "event": events[-1],
        "payment_intent": intent,
        "charge": harness.get(f"/v1/charges/{intent['latest_charge']}"),
        "refund": harness.get(f"/v1/refunds/{refund.id}"),
        "dispute": harness.get(f"/v1/disputes/{dispute['id']}"),
        "item": item,
        "price": harness.get(f"/v1/prices/{item['price']['id']}"),
        "product": harness.get(f"/v1/products/{item['price']['product']}"),
    }


def test_objects_have_stripes_keys_and_id_prefixes(harness: Harness) -> None:
    fixtures = _fixtures()

    ours = _objects(harness)

    for kind, obj in ours.items():
        example = fixtures[kind]
        assert obj["object"] == example["object"] == kind
        assert _prefix(obj["id"]) == _prefix(example["id"]), kind
        if kind == "event":
            # data.object is another type of object (here a Checkout Session); compare it with that example.
            inner = obj["data"]["object"]
            assert _extra_keys(inner, fixtures[inner["object"]], inner["object"]) == []
            obj = {**obj, "data": {"object": {}}}
        assert _extra_keys(obj, example, kind) == [], kind


def test_objects_keep_stripes_top_level_fields(harness: Harness) -> None:
    fixtures = _fixtures()

    ours = _objects(harness)

    for kind, obj in ours.items():
        assert sorted(set(fixtures[kind]) - set(obj)) == [], kind


def test_a_closed_dispute_keeps_stripes_shape(harness: Harness) -> None:
    _, charge_id = harness.paid_charge()
    dispute_id = harness.control(f"/charges/{charge_id}/dispute")["dispute"]["id"]
    harness.control(f"/disputes/{dispute_id}/close", {"status": "won"})

    closed = harness.get(f"/v1/disputes/{dispute_id}")

    example = _fixtures()["dispute"]
    assert closed["status"] == "won"
    assert _extra_keys(closed, example, "dispute") == []
    assert sorted(set(example) - set(closed)) == []
