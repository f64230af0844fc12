"""How a purchase looks in API answers (times as ISO-8601 UTC, like every other view)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tollgate.edge.views import iso

if TYPE_CHECKING:
    from tollgate.purchases.rules_records import Purchase


def purchase_view(purchase: Purchase) -> dict[str, Any]:
    return {
        "id": purchase.id,
        "status": purchase.status.value,
        "pack_id": purchase.pack_id,
        "quantity": purchase.quantity,
        "tokens": purchase.tokens,
        "amount": purchase.amount,
        "currency": purchase.currency,
        "valid_days": purchase.valid_days,
        "po_number": purchase.po_number,
        "project_id": purchase.project_id,
        "buyer_key_id": purchase.buyer_key_id,
        "stripe_session_id": purchase.stripe_session_id,
        "payment_intent_id": purchase.payment_intent_id,
        "charge_id": purchase.charge_id,
        "lot_id": purchase.lot_id,
        "refunded_tokens": purchase.refunded_tokens,
        "amount_refunded": purchase.amount_refunded,
        "taken_back": purchase.taken_back,
        "expired": purchase.expired,
        "dispute_taken": purchase.dispute_taken,
        "paid_amount": purchase.paid_amount,
        "paid_currency": purchase.paid_currency,
        "review_note": purchase.review_note,
        "created_at": iso(purchase.created_at),
        "paid_at": iso(purchase.paid_at),
        "failed_at": iso(purchase.failed_at),
        "disputed_at": iso(purchase.disputed_at),
        "dispute_won_at": iso(purchase.dispute_won_at),
        "reviewed_at": iso(purchase.reviewed_at),
    }
