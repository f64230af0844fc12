"""Refunds and disputes take tokens back; a dispute the tenant wins gives them back. The figures come from
take_back_rules.py; this module reads the purchase and its lot, builds the change and applies it.

When order matters (a refund or dispute of a purchase not yet credited, because its
``checkout.session.completed`` is late or lost), the session is fetched again from Stripe and fulfilled
first, through the same code path as the webhook and the reconciler.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from tollgate.core.clock import Clock
from tollgate.core.errors import StoreBusy
from tollgate.core.models import EntryKind, LedgerEntry, Lot
from tollgate.events.rules import Event
from tollgate.purchases.ports import Applied, Checkout, EventMark, LotTake, PurchaseChange, PurchaseRepository
from tollgate.purchases.rules_events import purchase_event
from tollgate.purchases.rules_payment_facts import ChargeFacts, CheckoutSession, DisputeFacts
from tollgate.purchases.rules_records import Purchase, PurchaseStatus, reinstated_lot_id
from tollgate.purchases.rules_take_back import dispute_take, expired_of_lot, refund_take, refunded_share
from tollgate.purchases.service_fulfilment import ATTEMPTS, Fulfilment, Log, Outcome

WEBHOOK_ACTOR = "stripe:webhook"
_NOT_CREDITED = (PurchaseStatus.PENDING, PurchaseStatus.FAILED)
_HELD = (PurchaseStatus.NEEDS_REVIEW, PurchaseStatus.REJECTED)  # never credited: nothing to take


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:12]


class TakeBack:
    def __init__(
        self, purchases: PurchaseRepository, checkout: Checkout, fulfilment: Fulfilment, clock: Clock, log: Log
    ) -> None:
        self._purchases = purchases
        self._checkout = checkout
        self._fulfilment = fulfilment
        self._clock = clock
        self._log = log

    def on_refund(self, charge: ChargeFacts, mark: EventMark) -> Outcome:
        return self._apply(charge, mark, dispute=False)

    def on_dispute(self, dispute: DisputeFacts, mark: EventMark) -> Outcome:
        charge = self._checkout.charge(dispute.charge)
        if charge is None:
            return self._unmatched(dispute)
        return self._apply(charge, mark, dispute=True)

    def _unmatched(self, dispute: DisputeFacts) -> Outcome:
        """A dispute about a charge Stripe answers 404 for: acknowledged (Stripe stops retrying), recorded as
        seen, logged for the operator; nothing is credited or taken."""
        self._log(
            "dispute about a charge Stripe does not have", {"dispute_id": dispute.id, "charge_id": dispute.charge}
        )
        return Outcome.UNMATCHED

    def on_dispute_won(self, dispute: DisputeFacts, mark: EventMark) -> Outcome:
        """``charge.dispute.closed`` as won, or ``charge.dispute.funds_reinstated``: give back what the
        dispute took, once, whichever of the two (and however many redeliveries) comes first. If it
        overtakes the dispute's own event, the dispute is marked won so that event takes nothing."""
        charge = self._checkout.charge(dispute.charge)
        if charge is None:
            return self._unmatched(dispute)
        ref = self._ref_of_charge(charge)
        if ref is None:
            return Outcome.IGNORED
        tenant_id, purchase_id, _ = ref
        for _ in range(ATTEMPTS):
            purchase = self._purchases.find(tenant_id, purchase_id)
            if purchase is None or purchase.status in _NOT_CREDITED + _HELD:
                return Outcome.IGNORED
            if purchase.dispute_won_at is not None:
                return Outcome.NOTHING_TO_TAKE
            now = self._clock.now()
            given = purchase.dispute_taken
            won = replace(
                purchase,
                status=self._status_after_dispute(purchase),
                charge_id=purchase.charge_id or dispute.charge,
                taken_back=purchase.taken_back - given,
                dispute_won_at=now,
                version=purchase.version + 1,
            )
            if given == 0:
                result = self._purchases.save(PurchaseChange(won, purchase.version, event=mark, now=now))
            else:
                result = self._purchases.give_back(self._give_back_change(purchase, won, given, mark, now))
            if result is Applied.APPLIED:
                self._log("dispute won: tokens given back", {"purchase_id": purchase.id, "tokens": given})
                return Outcome.GIVEN_BACK if given else Outcome.RECORDED
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()

    @staticmethod
    def _status_after_dispute(purchase: Purchase) -> PurchaseStatus:
        if purchase.amount > 0 and purchase.amount_refunded >= purchase.amount:
            return PurchaseStatus.REFUNDED
        return PurchaseStatus.PAID

    def _give_back_change(
        self, purchase: Purchase, won: Purchase, given: int, mark: EventMark, now: int
    ) -> PurchaseChange:
        """Back into the purchase's lot while it lives; if it has ended meanwhile, into a new lot with the
        same end, so the tokens expire as they would have (the pool's next lot end then settles it)."""
        lot = self._purchases.lot(purchase.tenant_id, purchase.lot_id) if purchase.lot_id else None
        new_lot = take = None
        lot_id = purchase.lot_id
        if lot is not None and not lot.expired:
            take = LotTake(lot.id, -min(given, lot.tokens - lot.remaining))  # never above what the lot was
        elif lot is not None:
            lot_id = reinstated_lot_id(purchase.id)
            new_lot = Lot(lot_id, purchase.tenant_id, given, given, now, lot.expires_at, purchase.id)
        entry = LedgerEntry(
            id=f"le_{purchase.id}_w{_digest('won', given)}",
            tenant_id=purchase.tenant_id,
            kind=EntryKind.DISPUTE_WON,
            amount=given,
            created_at=now,
            actor=WEBHOOK_ACTOR,
            reason=f"dispute won on purchase {purchase.id}: what it took is given back",
            project_id=purchase.project_id,
            purchase_id=purchase.id,
            lot_id=lot_id,
        )
        return PurchaseChange(won, purchase.version, entry, new_lot, take, mark, now)

    def _ref_of_charge(self, charge: ChargeFacts) -> tuple[str, str, CheckoutSession | None] | None:
        """(tenant, purchase, session?) for a charge: from its metadata, else from its Checkout Session."""
        if charge.tenant_id is not None and charge.purchase_id is not None:
            return charge.tenant_id, charge.purchase_id, None
        if charge.payment_intent is None:
            return None
        session = self._checkout.session_for_payment_intent(charge.payment_intent)
        if session is None or session.tenant_id is None or session.purchase_id is None:
            return None
        return session.tenant_id, session.purchase_id, session

    def _apply(self, charge: ChargeFacts, mark: EventMark, dispute: bool) -> Outcome:
        ref = self._ref_of_charge(charge)
        if ref is None:
            return Outcome.IGNORED
        tenant_id, purchase_id, session = ref
        for _ in range(ATTEMPTS):
            purchase = self._purchases.find(tenant_id, purchase_id)
            if purchase is None:
                return Outcome.IGNORED
            if purchase.status in _HELD:
                result = self._note_on_held(purchase, charge, dispute, mark)
                if result is None:
                    return Outcome.NOTHING_TO_TAKE
                if result is Applied.APPLIED:
                    return Outcome.RECORDED
                if result is Applied.DUPLICATE_EVENT:
                    return Outcome.DUPLICATE
                continue
            if purchase.status in _NOT_CREDITED:
                # The refund or dispute overtook the payment's own event: credit first, from Stripe's truth.
                session = session or self._session_of(purchase, charge)
                if session is None or self._fulfilment.fulfil(session, WEBHOOK_ACTOR) not in (
                    Outcome.CREDITED,
                    Outcome.ALREADY_CREDITED,
                ):
                    self._log("money taken back from a purchase never paid", {"purchase_id": purchase.id})
                    return Outcome.IGNORED
                continue
            change = self._change(purchase, charge, dispute, mark)
            if change is None:
                return Outcome.NOTHING_TO_TAKE
            result = self._purchases.take_back(change) if change.entry is not None else self._purchases.save(change)
            if result is Applied.APPLIED:
                taken = -change.entry.amount if change.entry is not None else 0
                self._log("tokens taken back", {"purchase_id": purchase.id, "tokens": taken, "dispute": dispute})
                return Outcome.TAKEN_BACK if taken else Outcome.RECORDED
            if result is Applied.DUPLICATE_EVENT:
                return Outcome.DUPLICATE
        raise StoreBusy()

    def _note_on_held(self, purchase: Purchase, charge: ChargeFacts, dispute: bool, mark: EventMark) -> Applied | None:
        """A purchase held for review (or rejected) was never credited: nothing to take, but the refund or
        dispute is noted on it, so that an operator cannot credit it afterwards (``resolve`` refuses)."""
        now = self._clock.now()
        noted = replace(
            purchase,
            charge_id=charge.id,
            amount_refunded=max(purchase.amount_refunded, charge.amount_refunded),
            disputed_at=purchase.disputed_at or (now if dispute else None),
            version=purchase.version + 1,
        )
        if replace(noted, version=purchase.version) == purchase:
            return None
        self._log("money taken back from a purchase held for review", {"purchase_id": purchase.id, "dispute": dispute})
        return self._purchases.save(PurchaseChange(noted, purchase.version, event=mark, now=now))

    def _session_of(self, purchase: Purchase, charge: ChargeFacts) -> CheckoutSession | None:
        if purchase.stripe_session_id is not None:
            return self._checkout.checkout_session(purchase.stripe_session_id)
        if charge.payment_intent is not None:
            return self._checkout.session_for_payment_intent(charge.payment_intent)
        return None

    def _change(self, purchase: Purchase, charge: ChargeFacts, dispute: bool, mark: EventMark) -> PurchaseChange | None:
        """Monotonic: the refunded share only grows, and what is taken is the rule's figure less what was
        taken before, so events in any order and any number of times end in the same state."""
        lot = self._purchases.lot(purchase.tenant_id, purchase.lot_id) if purchase.lot_id else None
        expired = 0
        if lot is not None:
            expired = expired_of_lot(lot.tokens, lot.remaining, lot.expired, lot.expired_tokens, purchase.taken_back)
        amount_refunded = max(purchase.amount_refunded, charge.amount_refunded)
        share = max(purchase.refunded_tokens, refunded_share(purchase.tokens, amount_refunded, charge.amount))
        now = self._clock.now()
        opening = dispute and purchase.disputed_at is None and purchase.dispute_won_at is None
        if opening:
            delta = dispute_take(purchase.tokens, expired, purchase.taken_back)
        else:
            delta = refund_take(share, expired, purchase.taken_back)
        if purchase.status is PurchaseStatus.DISPUTED or opening:
            status = PurchaseStatus.DISPUTED
        elif charge.amount > 0 and amount_refunded >= charge.amount:
            status = PurchaseStatus.REFUNDED
        else:
            status = purchase.status
        updated = replace(
            purchase,
            status=status,
            charge_id=charge.id,
            payment_intent_id=purchase.payment_intent_id or charge.payment_intent,
            refunded_tokens=share,
            amount_refunded=amount_refunded,
            taken_back=purchase.taken_back + delta,
            disputed_at=now if opening else purchase.disputed_at,
            dispute_taken=purchase.dispute_taken + (delta if opening else 0),
            version=purchase.version + 1,
        )
        if replace(updated, version=purchase.version) == purchase:
            return None
        notices: tuple[Event, ...] = ()
        if opening:
            notices = (purchase_event(updated, "purchase.disputed", now, tokens_taken_back=delta),)
        elif amount_refunded > purchase.amount_refunded:
            refunded = purchase_event(
                updated, "purchase.refunded", now, amount_refunded=amount_refunded, tokens_taken_back=delta
            )
            notices = (refunded,)
        if delta == 0:
            return PurchaseChange(updated, purchase.version, event=mark, now=now, notices=notices)
        kind = EntryKind.DISPUTE if opening else EntryKind.REFUND
        what = "dispute" if opening else f"refund of {amount_refunded} of {charge.amount} {purchase.currency}"
        entry = LedgerEntry(
            id=f"le_{purchase.id}_{kind.value[0]}{_digest(kind.value, updated.taken_back, share)}",
            tenant_id=purchase.tenant_id,
            kind=kind,
            amount=-delta,
            created_at=now,
            actor=WEBHOOK_ACTOR,
            reason=f"{what} on purchase {purchase.id}" + (f"; {expired} of its tokens had expired" if expired else ""),
            project_id=purchase.project_id,
            purchase_id=purchase.id,
            lot_id=purchase.lot_id,
        )
        take = None
        if lot is not None and not lot.expired and lot.remaining > 0:
            take = LotTake(lot.id, min(delta, lot.remaining))
        return PurchaseChange(updated, purchase.version, entry, None, take, mark, now, notices)
