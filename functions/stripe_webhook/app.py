"""``POST /v1/stripe/webhook``: Stripe's events, applied exactly once (``tollgate.purchases.routes_stripe``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger
from tollgate.edge.app import build_resolver
from tollgate.purchases import routes_stripe as stripe

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger, services, [stripe.router])


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
