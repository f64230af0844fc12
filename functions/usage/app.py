"""The SDK's spending routes: consume tokens for a feature, and (with the leases issue) hold them for a run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.domain.leases import MAX_LEASE_S
from tollgate.http import requests
from tollgate.http.app import build_resolver, json_response
from tollgate.http.auth import sdk_principal
from tollgate.http.views import lease_view
from tollgate.logs import get_logger

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger)


@app.post("/v1/consume")
def consume() -> Response:
    event = app.current_event.raw_event
    minimal = requests.prefers_minimal(event)  # the SDK's hot path: no balance_after, one DynamoDB write
    caller = sdk_principal(event, from_memory=minimal)
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=64)
    quantity = fields.integer("quantity", required=False, minimum=1, maximum=1_000_000) or 1
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    status, body = services.pool_service().consume(caller, feature, quantity, key, minimal=minimal)
    metrics.add_metric(name="TokensConsumed", unit=MetricUnit.Count, value=int(body.get("charged", 0)))
    return json_response(status, body)


@app.post("/v1/leases")
def open_lease() -> Response:
    event = app.current_event.raw_event
    caller = sdk_principal(event)
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=64)
    duration_s = fields.integer("duration_s", minimum=1, maximum=MAX_LEASE_S)
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    status, lease = services.lease_service().open(caller, feature, duration_s, key)
    return json_response(status, {"lease": lease_view(lease)})


@app.post("/v1/leases/<lease_id>/heartbeat")
def heartbeat_lease(lease_id: str) -> Response:
    event = app.current_event.raw_event
    caller = sdk_principal(event)
    fields = requests.json_object(event, allow_empty=True)
    extend_s = fields.integer("extend_s", required=False, minimum=1, maximum=MAX_LEASE_S)
    fields.done()
    lease = services.lease_service().heartbeat(caller, lease_id, extend_s)
    return json_response(200, {"lease": lease_view(lease)})


@app.delete("/v1/leases/<lease_id>")
def close_lease(lease_id: str) -> Response:
    caller = sdk_principal(app.current_event.raw_event)
    lease = services.lease_service().close(caller, lease_id)
    return json_response(200, {"lease": lease_view(lease)})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
