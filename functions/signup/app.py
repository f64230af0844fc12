"""POST /v1/tenants: a customer organisation signs itself up (``tollgate.tenancy.routes``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger
from tollgate.edge.app import build_resolver
from tollgate.tenancy import routes as tenancy

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger, services, [tenancy.signup], validation=True)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
