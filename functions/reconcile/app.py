"""Hourly: fulfil paid Checkout Sessions whose webhook never arrived, through the webhook's own code path.

The event may carry ``{"since_hours": N}``; the default looks back over Stripe's 3 days of retries."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger

DEFAULT_SINCE_HOURS = 72
logger = get_logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    del context
    hours = (event or {}).get("since_hours", DEFAULT_SINCE_HOURS) if isinstance(event, dict) else DEFAULT_SINCE_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24 * 90:
        hours = DEFAULT_SINCE_HOURS
    report = services.purchase_service().reconcile(hours * 3600).body()
    logger.info("reconciled", extra=report)
    if report["needs_review"]:  # the operator alarm (template.yaml, PurchaseNeedsReviewAlarm)
        metrics.add_metric(name="PurchasesNeedingReview", unit=MetricUnit.Count, value=len(report["needs_review"]))
    return report
