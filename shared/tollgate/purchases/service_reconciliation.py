"""Reconciliation: fulfil every paid Checkout Session whose webhook was lost for good."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tollgate.core.clock import Clock
from tollgate.purchases.ports import Checkout
from tollgate.purchases.service_fulfilment import Fulfilment, Outcome


@dataclass
class ReconcileReport:
    checked: int = 0
    credited: list[str] = field(default_factory=list)
    already_credited: int = 0
    needs_review: list[str] = field(default_factory=list)
    not_ours: int = 0

    def body(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "credited": self.credited,
            "already_credited": self.already_credited,
            "needs_review": self.needs_review,
            "not_ours": self.not_ours,
        }


class Reconciler:
    def __init__(self, checkout: Checkout, fulfilment: Fulfilment, clock: Clock) -> None:
        self._checkout = checkout
        self._fulfilment = fulfilment
        self._clock = clock

    def reconcile(self, since_s: int, actor: str) -> ReconcileReport:
        """Fulfil every paid Checkout Session of the last ``since_s`` seconds whose purchase is not credited.
        Safe to run at any time, twice, or while webhooks arrive."""
        report = ReconcileReport()
        for session in self._checkout.completed_sessions(self._clock.now() - since_s):
            if not session.paid:
                continue
            report.checked += 1
            outcome = self._fulfilment.fulfil(session, actor)
            if outcome is Outcome.CREDITED:
                report.credited.append(session.purchase_id or session.id)
            elif outcome is Outcome.ALREADY_CREDITED:
                report.already_credited += 1
            elif outcome in (Outcome.NEEDS_REVIEW, Outcome.IN_REVIEW):
                report.needs_review.append(session.purchase_id or session.id)
            else:
                report.not_ours += 1
        return report
