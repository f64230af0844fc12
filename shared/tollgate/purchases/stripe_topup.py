"""Auto top-up's calls to Stripe with the real SDK: Checkout in setup mode, the customer's saved cards, and
the off-session PaymentIntent a crossing buys with (its Idempotency-Key derived from the crossing)."""

from __future__ import annotations

from typing import Any

from tollgate.core.errors import UpstreamUnavailable
from tollgate.purchases.rules_payment_facts import IntentFacts, SavedCard
from tollgate.purchases.stripe_checkout import _get, _metadata
from tollgate.purchases.stripe_gateway import StripeGateway


def intent_facts(obj: Any) -> IntentFacts:
    tenant_id, purchase_id = _metadata(obj)
    error = _get(obj, "last_payment_error") or {}
    return IntentFacts(
        id=str(obj["id"]),
        status=str(_get(obj, "status") or ""),
        amount=int(_get(obj, "amount") or 0),
        currency=str(_get(obj, "currency") or ""),
        tenant_id=tenant_id,
        purchase_id=purchase_id,
        failure=_get(error, "message") or _get(error, "code"),
    )


class StripeTopUps(StripeGateway):
    def __init__(self, client: Any = None) -> None:
        if client is not None:
            self.__dict__["client"] = client

    def setup_session(self, customer_id: str, tenant_id: str, success_url: str, cancel_url: str) -> tuple[str, str]:
        """A Checkout Session in setup mode for the tenant's customer: (id, url)."""
        import stripe

        params = {
            "mode": "setup",
            "customer": customer_id,
            "metadata": {"tenant_id": tenant_id},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        try:
            session = self.client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise UpstreamUnavailable("the payment provider did not answer; nothing was created") from exc
        return str(session.id), str(session.url)

    def cards(self, customer_id: str) -> list[SavedCard]:
        """The customer's saved cards, newest first."""
        import stripe

        try:
            found = self.client.v1.payment_methods.list(params={"customer": customer_id, "type": "card"})
        except stripe.StripeError as exc:
            raise UpstreamUnavailable("the payment provider did not answer (list saved cards)") from exc
        return [
            SavedCard(str(m.id), str(_get(_get(m, "card"), "brand") or ""), str(_get(_get(m, "card"), "last4") or ""))
            for m in found.data
        ]

    def pay_off_session(
        self,
        customer_id: str,
        payment_method: str,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> IntentFacts:
        """Confirm a PaymentIntent off-session. A declined card answers its intent (status
        ``requires_payment_method``); Stripe's ``payment_intent.payment_failed`` webhook does the rest."""
        import stripe

        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "customer": customer_id,
            "payment_method": payment_method,
            "confirm": True,
            "off_session": True,
            "metadata": metadata,
        }
        try:
            intent = self.client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            declined = _get(exc.error, "payment_intent") if exc.error is not None else None
            if declined is None:
                raise UpstreamUnavailable("the card was declined and Stripe named no payment intent") from exc
            return intent_facts(declined)
        except stripe.StripeError as exc:
            raise UpstreamUnavailable("the payment provider did not answer (off-session payment)") from exc
        return intent_facts(intent)
