"""The stand-in's pieces on their own: Stripe's form encoding, the webhook signature."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import stripe
from stripe._encode import _api_encode

from infra.local.stripe_standin.errors import ApiError
from infra.local.stripe_standin.forms import Params, decode, decode_query
from infra.local.stripe_standin.webhooks import signature_header


def _as_the_sdk_sends(params: dict[str, object]) -> str:
    """Encode ``params`` with the stripe SDK's own encoder, brackets left literal as it sends them."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


def test_decodes_what_the_sdk_encodes() -> None:
    params = {
        "mode": "payment",
        "metadata": {"purchase_id": "pur_1", "0": "zero"},
        "line_items": [
            {
                "price_data": {"currency": "usd", "unit_amount": 500, "product_data": {"name": "100 tokens"}},
                "quantity": 2,
            },
            {"price": "price_1", "quantity": 1},
        ],
        "expand": ["line_items", "payment_intent"],
        "allow_promotion_codes": False,
    }

    decoded = decode_query(_as_the_sdk_sends(params))

    assert decoded == {
        "mode": "payment",
        "metadata": {"purchase_id": "pur_1", "0": "zero"},
        "line_items": [
            {
                "price_data": {"currency": "usd", "unit_amount": "500", "product_data": {"name": "100 tokens"}},
                "quantity": "2",
            },
            {"price": "price_1", "quantity": "1"},
        ],
        "expand": ["line_items", "payment_intent"],
        "allow_promotion_codes": "false",
    }


def test_decodes_appended_brackets_and_orders_indices_numerically() -> None:
    decoded = decode([("expand[]", "a"), ("expand[]", "b"), ("x[10]", "ten"), ("x[2]", "two")])

    assert decoded == {"expand": ["a", "b"], "x": ["two", "ten"]}


def test_a_key_that_is_both_a_value_and_an_object_is_refused() -> None:
    with pytest.raises(ApiError) as raised:
        decode([("metadata", "x"), ("metadata[a]", "b")])

    assert raised.value.status == 400


def test_params_convert_and_name_the_full_bracket_path() -> None:
    line = Params({"line_items": [{"quantity": "two"}]}).items("line_items")[0]

    with pytest.raises(ApiError) as raised:
        line.integer("quantity")

    assert raised.value.param == "line_items[0][quantity]"
    assert raised.value.code == "parameter_invalid_integer"


def test_the_signature_is_what_stripe_verifies() -> None:
    payload = b'{"id": "evt_1", "object": "event"}'
    now = int(time.time())

    header = signature_header(payload, "whsec_abc", now)

    assert header.startswith(f"t={now},v1=")
    assert stripe.WebhookSignature.verify_header(payload.decode(), header, "whsec_abc")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload.decode(), header, "whsec_other")
    stale = signature_header(payload, "whsec_abc", now - 600)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload.decode(), stale, "whsec_abc", tolerance=300)
