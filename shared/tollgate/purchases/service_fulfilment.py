"""Fulfilment: crediting a paid Checkout Session's purchase once, marking failed payments, and holding a
payment that does not match its purchase for an operator to review (``tollgate purchases resolve``).

The webhook, the reconciler, out-of-order refunds and the operator's review all credit through
``Fulfilment.credit_change``, so a purchase is credited by one transaction, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from typing import Any

from tollgate.core.clock import Clock
from tollgate.core.errors import Conflict, InvalidField, NotFound, StoreBusy
from tollgate.core.limits import REASON_MAX
from tollgate.core.models import EntryKind, LedgerEntry, Lot
from tollgate.purchases.ports import Applied, EventMark, PurchaseChange, PurchaseRepository
from tollgate.purchases.rules_events import purchase_event
from tollgate.purchases.rules_payment_facts import CheckoutSession
from tollgate.purchases.rules_records import Purchase, PurchaseStatus, purchase_entry_id, purchase_lot_id

ATTEMPTS = 6
Log = Callable[[str, dict[str, Any]], None]


class Outcome(StrEnum):
    CREDITED = "credited"
    ALREADY_CREDITED = "already_credited"
    NEEDS_REVIEW = "needs_review"  # paid, but not the purchase's amount or currency: held, not credited
    IN_REVIEW = "in_review"  # held before (by another event or the reconciler); still waiting
    NOT_PAID = "not_paid"
    FAILED = "failed"
    TAKEN_BACK = "taken_back"
    GIVEN_BACK = "given_back"
    NOTHING_TO_TAKE = "nothing_to_take"
    RECORDED = "recorded"  # the purchase record changed (a refund's share, a dispute's end), no tokens moved
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNMATCHED = "unmatched"  # about an object Stripe no longer has (a 404): acknowledged, recorded, nothing moved


def mismatch(session: CheckoutSession, purchase: Purchase) -> str | None:
    """Why a paid session does not pay for this purchase, or None if it does."""
    if session.amount_total != purchase.amount:
        return f"Checkout charged {session.amount_total} {session.currency}, the purchase costs {purchase.amount}"
    if (session.currency or "").lower() != purchase.currency.lower():
        return f"Checkout charged in {session.currency}, the purchase is priced in {purchase.currency}"
    return None


class Fulfilment:
    def __init__(self, purchases: PurchaseRepository, clock: Clock, log: Log) -> None:
        self._purchases = purchases
        self._clock = clock
        self._log = log

    def purchase_of(self, session: CheckoutSession) -> Purchase | None:
        if session.tenant_id is None or session.purchase_id is None:
            return None
        purchase = self._purchases.find(session.tenant_id, session.purchase_id)
        if purchase is None or purchase.stripe_session_id not in (None, session.id):
            self._log("checkout session names no purchase of ours", {"session": session.id})
            return None
        return purchase

    def fulfil(self, session: CheckoutSession, actor: str, mark: EventMark | None = None) -> Outcome:
        """Credit a paid Checkout Session's purchase: a lot, a PURCHASE ledger entry and the purchase marked
        paid, in one transaction, once. A session that paid another amount or currency is not credited: the
        purchase goes to review."""
        if not session.paid:
            return Outcome.NOT_PAID
        for _ in range(ATTEMPTS):
            purchase = self.purchase_of(session)
            if purchase is None:
                return Outcome.IGNORED
            if purchase.status is PurchaseStatus.NEEDS_REVIEW:
                return Outcome.IN_REVIEW
            if purchase.status not in (PurchaseStatus.PENDING, PurchaseStatus.FAILED):
                return Outcome.ALREADY_CREDITED
            now = self._clock.now()
            why = mismatch(session, purchase)
            if why is not None:
                result = self._hold_for_review(purchase, session, why, mark, now)
                if result is Applied.APPLIED:
                    return Outcome.NEEDS_REVIEW
            else:
                paid = replace(
                    purchase,
                    stripe_session_id=session.id,
                    payment_intent_id=session.payment_intent or purchase.payment_intent_id,
                )
                result = self._purchases.credit(self.credit_change(paid, purchase.version, actor, mark, now))
                if result is Applied.APPLIED:
                    self._log("purchase credited", {"purchase_id": purchase.id, "tokens": purchase.tokens, "by": actor})
                    return Outcome.CREDITED
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()

    @staticmethod
    def credit_change(
        purchase: Purchase, expected_version: int, actor: str, mark: EventMark | None, now: int, note: str | None = None
    ) -> PurchaseChange:
        lot = Lot(
            id=purchase_lot_id(purchase.id),
            tenant_id=purchase.tenant_id,
            tokens=purchase.tokens,
            remaining=purchase.tokens,
            created_at=now,
            expires_at=now + purchase.valid_days * 86400 if purchase.valid_days else None,
            purchase_id=purchase.id,
        )
        entry = LedgerEntry(
            id=purchase_entry_id(purchase.id),
            tenant_id=purchase.tenant_id,
            kind=EntryKind.PURCHASE,
            amount=purchase.tokens,
            created_at=now,
            actor=actor,
            reason=f"purchase {purchase.id}: {purchase.quantity} × {purchase.pack_id}" + (f"; {note}" if note else ""),
            project_id=purchase.project_id,
            purchase_id=purchase.id,
            lot_id=lot.id,
        )
        paid = replace(purchase, status=PurchaseStatus.PAID, lot_id=lot.id, paid_at=now, version=expected_version + 1)
        notice = purchase_event(paid, "purchase.paid", now, lot_id=lot.id, expires_at=lot.expires_at)
        return PurchaseChange(paid, expected_version, entry, lot, None, mark, now, (notice,))

    def _hold_for_review(
        self, purchase: Purchase, session: CheckoutSession, why: str, mark: EventMark | None, now: int
    ) -> Applied:
        held = replace(
            purchase,
            status=PurchaseStatus.NEEDS_REVIEW,
            stripe_session_id=session.id,
            payment_intent_id=session.payment_intent or purchase.payment_intent_id,
            paid_amount=session.amount_total,
            paid_currency=session.currency,
            review_note=why,
            version=purchase.version + 1,
        )
        notice = purchase_event(
            held, "purchase.needs_review", now, paid_amount=session.amount_total, paid_currency=session.currency
        )
        result = self._purchases.save(PurchaseChange(held, purchase.version, event=mark, now=now, notices=(notice,)))
        if result is Applied.APPLIED:
            # The tenant hears of it through the outbox event above; this line is the operators' (the
            # handler raises the alarm's metric from it).
            self._log(
                "purchase.needs_review",
                {
                    "event": "purchase.needs_review",
                    "tenant_id": purchase.tenant_id,
                    "purchase_id": purchase.id,
                    "amount": purchase.amount,
                    "currency": purchase.currency,
                    "paid_amount": session.amount_total,
                    "paid_currency": session.currency,
                    "stripe_session_id": session.id,
                    "reason": why,
                },
            )
        return result

    def fail(self, session: CheckoutSession, actor: str, mark: EventMark | None) -> Outcome:
        """The delayed payment failed or the session expired: pending → failed. Never undoes a payment."""
        del actor
        for _ in range(ATTEMPTS):
            purchase = self.purchase_of(session)
            if purchase is None:
                return Outcome.IGNORED
            if purchase.status is not PurchaseStatus.PENDING:
                return Outcome.ALREADY_CREDITED if purchase.status is not PurchaseStatus.FAILED else Outcome.NOT_PAID
            now = self._clock.now()
            failed = replace(purchase, status=PurchaseStatus.FAILED, failed_at=now, version=purchase.version + 1)
            result = self._purchases.save(PurchaseChange(failed, purchase.version, event=mark, now=now))
            if result is Applied.APPLIED:
                return Outcome.FAILED
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()

    # Operator review

    def under_review(self) -> list[Purchase]:
        return [p for p in self._purchases.under_review() if p.status is PurchaseStatus.NEEDS_REVIEW]

    def resolve(self, purchase_id: str, credit: bool, reason: str, actor: str) -> Purchase:
        """Credit (``credit=True``) or reject a purchase under review, with the operator's reason. Idempotent:
        the same decision again answers with the purchase as it is; the other decision is a conflict."""
        reason = reason.strip()
        if not reason or len(reason) > REASON_MAX:
            raise InvalidField("reason", f"say why, in 1 to {REASON_MAX} characters")
        decided = "credited" if credit else "rejected"
        for _ in range(ATTEMPTS):
            purchase = self._purchases.find_under_review(purchase_id)
            if purchase is None:
                raise NotFound(f"no purchase {purchase_id} was held for review")
            if purchase.status is not PurchaseStatus.NEEDS_REVIEW:
                if (purchase.status is PurchaseStatus.REJECTED) is not credit:
                    return purchase  # already resolved this way: a retry
                raise Conflict(f"purchase {purchase_id} was already resolved: {purchase.review_note}")
            if credit and (purchase.amount_refunded > 0 or purchase.disputed_at is not None):
                raise Conflict(
                    f"purchase {purchase_id} was refunded or disputed in Stripe while under review; reject it"
                )
            now = self._clock.now()
            note = f"{decided} by {actor}: {reason} (was: {purchase.review_note})"
            reviewed = replace(purchase, review_note=note, reviewed_at=now)
            if credit:
                change = self.credit_change(reviewed, purchase.version, actor, None, now, note=f"review: {reason}")
                result = self._purchases.credit(change)
            else:
                change = PurchaseChange(
                    replace(reviewed, status=PurchaseStatus.REJECTED, version=purchase.version + 1),
                    purchase.version,
                    now=now,
                )
                result = self._purchases.save(change)
            if result is Applied.APPLIED:
                self._log("purchase review resolved", {"purchase_id": purchase_id, "decision": decided, "by": actor})
                return change.purchase
        raise StoreBusy()
