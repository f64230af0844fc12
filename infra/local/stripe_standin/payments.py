"""How money moves: paying a Checkout Session (at once or asynchronously), refunds, disputes, expiry.

Every function here changes the store and records the event Stripe would send; the caller holds
``store.lock`` and delivers the returned event after releasing it.
"""

from __future__ import annotations

from typing import Any

from . import ids, objects
from .errors import ApiError, invalid
from .state import Store

JSON = dict[str, Any]
DEFAULT_BUYER_EMAIL = "buyer@example.com"


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"


def _succeed(intent: JSON, charge: JSON) -> None:
    intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
    charge.update(
        status="succeeded",
        paid=True,
        captured=True,
        amount_captured=charge["amount"],
        balance_transaction=ids.new_id("txn"),
        outcome=objects.authorized_outcome(),
    )


def _fail(intent: JSON, charge: JSON) -> None:
    charge.update(
        status="failed",
        paid=False,
        failure_code="card_declined",
        failure_message="Your card was declined.",
        outcome=objects.declined_outcome(),
    )
    intent.update(
        status="requires_payment_method",
        last_payment_error={
            "charge": charge["id"],
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
            "type": "card_error",
        },
    )


def complete_session(
    store: Store,
    session_id: str,
    *,
    paid: bool,
    email: str | None = None,
    amount_total: int | None = None,
    currency: str | None = None,
) -> JSON:
    """The buyer finishes Checkout. ``paid=False`` is the asynchronous case: the session is complete,
    the payment still processing (payment intent ``processing``, charge ``pending``). ``amount_total`` and
    ``currency`` make the session charge something other than its line items (a misconfigured price, a
    tampered session): what a merchant must refuse to credit blindly."""
    session = store.get("checkout.session", session_id)
    if session["status"] != "open":
        raise ApiError(
            400,
            f"Checkout Session {session_id} is {session['status']}; only an open session can be completed.",
            code="checkout_session_not_open",
        )
    if amount_total is not None:
        session.update(amount_total=amount_total, amount_subtotal=amount_total)
    if currency is not None:
        session["currency"] = currency
    extras = store.sessions[session_id]
    customer = store.find(session["customer"]) if session["customer"] else None
    buyer_email = email or (customer or {}).get("email") or session["customer_email"] or DEFAULT_BUYER_EMAIL
    buyer_name = (customer or {}).get("name")
    now = store.now()
    intent = objects.payment_intent(
        created=now,
        amount=session["amount_total"],
        currency=session["currency"],
        customer_id=session["customer"],
        description=extras.intent_description,
        metadata=dict(extras.intent_metadata),
        payment_method_id=ids.new_id("pm"),
    )
    charge = objects.charge(created=now, intent=intent, email=buyer_email, name=buyer_name)
    intent["latest_charge"] = charge["id"]
    if paid:
        _succeed(intent, charge)
    store.add(intent)
    store.add(charge)
    session.update(
        status="complete",
        payment_status="paid" if paid else "unpaid",
        payment_intent=intent["id"],
        customer_details=objects.customer_details(email=buyer_email, name=buyer_name),
        collected_information={"business_name": None, "individual_name": None, "shipping_details": None},
        url=None,
    )
    return store.emit("checkout.session.completed", session)


def settle_async_payment(store: Store, session_id: str, *, succeeded: bool) -> JSON:
    """The delayed payment of a session completed unpaid succeeds or fails."""
    session = store.get("checkout.session", session_id)
    if session["status"] != "complete" or session["payment_status"] != "unpaid":
        raise ApiError(
            400,
            f"Checkout Session {session_id} has no payment pending (status {session['status']}, "
            f"payment_status {session['payment_status']}).",
            code="checkout_session_not_pending",
        )
    intent = store.get("payment_intent", session["payment_intent"])
    charge = store.get("charge", intent["latest_charge"])
    if charge["status"] != "pending":
        raise ApiError(400, f"The payment of {session_id} has already {charge['status']}.", code="payment_not_pending")
    if succeeded:
        _succeed(intent, charge)
        session["payment_status"] = "paid"
        return store.emit("checkout.session.async_payment_succeeded", session)
    _fail(intent, charge)
    return store.emit("checkout.session.async_payment_failed", session)


def expire_session(store: Store, session_id: str) -> JSON:
    session = store.get("checkout.session", session_id)
    if session["status"] != "open":
        raise ApiError(
            400,
            f'Only Checkout Sessions with a status in ["open"] can be expired. This one is {session["status"]}.',
            code="checkout_session_not_open",
        )
    session.update(status="expired", url=None)
    return store.emit("checkout.session.expired", session)


def _charge_to_refund(store: Store, charge_id: str | None, intent_id: str | None) -> JSON:
    if intent_id is None:
        if charge_id is None:
            raise ApiError(
                400,
                "One of the following params should be provided for this request: payment_intent or charge.",
                code="parameter_missing",
                param="charge",
            )
        return store.get("charge", charge_id, param="charge")
    intent = store.get("payment_intent", intent_id, param="payment_intent")
    if intent["latest_charge"] is None:
        raise ApiError(
            400,
            f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
            code="charge_not_refundable",
            param="payment_intent",
        )
    if charge_id is not None and charge_id != intent["latest_charge"]:
        store.get("charge", charge_id, param="charge")
        raise invalid("charge", f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.")
    return store.get("charge", intent["latest_charge"])


def refund(
    store: Store,
    *,
    charge_id: str | None,
    intent_id: str | None,
    amount: int | None,
    reason: str | None,
    metadata: dict[str, str],
    request_id: str,
    idempotency_key: str | None,
) -> tuple[JSON, JSON]:
    """Refund ``amount`` (default: what is left) of a succeeded charge; ``charge.refunded`` follows."""
    charge = _charge_to_refund(store, charge_id, intent_id)
    if charge["status"] != "succeeded":
        raise ApiError(
            400, f"Charge {charge['id']} is {charge['status']} and cannot be refunded.", code="charge_not_refundable"
        )
    if charge["disputed"]:
        raise ApiError(
            400, f"Charge {charge['id']} has been charged back; cannot issue a refund.", code="charge_disputed"
        )
    left = charge["amount"] - charge["amount_refunded"]
    if left == 0:
        raise ApiError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    amount = left if amount is None else amount
    if amount > left:
        raise ApiError(
            400,
            f"Refund amount ({_money(amount, charge['currency'])}) is greater than unrefunded amount on charge "
            f"({_money(left, charge['currency'])})",
            code="amount_too_large",
            param="amount",
        )
    created = objects.refund(created=store.now(), charge_object=charge, amount=amount, reason=reason, metadata=metadata)
    store.add(created)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, dict(created))
    event = store.emit("charge.refunded", charge, request_id=request_id, idempotency_key=idempotency_key)
    return created, event


def open_dispute(store: Store, charge_id: str, *, amount: int | None, reason: str) -> tuple[JSON, JSON]:
    """The cardholder's bank disputes a succeeded charge: ``charge.dispute.created``."""
    charge = store.get("charge", charge_id)
    if charge["status"] != "succeeded":
        raise ApiError(
            400,
            f"Charge {charge_id} is {charge['status']}; only a succeeded charge can be disputed.",
            code="charge_not_disputable",
        )
    if charge["disputed"]:
        raise ApiError(400, f"Charge {charge_id} is already disputed.", code="charge_already_disputed")
    amount = charge["amount"] if amount is None else amount
    if not 1 <= amount <= charge["amount"]:
        raise invalid(
            "amount", f"A dispute amount must be between 1 and {charge['amount']}.", "parameter_invalid_integer"
        )
    created = objects.dispute(created=store.now(), charge_object=charge, amount=amount, reason=reason)
    store.add(created)
    charge["disputed"] = True
    return created, store.emit("charge.dispute.created", created)


def close_dispute(store: Store, dispute_id: str, *, won: bool) -> list[JSON]:
    """The bank decides a dispute: ``charge.dispute.closed`` (status ``won`` or ``lost``), preceded, when
    the merchant won, by ``charge.dispute.funds_reinstated``, as Stripe sends them."""
    dispute = store.get("dispute", dispute_id)
    if dispute["status"] in ("won", "lost"):
        raise ApiError(400, f"Dispute {dispute_id} is already {dispute['status']}.", code="dispute_already_closed")
    dispute.update(status="won" if won else "lost", is_charge_refundable=False)
    dispute["evidence_details"]["past_due"] = False
    events = [store.emit("charge.dispute.funds_reinstated", dispute)] if won else []
    events.append(store.emit("charge.dispute.closed", dispute))
    return events
