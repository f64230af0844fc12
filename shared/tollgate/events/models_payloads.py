"""What each outbound event says: the body a webhook endpoint receives (Standard Webhooks' ``id``, ``type``,
``timestamp``, ``data``; ``tollgate.events.service_webhooks.payload``) and the ``data`` of each event type, as
the code that raises it builds it (named beside each model). The document lists them under ``webhooks``;
``WEBHOOK_EVENTS`` has one entry per type of ``tollgate.core.events.EVENT_TYPES`` (a unit test keeps them
equal). Times inside ``data`` are Unix seconds, as the outbox stores them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model

from tollgate.core.events import EVENT_TYPES
from tollgate.core.schema import AnswerModel, Timestamp

UnixTime = int


class PurchaseData(AnswerModel):
    """``tollgate.purchases.rules_events.purchase_event``: the purchase as the change leaves it."""

    purchase_id: str
    status: str = Field(description="pending, paid, failed, refunded, disputed or needs_review.")
    pack_id: str
    quantity: int
    tokens: int
    amount: int = Field(description="In the currency's smallest unit (cents).")
    currency: str
    po_number: str | None
    project_id: str | None


class PurchasePaidData(PurchaseData):
    lot_id: str = Field(description="The lot the tokens arrived in.")
    expires_at: UnixTime | None = Field(description="When the lot ends (Unix seconds); null: never.")


class PurchaseRefundedData(PurchaseData):
    amount_refunded: int = Field(description="Refunded so far, in the smallest unit.")
    tokens_taken_back: int = Field(description="Tokens this refund took back (unconsumed ones only).")


class PurchaseDisputedData(PurchaseData):
    tokens_taken_back: int = Field(description="Tokens the dispute took back (what was left of the purchase).")


class PurchaseNeedsReviewData(PurchaseData):
    paid_amount: int | None = Field(description="What Checkout collected, which differs from `amount`.")
    paid_currency: str | None


class AlertData(AnswerModel):
    """``tollgate.events.store_alert_stream.AlertEvaluator._flip``: an alert fired or recovered."""

    alert_id: str
    kind: str = Field(description="The alert's kind (balance_below, depletion_within_days, …).")
    threshold: int
    project_id: str | None
    level: int | None = Field(description="The measured level that crossed the threshold.")
    state: Literal["armed", "fired"] = Field(description="fired: crossed; armed: recovered.")


class BalanceDepletedData(AnswerModel):
    """``AlertEvaluator._depleted``: `available` reached zero or below."""

    available: int


class LotExpiredData(AnswerModel):
    """``tollgate.pool.store_expiry``: a lot ended with tokens left unspent."""

    lot_id: str
    purchase_id: str | None
    tokens: int = Field(description="The lot's size.")
    expired: int = Field(description="Its tokens left unspent, now gone.")


class LeaseExpiredData(AnswerModel):
    """``tollgate.holds.store``: a lease ran past its end without a check-in and was settled."""

    lease_id: str
    actor: str = Field(description="Who opened it: `license_key:<id>` or `api_key:<id>`.")
    feature: str
    project_id: str | None
    charged: int


class KeyExpiringData(AnswerModel):
    """``tollgate.keys.store``: a license key's expiry is near."""

    key_id: str
    name: str
    expires_at: UnixTime


class Principals(AnswerModel):
    roles: list[str]
    api_key_ids: list[str]


class ActionData(AnswerModel):
    """``tollgate.approvals.rules_action_records.summary``: the action as the change leaves it; the
    approval terms when a rule asks for approval."""

    action_id: str
    action: str
    status: str
    requester: str
    rule_id: str | None
    feature: str | None
    tokens: int
    project_id: str | None
    environment: str | None
    approvers: Principals | None = None
    quorum: int | None = None
    approvals: int | None = Field(default=None, description="Distinct approvals so far (toward `quorum`).")
    expires_at: UnixTime | None = None
    escalates_at: UnixTime | None = None
    break_glass: bool | None = Field(default=None, description="Present (true) when it went through break-glass.")


class ActionEscalatedData(ActionData):
    escalate_to: Principals | None = Field(default=None, description="Who may review it now as well.")


class ActionExpiredData(ActionData):
    grant_lapsed: bool | None = Field(default=None, description="True: approved, but not redeemed in time.")


class WebhookTestData(AnswerModel):
    """``tollgate.events.service_webhooks.WebhookService.send_test``."""

    endpoint_id: str
    message: str


class EndpointDisabledData(AnswerModel):
    """``tollgate.events.service_notifier``: every attempt to the endpoint failed for 5 days."""

    endpoint_id: str
    url: str
    failing_since: UnixTime
    reason: str


class BudgetExhaustedData(AnswerModel):
    """``tollgate.events.store_alert_stream.AlertEvaluator._exhausted``: a budget level's left reached 0 (once
    per level, period and limit)."""

    scope: str = Field(description="`tenant`, `project:<id>`, `environment:<project_id>:<name>` or `key:<id>`.")
    limit: int
    period: Literal["none", "month"]


class TopUpSucceededData(AnswerModel):
    """``tollgate.purchases.service_topup``: an auto top-up's off-session payment succeeded."""

    purchase_id: str
    amount: int = Field(description="In the currency's smallest unit (cents).")


class TopUpFailedData(AnswerModel):
    """``tollgate.purchases.service_topup``: an auto top-up's payment failed; the purchase is `failed`."""

    purchase_id: str
    reason: str | None = Field(description="Stripe's message (e.g. `Your card was declined.`).")
    consecutive_failures: int


class TopUpDisabledData(AnswerModel):
    """``tollgate.purchases.service_topup``: auto top-up switched itself off."""

    reason: str | None
    consecutive_failures: int


DATA: dict[str, type[AnswerModel]] = {
    "purchase.paid": PurchasePaidData,
    "purchase.refunded": PurchaseRefundedData,
    "purchase.disputed": PurchaseDisputedData,
    "purchase.needs_review": PurchaseNeedsReviewData,
    "balance.low": AlertData,
    "balance.depleted": BalanceDepletedData,
    "balance.recovered": AlertData,
    "forecast.depletion_soon": AlertData,
    "lot.expiring": AlertData,
    "lot.expired": LotExpiredData,
    "lease.expired": LeaseExpiredData,
    "key.expiring": KeyExpiringData,
    "action.pending": ActionData,
    "action.escalated": ActionEscalatedData,
    "action.approved": ActionData,
    "action.denied": ActionData,
    "action.expired": ActionExpiredData,
    "webhook.test": WebhookTestData,
    "webhook_endpoint.disabled": EndpointDisabledData,
    "budget.exhausted": BudgetExhaustedData,
    "topup.succeeded": TopUpSucceededData,
    "topup.failed": TopUpFailedData,
    "topup.disabled": TopUpDisabledData,
}


def _payload(event_type: str, data: type[AnswerModel]) -> type[AnswerModel]:
    """The body an endpoint receives for ``event_type``: ``PurchasePaidEvent`` and so on."""
    name = "".join(part.capitalize() for part in event_type.replace("_", ".").split(".")) + "Event"
    return create_model(
        name,
        __base__=AnswerModel,
        __doc__=f"The body of a `{event_type}` delivery, signed per Standard Webhooks.",
        id=(str, Field(description="The event's id; a redelivery has the same id (deduplicate on it).")),
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        timestamp=(Timestamp, ...),
        data=(data, ...),
    )


WEBHOOK_EVENTS: dict[str, type[AnswerModel]] = {
    event_type: _payload(event_type, data) for event_type, data in DATA.items() if event_type in EVENT_TYPES
}
