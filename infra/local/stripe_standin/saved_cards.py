"""Saved cards and off-session payments: Checkout in ``setup`` mode, SetupIntents, PaymentMethods and
PaymentIntents confirmed off-session, with Stripe's two test payment methods ``pm_card_visa`` (pays) and
``pm_card_chargeDeclined`` (declines with ``card_declined``).

Completing a setup session (``POST /_standin/checkout/sessions/{id}/complete {"payment_method": …}``) makes
a PaymentMethod attached to the session's customer (visa 4242 or visa 0002) and a succeeded SetupIntent,
and sends ``checkout.session.completed``. A PaymentIntent created with ``confirm=true`` charges that
method at once: ``payment_intent.succeeded``, or a 402 ``card_error`` naming the intent (kept for its
``Idempotency-Key`` like any answer) and ``payment_intent.payment_failed``.
"""

from __future__ import annotations

import copy
from typing import Any

from . import ids, objects
from .context import Call, Core, Reply
from .errors import ApiError, invalid, missing
from .payments import _fail, _succeed

JSON = dict[str, Any]
TEST_CARDS = {"pm_card_visa": "4242", "pm_card_chargeDeclined": "0002"}
DECLINES = frozenset({"0002"})


def setup_session(core: Core, call: Call) -> Reply:
    """``mode=setup``: no line items, a customer whose card is saved."""
    params = call.params
    customer_id = params.text("customer")
    if customer_id is None:
        raise missing("customer")
    core.store.get("customer", customer_id, param="customer")
    now = core.store.now()
    session_id = ids.new_id("cs_test")
    session = objects.checkout_session(
        session_id=session_id,
        created=now,
        expires_at=now + objects.SESSION_LIFETIME_S,
        url=f"{core.base_url}/checkout/{session_id}",
        currency="usd",
        amount=0,
        customer_id=customer_id,
        customer_email=None,
        client_reference_id=params.text("client_reference_id"),
        success_url=params.text("success_url"),
        cancel_url=params.text("cancel_url"),
        metadata=params.metadata(),
        locale=params.text("locale"),
        allow_promotion_codes=None,
        billing_address_collection=None,
        submit_type=None,
    )
    session.update(
        mode="setup", amount_subtotal=None, amount_total=None, currency=None, payment_status="no_payment_required"
    )
    core.store.add(session)
    return Reply(session)


def _payment_method(created: int, customer_id: str, last4: str) -> JSON:
    return {
        "id": ids.new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "always",
        "billing_details": {"address": objects.empty_address(), "email": None, "name": None, "phone": None},
        "card": {**objects.card_details(), "last4": last4},
        "created": created,
        "customer": customer_id,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def complete_setup(core: Core, session_id: str, test_method: str) -> JSON:
    """Save ``test_method`` on the session's customer; the caller holds the lock and sends the event."""
    store = core.store
    session = store.get("checkout.session", session_id)
    if session["status"] != "open":
        raise ApiError(400, f"Checkout Session {session_id} is {session['status']}.", code="checkout_session_not_open")
    last4 = TEST_CARDS.get(test_method)
    if last4 is None:
        raise invalid("payment_method", f"payment_method must be one of {', '.join(TEST_CARDS)}.")
    now = store.now()
    method = store.add(_payment_method(now, session["customer"], last4))
    intent_id = ids.new_id("seti")
    store.add(
        {
            "id": intent_id,
            "object": "setup_intent",
            "client_secret": ids.client_secret(intent_id),
            "created": now,
            "customer": session["customer"],
            "livemode": False,
            "metadata": {},
            "payment_method": method["id"],
            "payment_method_types": ["card"],
            "status": "succeeded",
            "usage": "off_session",
        }
    )
    session.update(status="complete", setup_intent=intent_id, url=None)
    return store.emit("checkout.session.completed", session)


def list_payment_methods(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(("customer", "type", "limit", "expand"))
    customer = params.text("customer")
    if customer is None and not call.args:
        raise missing("customer")
    customer = call.args[0] if call.args else customer
    params.text("type", choices=("card",))
    found = [copy.deepcopy(m) for m in core.store.newest_first("payment_method") if m["customer"] == customer]
    url = f"/v1/customers/{customer}/payment_methods" if call.args else "/v1/payment_methods"
    return Reply(objects.list_object(found, url))


INTENT_PARAMS = (
    "amount",
    "currency",
    "customer",
    "payment_method",
    "confirm",
    "off_session",
    "metadata",
    "description",
    "expand",
)


def create_payment_intent(core: Core, call: Call) -> Reply:
    """Off-session and confirmed at once (the only way Tollgate creates one)."""
    store, params = core.store, call.params
    params.reject_unknown(INTENT_PARAMS)
    amount = params.integer("amount", minimum=1)
    currency = params.required_text("currency").lower()
    if amount is None:
        raise missing("amount")
    if params.boolean("confirm") is not True or params.boolean("off_session") is not True:
        raise invalid("confirm", "The Stripe stand-in supports only confirm=true with off_session=true.")
    customer_id = params.text("customer")
    method_id = params.text("payment_method")
    if customer_id is None or method_id is None:
        raise missing("customer" if customer_id is None else "payment_method")
    method = store.get("payment_method", method_id, param="payment_method")
    if method["customer"] != customer_id:
        raise invalid("payment_method", f"The payment method {method_id} does not belong to {customer_id}.")
    now = store.now()
    intent = objects.payment_intent(
        created=now,
        amount=amount,
        currency=currency,
        customer_id=customer_id,
        description=params.text("description"),
        metadata=params.metadata(),
        payment_method_id=method_id,
    )
    charge = objects.charge(created=now, intent=intent, email=None, name=None)
    charge["payment_method_details"]["card"]["last4"] = method["card"]["last4"]
    intent["latest_charge"] = charge["id"]
    store.add(intent)
    store.add(charge)
    kwargs = {"request_id": call.request_id, "idempotency_key": call.idempotency_key}
    if method["card"]["last4"] in DECLINES:
        _fail(intent, charge)
        event = store.emit("payment_intent.payment_failed", intent, **kwargs)
        error = ApiError(
            402, "Your card was declined.", code="card_declined", param=None, error_type="card_error"
        ).body()
        error["error"].update(
            decline_code="generic_decline",
            charge=charge["id"],
            payment_intent=copy.deepcopy(intent),
            payment_method=copy.deepcopy(method),
        )
        return Reply(error, status=402, deliver=[event["id"]])
    _succeed(intent, charge)
    event = store.emit("payment_intent.succeeded", intent, **kwargs)
    return Reply(intent, deliver=[event["id"]])
