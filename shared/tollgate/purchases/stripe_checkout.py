"""The ``Checkout`` port with the real stripe SDK: Checkout Sessions, charges, prices, and reading them back.

``stripe`` is imported inside each call, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tollgate.core.errors import InvalidField, UpstreamUnavailable
from tollgate.purchases.rules_payment_facts import ChargeFacts, CheckoutRequest, CheckoutSession, PriceFacts
from tollgate.purchases.stripe_gateway import StripeGateway

if TYPE_CHECKING:
    import stripe


_NO_ANSWER = "the payment provider did not answer (read a charge); nothing was changed"


def _get(obj: Any, name: str) -> Any:
    """A field of a Stripe object or of a plain dict (webhook payloads are parsed as plain JSON)."""
    if obj is None:
        return None
    try:
        return obj[name]
    except (KeyError, TypeError):
        return None


def _metadata(obj: Any) -> tuple[str | None, str | None]:
    metadata = _get(obj, "metadata") or {}
    return _get(metadata, "tenant_id") or None, _get(metadata, "purchase_id") or None


def _id(value: Any) -> str | None:
    """An id field, expanded or not."""
    if value is None or isinstance(value, str):
        return value
    return str(_get(value, "id"))


def session_facts(obj: Any) -> CheckoutSession:
    tenant_id, purchase_id = _metadata(obj)
    return CheckoutSession(
        id=str(obj["id"]),
        status=str(_get(obj, "status") or ""),
        payment_status=str(_get(obj, "payment_status") or ""),
        created=int(_get(obj, "created") or 0),
        url=_get(obj, "url"),
        payment_intent=_id(_get(obj, "payment_intent")),
        amount_total=_get(obj, "amount_total"),
        currency=_get(obj, "currency"),
        tenant_id=tenant_id,
        purchase_id=purchase_id or _get(obj, "client_reference_id"),
    )


def charge_facts(obj: Any) -> ChargeFacts:
    tenant_id, purchase_id = _metadata(obj)
    return ChargeFacts(
        id=str(obj["id"]),
        amount=int(_get(obj, "amount") or 0),
        amount_refunded=int(_get(obj, "amount_refunded") or 0),
        payment_intent=_id(_get(obj, "payment_intent")),
        tenant_id=tenant_id,
        purchase_id=purchase_id,
    )


class StripeCheckout(StripeGateway):
    def __init__(self, client: stripe.StripeClient | None = None) -> None:
        if client is not None:  # tests pass a client aimed at the stand-in; else built from settings on first use
            self.__dict__["client"] = client

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        import stripe

        try:
            return call(*args, **kwargs)
        except stripe.StripeError as exc:
            raise UpstreamUnavailable(f"the payment provider did not answer ({what}); nothing was changed") from exc

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession:
        if request.stripe_price is not None:
            line: dict[str, Any] = {"price": request.stripe_price, "quantity": request.quantity}
        else:
            line = {
                "price_data": {
                    "currency": request.currency,
                    "unit_amount": request.unit_amount,
                    "product_data": {"name": request.product_name},
                },
                "quantity": request.quantity,
            }
        metadata = {"tenant_id": request.tenant_id, "purchase_id": request.purchase_id}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [line],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "client_reference_id": request.purchase_id,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        if request.customer_id:
            params["customer"] = request.customer_id
        else:
            params["customer_email"] = request.customer_email
        session = self._call(
            "create a Checkout Session",
            self.client.v1.checkout.sessions.create,
            params=params,
            options={"idempotency_key": request.idempotency_key},
        )
        return session_facts(session)

    def checkout_session(self, session_id: str) -> CheckoutSession:
        return session_facts(
            self._call("read a Checkout Session", self.client.v1.checkout.sessions.retrieve, session_id)
        )

    def session_for_payment_intent(self, payment_intent_id: str) -> CheckoutSession | None:
        found = self._call(
            "find a Checkout Session",
            self.client.v1.checkout.sessions.list,
            params={"payment_intent": payment_intent_id, "limit": 1},
        )
        return session_facts(found.data[0]) if found.data else None

    def price(self, price_id: str) -> PriceFacts:
        """A Stripe Price, to check that it sells a pack for what the pack costs."""
        import stripe

        try:
            price = self.client.v1.prices.retrieve(price_id)
        except stripe.InvalidRequestError as exc:
            raise InvalidField("stripe_price", f"Stripe has no price {price_id}") from exc
        except stripe.StripeError as exc:
            raise UpstreamUnavailable("the payment provider did not answer (read a price)") from exc
        unit_amount = _get(price, "unit_amount")
        return PriceFacts(
            id=str(price.id),
            unit_amount=None if unit_amount is None else int(unit_amount),
            currency=str(_get(price, "currency") or ""),
            active=bool(_get(price, "active")),
        )

    def charge(self, charge_id: str) -> ChargeFacts | None:
        import stripe

        try:
            found = self.client.v1.charges.retrieve(charge_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:  # Stripe has no such charge: retrying for three days would not change it
                return None
            raise UpstreamUnavailable(
                "the payment provider did not answer (read a charge); nothing was changed"
            ) from exc
        except stripe.StripeError as exc:
            raise UpstreamUnavailable(
                "the payment provider did not answer (read a charge); nothing was changed"
            ) from exc
        return charge_facts(found)

    def completed_sessions(self, created_since: int) -> Iterator[CheckoutSession]:
        first = self._call(
            "list Checkout Sessions",
            self.client.v1.checkout.sessions.list,
            params={"status": "complete", "created": {"gte": created_since}, "limit": 100},
        )
        pages = iter(first.auto_paging_iter())
        while True:
            session = self._call("list Checkout Sessions", next, pages, None)
            if session is None:
                return
            yield session_facts(session)
