"""Just-in-time approvals: the tenant's action policy, its simulator, the decision log, and actions with
their reviews (``tollgate.approvals.routes``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.approvals import routes as approvals
from tollgate.core.logs import get_logger
from tollgate.edge.app import build_resolver

logger = get_logger()
app = build_resolver(logger, services, [approvals.router, approvals.actions], validation=True)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
