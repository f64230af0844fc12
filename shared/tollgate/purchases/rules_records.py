"""The purchase record, the procurement ticket: what was sold, what Stripe paid, what was taken back.

Pure data. The rules that change a purchase live in checkout.py (buying), fulfilment.py (crediting and
operator review), take_back.py (refunds and disputes) and reconciliation.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PurchaseStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"  # paid, but not what the purchase asked for: an operator decides
    REJECTED = "rejected"  # an operator refused to credit a purchase under review
    REFUNDED = "refunded"
    DISPUTED = "disputed"


@dataclass(frozen=True)
class Purchase:
    """A procurement ticket. ``tokens``, ``amount`` and ``valid_days`` are the pack as it was sold, so a
    later catalog change never alters what a purchase credits.

    Take-back figures: ``taken_back`` is what refunds and the dispute together have debited from the pool
    (net of what a won dispute gave back); ``refunded_tokens`` is the refunds' share of the tokens,
    ``round(tokens × amount_refunded / amount)``; ``dispute_taken`` is what the dispute debited, given back
    once when the dispute is won (``dispute_won_at``).

    Review: ``paid_amount``/``paid_currency`` are what the Checkout Session said when it differed from the
    purchase; ``review_note`` says why it is under review and, once resolved, what the operator decided."""

    id: str
    tenant_id: str
    buyer_key_id: str
    pack_id: str
    quantity: int
    tokens: int
    amount: int
    currency: str
    valid_days: int | None
    status: PurchaseStatus
    created_at: int
    po_number: str | None = None
    project_id: str | None = None
    stripe_session_id: str | None = None
    checkout_url: str | None = None
    payment_intent_id: str | None = None
    charge_id: str | None = None
    lot_id: str | None = None
    paid_at: int | None = None
    failed_at: int | None = None
    refunded_tokens: int = 0
    amount_refunded: int = 0
    taken_back: int = 0
    disputed_at: int | None = None
    dispute_taken: int = 0
    dispute_won_at: int | None = None
    paid_amount: int | None = None
    paid_currency: str | None = None
    review_note: str | None = None
    reviewed_at: int | None = None
    version: int = 0
    expired: int | None = None  # E: what expiry took from its lot; not stored: filled when one purchase is read

    @property
    def credited(self) -> bool:
        """Its tokens entered the pool (whatever was taken back since)."""
        return self.lot_id is not None


@dataclass(frozen=True)
class PurchasePage:
    purchases: list[Purchase]
    cursor: str | None


def purchase_entry_id(purchase_id: str) -> str:
    return f"le_{purchase_id}"


def purchase_lot_id(purchase_id: str) -> str:
    return f"lot_{purchase_id}"


def reinstated_lot_id(purchase_id: str) -> str:
    """The lot a won dispute gives tokens back in when the purchase's own lot has ended meanwhile."""
    return f"lot_{purchase_id}_r"
