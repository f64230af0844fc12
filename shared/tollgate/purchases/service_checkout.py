"""Buying: a pending purchase with its Stripe Checkout Session, reading purchases back, and the check that
a pack's Stripe Price sells it for what the pack says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from tollgate.core.clock import Clock
from tollgate.core.errors import InvalidField, NotFound, StoreBusy
from tollgate.core.idempotency import Replayed, StoredAnswer, check_replay, request_fingerprint
from tollgate.core.ids import IdGenerator
from tollgate.core.limits import MAX_PURCHASE_QUANTITY
from tollgate.core.models import Principal, TokenPack
from tollgate.purchases.ports import Applied, Checkout, ProjectLookup, PurchaseChange, PurchaseRepository
from tollgate.purchases.rules_catalog import CatalogRepository
from tollgate.purchases.rules_payment_facts import CheckoutRequest, PriceFacts
from tollgate.purchases.rules_records import Purchase, PurchasePage, PurchaseStatus
from tollgate.purchases.rules_take_back import expired_of_lot

MAX_QUANTITY = MAX_PURCHASE_QUANTITY  # the one bound, declared in http/limits.py
IDEMPOTENCY_SCOPE = "purchase"
ATTEMPTS = 6  # compare-and-set rounds on one purchase before StoreBusy


def check_stripe_price(pack: TokenPack, price: PriceFacts) -> None:
    """A pack sold through a Stripe Price must cost what the pack says, in its currency: else Checkout
    would charge one figure while the purchase records another, and every sale would land in review."""
    if not price.active:
        raise InvalidField("stripe_price", f"Stripe price {price.id} is archived (not active)")
    if price.unit_amount != pack.price or price.currency.lower() != pack.currency.lower():
        said = f"{price.unit_amount} {price.currency}" if price.unit_amount is not None else "a custom amount"
        raise InvalidField(
            "stripe_price",
            f"Stripe price {price.id} sells for {said}, but pack {pack.id} costs {pack.price} {pack.currency}",
        )


class Buying:
    def __init__(
        self,
        purchases: PurchaseRepository,
        catalog: CatalogRepository,
        projects: ProjectLookup,
        checkout: Checkout,
        clock: Clock,
        ids: IdGenerator,
        portal_base_url: Callable[[], str],
    ) -> None:
        self._purchases = purchases
        self._catalog = catalog
        self._projects = projects
        self._checkout = checkout
        self._clock = clock
        self._ids = ids
        self._portal = portal_base_url

    def create(
        self,
        caller: Principal,
        pack_id: str,
        quantity: int,
        po_number: str | None,
        project_id: str | None,
        idempotency_key: str,
    ) -> Purchase:
        """A pending purchase with its Checkout Session. The same Idempotency-Key and body answer with the
        same purchase (and create no second session); another body is a conflict."""
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidField("quantity", f"must be from 1 to {MAX_QUANTITY}")
        fingerprint = request_fingerprint("purchase", pack_id, quantity, po_number, project_id)
        now = self._clock.now()
        stored = self._purchases.stored_answer(caller.tenant_id, idempotency_key)
        if stored is not None:
            return self._with_session(caller, self._replayed(caller.tenant_id, stored, fingerprint, now))
        pack = self._catalog.pack(pack_id)
        if pack is None:
            raise InvalidField("pack_id", f"no pack {pack_id} in the catalog")
        if project_id is not None:
            try:
                self._projects.get(caller.tenant_id, project_id)
            except NotFound as exc:
                raise InvalidField("project_id", f"this tenant has no project {project_id}") from exc
        purchase = Purchase(
            id=self._ids.new_id("pu"),
            tenant_id=caller.tenant_id,
            buyer_key_id=caller.key_id,
            pack_id=pack.id,
            quantity=quantity,
            tokens=pack.tokens * quantity,
            amount=pack.price * quantity,
            currency=pack.currency,
            valid_days=pack.valid_days,
            status=PurchaseStatus.PENDING,
            created_at=now,
            po_number=po_number,
            project_id=project_id,
        )
        answer = StoredAnswer(fingerprint, 201, {"purchase_id": purchase.id}, now)
        try:
            self._purchases.create(purchase, idempotency_key, answer, now)
        except Replayed as replay:
            purchase = self._replayed(caller.tenant_id, replay.answer, fingerprint, now)
        return self._with_session(caller, purchase)

    def _replayed(self, tenant_id: str, stored: StoredAnswer, fingerprint: str, now: int) -> Purchase:
        check_replay(stored, fingerprint, now)
        purchase = self._purchases.find(tenant_id, str(stored.body["purchase_id"]))
        if purchase is None:
            raise NotFound("the purchase of this Idempotency-Key is gone")
        return purchase

    def _with_session(self, caller: Principal, purchase: Purchase) -> Purchase:
        """Create the Checkout Session if this purchase has none yet (a retry after Stripe failed)."""
        if purchase.stripe_session_id is not None or purchase.status is not PurchaseStatus.PENDING:
            return purchase
        portal = self._portal()
        session = self._checkout.create_checkout_session(
            CheckoutRequest(
                purchase_id=purchase.id,
                tenant_id=purchase.tenant_id,
                customer_id=caller.tenant.stripe_customer_id,
                customer_email=caller.tenant.email,
                product_name=self._pack_name(purchase),
                unit_amount=purchase.amount // purchase.quantity,
                currency=purchase.currency,
                quantity=purchase.quantity,
                stripe_price=self._stripe_price(purchase),
                success_url=f"{portal}/purchases/{purchase.id}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{portal}/purchases/{purchase.id}?checkout=cancelled",
                idempotency_key=f"tollgate-checkout-{purchase.id}",
            )
        )
        for _ in range(ATTEMPTS):
            updated = replace(
                purchase, stripe_session_id=session.id, checkout_url=session.url, version=purchase.version + 1
            )
            change = PurchaseChange(updated, purchase.version, now=self._clock.now())
            if self._purchases.save(change) is Applied.APPLIED:
                return updated
            fresh = self._purchases.find(purchase.tenant_id, purchase.id)
            if fresh is None:
                raise NotFound(f"no purchase {purchase.id}")
            if fresh.stripe_session_id is not None:
                return fresh
            purchase = fresh
        raise StoreBusy()

    def _pack_name(self, purchase: Purchase) -> str:
        pack = self._catalog.pack(purchase.pack_id)
        name = pack.name if pack is not None and pack.name else f"{purchase.tokens // purchase.quantity} tokens"
        return f"Tollgate {name}"

    def _stripe_price(self, purchase: Purchase) -> str | None:
        pack = self._catalog.pack(purchase.pack_id)
        if pack is None or pack.stripe_price is None:
            return None
        same = pack.price * purchase.quantity == purchase.amount and pack.currency == purchase.currency
        return pack.stripe_price if same else None

    def get(self, caller: Principal, purchase_id: str) -> Purchase:
        purchase = self._purchases.find(caller.tenant_id, purchase_id)
        if purchase is None:
            raise NotFound(f"no purchase {purchase_id}")
        lot = self._purchases.lot(purchase.tenant_id, purchase.lot_id) if purchase.lot_id else None
        if lot is None:
            return replace(purchase, expired=0)
        expired = expired_of_lot(lot.tokens, lot.remaining, lot.expired, lot.expired_tokens, purchase.taken_back)
        return replace(purchase, expired=expired)

    def list(self, caller: Principal, cursor: str | None, limit: int) -> PurchasePage:
        return self._purchases.page(caller.tenant_id, cursor, limit)
