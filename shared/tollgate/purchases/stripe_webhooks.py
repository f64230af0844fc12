"""Verifying Stripe's webhooks and reading their events into the domain's ``PaymentEvent``.

The signature is checked with ``stripe.Webhook.construct_event`` against the raw body, under each configured
endpoint secret in turn (two during a rotation), with Stripe's default 300-second tolerance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tollgate.purchases.rules_payment_facts import DisputeFacts, PaymentEvent, WebhookSignatureInvalid
from tollgate.purchases.stripe_checkout import charge_facts, session_facts

TOLERANCE_S = 300
_SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)


def parse_event(event: dict[str, Any]) -> PaymentEvent:
    kind = str(event.get("type", ""))
    obj = (event.get("data") or {}).get("object") or {}
    session = charge = dispute = None
    if kind in _SESSION_EVENTS and obj.get("object") == "checkout.session":
        session = session_facts(obj)
    elif kind == "charge.refunded" and obj.get("object") == "charge":
        charge = charge_facts(obj)
    elif kind.startswith("charge.dispute.") and obj.get("object") == "dispute":
        charge_id = obj.get("charge")
        dispute = DisputeFacts(
            id=str(obj["id"]),
            charge=str(charge_id if isinstance(charge_id, str) else (charge_id or {}).get("id")),
            amount=int(obj.get("amount") or 0),
            payment_intent=obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else None,
            status=str(obj.get("status") or ""),
        )
    return PaymentEvent(
        id=str(event["id"]),
        type=kind,
        created=int(event.get("created") or 0),
        session=session,
        charge=charge,
        dispute=dispute,
    )


class StripeWebhookVerifier:
    def __init__(self, secrets: Callable[[], list[str]], tolerance_s: int = TOLERANCE_S) -> None:
        self._secrets = secrets
        self._tolerance_s = tolerance_s

    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent:
        import stripe  # deferred: only the webhook function pays for it

        if not signature:
            raise WebhookSignatureInvalid("the Stripe-Signature header is missing")
        for secret in self._secrets():
            try:
                stripe.Webhook.construct_event(payload, signature, secret, tolerance=self._tolerance_s)
            except stripe.SignatureVerificationError:
                continue
            except ValueError as exc:  # signed, but not JSON
                raise WebhookSignatureInvalid("the signed body is not a JSON event") from exc
            try:
                event = json.loads(payload)
                return parse_event(event)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise WebhookSignatureInvalid("the signed body is not a Stripe event") from exc
        raise WebhookSignatureInvalid(
            "the Stripe-Signature does not match this body under any endpoint secret, or is too old"
        )


def webhook_secrets(raw: str) -> list[str]:
    """``STRIPE_WEBHOOK_SECRETS``: comma-separated; the new secret and the old one during a rotation."""
    return [part.strip() for part in raw.split(",") if part.strip()]
