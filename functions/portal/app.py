"""The tenant's self-service portal: the routes of tenancy, pool, purchases, keys, events and reports, and
the published contract. Each route states its permission where it is registered (``tollgate.edge.routing``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger
from tollgate.edge.app import build_resolver
from tollgate.edge.contract import routes as contract
from tollgate.events import routes as events
from tollgate.keys import routes as keys
from tollgate.pool import routes as pool
from tollgate.pool import routes_budgets as budgets
from tollgate.purchases import routes as purchases
from tollgate.purchases import routes_topup as topup
from tollgate.reports import routes as reports
from tollgate.tenancy import routes as tenancy

logger = get_logger()
routers = (
    tenancy.router,
    purchases.router,
    topup.router,
    events.router,
    pool.router,
    budgets.router,
    keys.router,
    reports.router,
    contract.router,
)
app = build_resolver(logger, services, routers, validation=True)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
