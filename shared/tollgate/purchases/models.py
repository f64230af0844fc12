"""Purchases of token packs through Stripe Checkout."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from tollgate.core import limits
from tollgate.core.schema import AnswerModel, RequestModel, Timestamp, example, json_integer


class PurchaseBody(RequestModel):
    model_config = example({"pack_id": "starter", "quantity": 1, "po_number": "PO-2026-0042"})

    pack_id: str = Field(min_length=1, max_length=limits.FEATURE_MAX, pattern=limits.PACK_PATTERN)
    quantity: Annotated[int, Field(ge=1, le=limits.MAX_PURCHASE_QUANTITY), BeforeValidator(json_integer)]
    po_number: str | None = Field(
        default=None, min_length=1, max_length=limits.PO_NUMBER_MAX, pattern=limits.TEXT_PATTERN
    )
    project_id: str | None = Field(default=None, max_length=limits.ID_MAX, pattern=limits.PROJECT_ID_PATTERN)


class Purchase(AnswerModel):
    id: str
    status: str = Field(description="pending, paid, failed, refunded, disputed, needs_review, …")
    pack_id: str
    quantity: int
    tokens: int
    amount: int = Field(description="In the currency's smallest unit (cents).")
    currency: str
    valid_days: int | None
    po_number: str | None
    project_id: str | None
    buyer_key_id: str
    stripe_session_id: str | None
    payment_intent_id: str | None
    charge_id: str | None
    lot_id: str | None
    refunded_tokens: int
    amount_refunded: int
    taken_back: int
    expired: int | None = Field(description="What expiry took from its lot (on a single purchase's read).")
    dispute_taken: int
    paid_amount: int | None
    paid_currency: str | None
    review_note: str | None
    created_at: Timestamp | None
    paid_at: Timestamp | None
    failed_at: Timestamp | None
    disputed_at: Timestamp | None
    dispute_won_at: Timestamp | None
    reviewed_at: Timestamp | None


class NewPurchaseAnswer(AnswerModel):
    purchase: Purchase
    checkout_url: str | None


class PurchaseAnswer(AnswerModel):
    purchase: Purchase


class PurchasesAnswer(AnswerModel):
    purchases: list[Purchase]
    next_cursor: str | None
