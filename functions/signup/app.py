"""POST /v1/tenants: a customer organisation signs itself up."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.domain.tenants import SignupRequest
from tollgate.http import requests
from tollgate.http.app import build_resolver, json_response
from tollgate.http.views import api_key_view, tenant_view
from tollgate.logs import get_logger

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger)


@app.post("/v1/tenants")
def sign_up() -> Response:
    fields = requests.json_object(app.current_event.raw_event)
    request = SignupRequest(
        name=fields.text("name"),
        email=fields.text("email", max_length=254),
        home_region=fields.text("home_region", required=False, max_length=32) or services.default_region(),
    )
    fields.done()
    idempotency_key = requests.idempotency_key(app.current_event.raw_event, required=False)
    result = services.tenant_service().sign_up(request, idempotency_key)
    if not result.replayed:
        logger.info("tenant signed up", extra={"tenant_id": result.tenant.id})
        metrics.add_metric(name="TenantsSignedUp", unit=MetricUnit.Count, value=1)
    return json_response(
        201,
        {
            "tenant": tenant_view(result.tenant),
            "api_key": api_key_view(result.owner_key.key, secret=result.owner_key.secret),
        },
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
