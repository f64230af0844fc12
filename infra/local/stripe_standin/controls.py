"""Local controls under ``/_standin`` (not Stripe's API): play the buyer, the bank and the webhook sender.

Each control changes the account under the store lock, releases it, then delivers the event it caused
(synchronously, so that a test sees the webhook's effect when the call returns) and reports how the
delivery went.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from . import payments, saved_cards
from .context import Core
from .errors import ApiError, invalid

JSON = dict[str, Any]
Control = Callable[[Core, tuple[str, ...], JSON], JSON]
T = TypeVar("T")


def _field(body: JSON, name: str, kind: type[T], default: T) -> T:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid(name, f"{name} must be a {kind.__name__}.")
    return value


def _send(core: Core, event: JSON, deliver: bool) -> JSON:
    report = core.courier.deliver(event["id"]) if deliver else core.courier.skip(event["id"], "deliver=false")
    return {"event": {"id": event["id"], "type": event["type"]}, "delivery": report}


def complete_and_deliver(
    core: Core,
    session_id: str,
    *,
    paid: bool,
    deliver: bool = True,
    email: str | None = None,
    amount_total: int | None = None,
    currency: str | None = None,
) -> JSON:
    """Pay a Checkout Session (or complete it with the payment pending) and send ``checkout.session.completed``.
    The checkout page's Pay button goes through here too."""
    with core.store.transaction():
        event = payments.complete_session(
            core.store, session_id, paid=paid, email=email, amount_total=amount_total, currency=currency
        )
        session = copy.deepcopy(core.store.get("checkout.session", session_id))
    return {"session": session, **_send(core, event, deliver)}


def complete(core: Core, args: tuple[str, ...], body: JSON) -> JSON:
    if "payment_method" in body:  # a setup session: save the card
        with core.store.transaction():
            event = saved_cards.complete_setup(core, args[0], _field(body, "payment_method", str, ""))
            session = copy.deepcopy(core.store.get("checkout.session", args[0]))
        return {"session": session, **_send(core, event, _field(body, "deliver", bool, True))}
    status = _field(body, "payment_status", str, "paid")
    if status not in ("paid", "unpaid"):
        raise invalid("payment_status", 'payment_status must be "paid" or "unpaid".')
    amount_total = body.get("amount_total")
    if amount_total is not None and (type(amount_total) is not int or amount_total < 0):
        raise invalid("amount_total", "amount_total must be a non-negative integer.")
    currency = _field(body, "currency", str, "") or None
    if currency is not None and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise invalid("currency", "currency must be a three-letter ISO code.")
    return complete_and_deliver(
        core,
        args[0],
        paid=status == "paid",
        deliver=_field(body, "deliver", bool, True),
        email=_field(body, "email", str, "") or None,
        amount_total=amount_total,
        currency=currency.lower() if currency else None,
    )


def async_payment(core: Core, args: tuple[str, ...], body: JSON) -> JSON:
    if "succeeded" not in body:
        raise ApiError(400, "Missing required param: succeeded.", code="parameter_missing", param="succeeded")
    succeeded = _field(body, "succeeded", bool, True)
    with core.store.transaction():
        event = payments.settle_async_payment(core.store, args[0], succeeded=succeeded)
        session = copy.deepcopy(core.store.get("checkout.session", args[0]))
    return {"session": session, **_send(core, event, _field(body, "deliver", bool, True))}


def dispute(core: Core, args: tuple[str, ...], body: JSON) -> JSON:
    amount = _field(body, "amount", int, 0) or None
    reason = _field(body, "reason", str, "fraudulent")
    with core.store.transaction():
        created, event = payments.open_dispute(core.store, args[0], amount=amount, reason=reason)
        created = copy.deepcopy(created)
        charge = copy.deepcopy(core.store.get("charge", args[0]))
    return {"dispute": created, "charge": charge, **_send(core, event, _field(body, "deliver", bool, True))}


def close_dispute(core: Core, args: tuple[str, ...], body: JSON) -> JSON:
    """``{"status": "won" | "lost", "deliver"?}``: the bank's decision, and its events in Stripe's order."""
    status = _field(body, "status", str, "")
    if status not in ("won", "lost"):
        raise invalid("status", 'status must be "won" or "lost".')
    with core.store.transaction():
        events = payments.close_dispute(core.store, args[0], won=status == "won")
        closed = copy.deepcopy(core.store.get("dispute", args[0]))
    deliver = _field(body, "deliver", bool, True)
    return {"dispute": closed, "events": [_send(core, event, deliver) for event in events]}


def resend(core: Core, args: tuple[str, ...], body: JSON) -> JSON:
    del body
    with core.store.lock:
        event = copy.deepcopy(core.store.get("event", args[0]))
    return _send(core, event, deliver=True)


def health(core: Core, args: tuple[str, ...], body: JSON) -> JSON:
    del core, args, body
    return {"ok": True}


def deliveries(core: Core, args: tuple[str, ...], body: JSON) -> JSON:
    del args, body
    with core.store.lock:
        return {"deliveries": copy.deepcopy(core.store.deliveries)}


ROUTES: list[tuple[str, str, Control]] = [
    ("POST", r"/_standin/checkout/sessions/([^/]+)/complete", complete),
    ("POST", r"/_standin/checkout/sessions/([^/]+)/async_payment", async_payment),
    ("POST", r"/_standin/charges/([^/]+)/dispute", dispute),
    ("POST", r"/_standin/disputes/([^/]+)/close", close_dispute),
    ("POST", r"/_standin/events/([^/]+)/resend", resend),
    ("GET", r"/_standin/health", health),
    ("GET", r"/_standin/deliveries", deliveries),
]
