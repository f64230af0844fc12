"""``POST /v1/stripe/webhook``: Stripe's events, verified against the raw body, applied exactly once.

400 for a missing, forged or stale signature (nothing changes); 200 for every verified event, including
duplicates and events about nothing of ours (so Stripe stops retrying); 503 when the store or Stripe is
busy (Stripe retries)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger
from tollgate.edge import requests
from tollgate.edge.app import build_resolver, json_response
from tollgate.purchases.service import Outcome

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger)


@app.post("/v1/stripe/webhook")
def stripe_webhook() -> Response:
    raw = app.current_event.raw_event
    event, outcome = services.purchase_service().handle_webhook(
        requests.raw_body(raw), requests.header(raw, "stripe-signature")
    )
    logger.info("stripe event", extra={"event_id": event.id, "event_type": event.type, "outcome": outcome.value})
    if outcome is Outcome.NEEDS_REVIEW:  # the operator alarm (template.yaml, PurchaseNeedsReviewAlarm)
        metrics.add_metric(name="PurchasesNeedingReview", unit=MetricUnit.Count, value=1)
    return json_response(200, {"received": True, "event": event.id, "outcome": outcome.value})


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
