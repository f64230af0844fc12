"""The outbox events a purchase raises: paid, refunded, disputed, held for review.

An event's id derives from the purchase and the version the change writes: one event per change, and a
change retried after it was applied (the same Stripe event again) finds the version moved and writes none.
"""

from __future__ import annotations

from typing import Any

from tollgate.events.rules import Event, new_event
from tollgate.purchases.rules_records import Purchase


def purchase_event(purchase: Purchase, type: str, now: int, **extra: Any) -> Event:
    """``purchase`` is the purchase as the change leaves it."""
    data: dict[str, Any] = {
        "purchase_id": purchase.id,
        "status": purchase.status.value,
        "pack_id": purchase.pack_id,
        "quantity": purchase.quantity,
        "tokens": purchase.tokens,
        "amount": purchase.amount,
        "currency": purchase.currency,
        "po_number": purchase.po_number,
        "project_id": purchase.project_id,
        **extra,
    }
    return new_event(purchase.tenant_id, type, now, data, purchase.id, f"v{purchase.version}")
