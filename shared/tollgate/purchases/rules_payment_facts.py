"""What the payment provider tells us, as plain values: billing/ translates Stripe's objects into these,
so the rules never see a Stripe object."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.core.errors import MalformedRequest


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    created: int
    url: str | None = None
    payment_intent: str | None = None
    amount_total: int | None = None
    currency: str | None = None
    tenant_id: str | None = None  # from the session's metadata, which only Tollgate sets
    purchase_id: str | None = None

    @property
    def paid(self) -> bool:
        return self.status == "complete" and self.payment_status == "paid"


@dataclass(frozen=True)
class ChargeFacts:
    id: str
    amount: int
    amount_refunded: int
    payment_intent: str | None = None
    tenant_id: str | None = None
    purchase_id: str | None = None


@dataclass(frozen=True)
class DisputeFacts:
    id: str
    charge: str
    amount: int
    payment_intent: str | None = None
    status: str = ""  # warning_needs_response … needs_response, under_review, won, lost


@dataclass(frozen=True)
class IntentFacts:
    """A PaymentIntent (auto top-up's off-session payments)."""

    id: str
    status: str  # succeeded | requires_payment_method | processing | …
    amount: int
    currency: str
    tenant_id: str | None = None
    purchase_id: str | None = None
    failure: str | None = None  # the last payment error's message


@dataclass(frozen=True)
class SavedCard:
    id: str
    brand: str
    last4: str


@dataclass(frozen=True)
class PriceFacts:
    """A Stripe Price: what one unit sells for."""

    id: str
    unit_amount: int | None
    currency: str
    active: bool = True


@dataclass(frozen=True)
class PaymentEvent:
    """A verified webhook event: its id, type and the one object it carries."""

    id: str
    type: str
    created: int
    session: CheckoutSession | None = None
    charge: ChargeFacts | None = None
    dispute: DisputeFacts | None = None
    intent: IntentFacts | None = None


@dataclass(frozen=True)
class CheckoutRequest:
    purchase_id: str
    tenant_id: str
    customer_id: str | None
    customer_email: str
    product_name: str
    unit_amount: int
    currency: str
    quantity: int
    stripe_price: str | None
    success_url: str
    cancel_url: str
    idempotency_key: str


class WebhookSignatureInvalid(MalformedRequest):
    """The Stripe-Signature header is missing, forged, or too old; nothing was changed."""

    code = "INVALID_SIGNATURE"


class WebhookEventInvalid(MalformedRequest):
    """A correctly signed body that is not a Stripe event object, or whose fields have the wrong types
    (SPEC.md: a 400 that changes nothing)."""

    code = "INVALID_EVENT"
