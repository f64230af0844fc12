"""``POST /v1/stripe/webhook``: Stripe's events, verified against the raw body, applied exactly once.

Public (Stripe signs the body; the service verifies it). 400 for a missing, forged or stale signature
(nothing changes); 200 for every verified event, including duplicates and events about nothing of ours (so
Stripe stops retrying); 503 when the store or Stripe is busy (Stripe retries)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from tollgate.core.logs import get_logger
from tollgate.edge import requests
from tollgate.edge.app import json_response
from tollgate.edge.routing import PUBLIC, CapabilityRouter
from tollgate.purchases.service import Outcome

if TYPE_CHECKING:
    from tollgate.purchases.service import PurchaseService


class StripeServices(Protocol):
    def purchase_service(self) -> PurchaseService: ...


router: CapabilityRouter[StripeServices] = CapabilityRouter()
logger = get_logger()
metrics = Metrics()  # Powertools' metrics are one set per process: the function's handler flushes them


@router.post("/v1/stripe/webhook", permission=PUBLIC)
def stripe_webhook() -> Response:
    raw = router.current_event.raw_event
    event, outcome = router.services.purchase_service().handle_webhook(
        requests.raw_body(raw), requests.header(raw, "stripe-signature")
    )
    logger.info("stripe event", extra={"event_id": event.id, "event_type": event.type, "outcome": outcome.value})
    if outcome is Outcome.NEEDS_REVIEW:  # the operator alarm (template.yaml, PurchaseNeedsReviewAlarm)
        metrics.add_metric(name="PurchasesNeedingReview", unit=MetricUnit.Count, value=1)
    return json_response(200, {"received": True, "event": event.id, "outcome": outcome.value})
