"""The SDK's spending routes: consume (``tollgate.pool.routes_spending``), leases and allowances
(``tollgate.holds.routes``). Hand-parsed: this function loads no pydantic."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core import snapstart
from tollgate.core.logs import get_logger
from tollgate.edge.app import build_resolver
from tollgate.holds import routes as holds
from tollgate.pool import routes_spending as spending

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger, services, [spending.router, holds.router])
snapstart.install()  # SnapStart (template.yaml): reseed and refresh after each restore


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
