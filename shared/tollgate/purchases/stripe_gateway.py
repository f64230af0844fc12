"""The PaymentGateway port, implemented with the real stripe SDK.

``STRIPE_API_BASE`` points the SDK at the local stand-in; unset, it talks to Stripe itself.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from tollgate.core.errors import UpstreamUnavailable
from tollgate.core.settings import secret, settings

if TYPE_CHECKING:
    import stripe


class StripeGateway:
    @cached_property
    def client(self) -> stripe.StripeClient:
        import stripe  # deferred: only the functions that talk to Stripe pay for the import

        base = settings().stripe_api_base
        options: dict[str, Any] = {"max_network_retries": 2}
        if base:
            options["base_addresses"] = {"api": base}
        return stripe.StripeClient(secret("STRIPE_API_KEY"), **options)

    def create_customer(self, tenant_id: str, name: str, email: str, idempotency_key: str) -> str:
        import stripe

        try:
            customer = self.client.v1.customers.create(
                params={"name": name, "email": email, "metadata": {"tenant_id": tenant_id}},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise UpstreamUnavailable("the payment provider did not answer; nothing was created") from exc
        return str(customer.id)
