"""Verifying Stripe's webhooks and reading their events into the domain's ``PaymentEvent``.

The signature is checked with ``stripe.Webhook.construct_event`` against the raw body, under each configured
endpoint secret in turn (two during a rotation), with Stripe's default 300-second tolerance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tollgate.purchases.rules_payment_facts import (
    DisputeFacts,
    PaymentEvent,
    WebhookEventInvalid,
    WebhookSignatureInvalid,
)
from tollgate.purchases.stripe_checkout import charge_facts, session_facts
from tollgate.purchases.stripe_topup import intent_facts

TOLERANCE_S = 300
_SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)


def parse_event(event: Any) -> PaymentEvent:
    """The domain's event from a verified body's JSON; ``WebhookEventInvalid`` unless it is an event object
    whose fields that Tollgate reads have Stripe's types (a string ``amount_total`` is refused here, before
    anything compares or credits it)."""
    if not isinstance(event, dict):
        raise WebhookEventInvalid("the signed body is not a Stripe event object")
    kind = _typed(event, "type", str, required=True)
    data = _typed(event, "data", dict) or {}
    obj = _typed(data, "object", dict) or {}
    session = charge = dispute = intent = None
    if kind in _SESSION_EVENTS and obj.get("object") == "checkout.session":
        _check(obj, _SESSION_FIELDS)
        session = session_facts(obj)
    elif kind == "charge.refunded" and obj.get("object") == "charge":
        _check(obj, _CHARGE_FIELDS)
        charge = charge_facts(obj)
    elif kind.startswith("charge.dispute.") and obj.get("object") == "dispute":
        _check(obj, _DISPUTE_FIELDS)
        charge_id = obj.get("charge")
        if isinstance(charge_id, dict):
            charge_id = _typed(charge_id, "id", str, required=True)
        if not isinstance(charge_id, str) or not charge_id:
            raise WebhookEventInvalid("the dispute's charge is not a charge id")
        dispute = DisputeFacts(
            id=obj["id"],
            charge=charge_id,
            amount=int(obj.get("amount") or 0),
            payment_intent=obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else None,
            status=str(obj.get("status") or ""),
        )
    elif kind.startswith("payment_intent.") and obj.get("object") == "payment_intent":
        _check(obj, _INTENT_FIELDS)
        intent = intent_facts(obj)
    return PaymentEvent(
        id=_typed(event, "id", str, required=True),
        type=kind,
        created=int(_typed(event, "created", int) or 0),
        session=session,
        charge=charge,
        dispute=dispute,
        intent=intent,
    )


# The fields Tollgate reads from each object, with the types Stripe documents (None: may be null or absent).
_ID = (str, True)
_SESSION_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "id": _ID,
    "status": (str, False),
    "payment_status": (str, False),
    "created": (int, False),
    "url": (str, False),
    "payment_intent": ((str, dict), False),
    "amount_total": (int, False),
    "currency": (str, False),
    "metadata": (dict, False),
    "client_reference_id": (str, False),
}
_CHARGE_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "id": _ID,
    "amount": (int, False),
    "amount_refunded": (int, False),
    "payment_intent": ((str, dict), False),
    "metadata": (dict, False),
}
_INTENT_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "id": _ID,
    "status": (str, False),
    "amount": (int, False),
    "currency": (str, False),
    "metadata": (dict, False),
    "last_payment_error": (dict, False),
}
_DISPUTE_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "id": _ID,
    "charge": ((str, dict), True),
    "amount": (int, False),
    "payment_intent": ((str, dict), False),
    "status": (str, False),
}


def _check(obj: dict[str, Any], fields: dict[str, tuple[type | tuple[type, ...], bool]]) -> None:
    for name, (kind, required) in fields.items():
        _typed(obj, name, kind, required)
    metadata = obj.get("metadata") or {}
    if not all(isinstance(value, str) for value in metadata.values()):
        raise WebhookEventInvalid("metadata values must be strings")


def _typed(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], required: bool = False) -> Any:
    """``obj[name]`` if it has the type (a bool is no int), else ``WebhookEventInvalid``; None if absent or
    null and not ``required``."""
    value = obj.get(name)
    if value is None:
        if required:
            raise WebhookEventInvalid(f"the event has no {name}")
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise WebhookEventInvalid(f"{name} is not of Stripe's type ({' or '.join(k.__name__ for k in kinds)})")
    if required and isinstance(value, str) and not value:
        raise WebhookEventInvalid(f"the event's {name} is empty")
    return value


class StripeWebhookVerifier:
    def __init__(self, secrets: Callable[[], list[str]], tolerance_s: int = TOLERANCE_S) -> None:
        self._secrets = secrets
        self._tolerance_s = tolerance_s

    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent:
        """The event of a body signed under one of the endpoint secrets: the signature is checked on the raw
        bytes first (``stripe.WebhookSignature.verify_header``, which parses nothing), then the body is read
        as JSON and its shape checked (``parse_event``)."""
        import stripe  # deferred: only the webhook function pays for it

        if not signature:
            raise WebhookSignatureInvalid("the Stripe-Signature header is missing")
        for secret in self._secrets():
            try:
                stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=self._tolerance_s)
            except (stripe.SignatureVerificationError, ValueError):  # ValueError: a body that is not UTF-8
                continue
            try:
                value = json.loads(payload)
            except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
                raise WebhookEventInvalid("the signed body is not JSON") from exc
            return parse_event(value)
        raise WebhookSignatureInvalid(
            "the Stripe-Signature does not match this body under any endpoint secret, or is too old"
        )


def webhook_secrets(raw: str) -> list[str]:
    """``STRIPE_WEBHOOK_SECRETS``: comma-separated; the new secret and the old one during a rotation."""
    return [part.strip() for part in raw.split(",") if part.strip()]
