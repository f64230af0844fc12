"""The SDK's spending routes: consume tokens for a feature, and (with the leases issue) hold them for a run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core import limits, snapstart
from tollgate.core.logs import get_logger
from tollgate.edge import requests
from tollgate.edge.app import build_resolver, json_response
from tollgate.edge.auth import sdk_principal
from tollgate.edge.views import allowance_view, lease_view
from tollgate.holds.service_allowances import DEFAULT_TTL_S, MAX_TTL_S, MIN_TTL_S

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger)
snapstart.install()  # SnapStart (template.yaml): reseed and refresh after each restore


@app.post("/v1/consume")
def consume() -> Response:
    event = app.current_event.raw_event
    minimal = requests.prefers_minimal(event)  # the SDK's hot path: no balance_after, one DynamoDB write
    caller = sdk_principal(event, from_memory=minimal)
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=limits.FEATURE_MAX)
    quantity = fields.integer("quantity", required=False, minimum=1, maximum=limits.MAX_CONSUME_QUANTITY) or 1
    action_id = fields.text("action_id", required=False, max_length=limits.ID_MAX)
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    if action_id is not None:  # redeem an approved action: charged from its hold, not evaluated again
        if caller.key_from_memory:
            caller = sdk_principal(event)  # the redemption's write does not prove the key itself: read it
        status, body = services.action_service().redeem(caller, action_id, feature, quantity, key, minimal)
    else:
        status, body = services.pool_service().consume(caller, feature, quantity, key, minimal=minimal)
    metrics.add_metric(name="TokensConsumed", unit=MetricUnit.Count, value=int(body.get("charged", 0)))
    return json_response(status, body)


@app.post("/v1/leases")
def open_lease() -> Response:
    event = app.current_event.raw_event
    caller = sdk_principal(event)
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=limits.FEATURE_MAX)
    duration_s = fields.integer("duration_s", minimum=1, maximum=limits.MAX_LEASE_S)
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
    extend_s = fields.integer("extend_s", required=False, minimum=1, maximum=limits.MAX_LEASE_S)
    fields.done()
    lease = services.lease_service().heartbeat(caller, lease_id, extend_s)
    return json_response(200, {"lease": lease_view(lease)})


@app.delete("/v1/leases/<lease_id>")
def close_lease(lease_id: str) -> Response:
    caller = sdk_principal(app.current_event.raw_event, winding_down=True)  # a check-in is never refused
    lease = services.lease_service().close(caller, lease_id)
    return json_response(200, {"lease": lease_view(lease)})


@app.post("/v1/allowances")
def open_allowance() -> Response:
    event = app.current_event.raw_event
    caller = sdk_principal(event)
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=limits.FEATURE_MAX)
    tokens = fields.integer("tokens", minimum=1, maximum=limits.MAX_TOKENS)
    ttl_s = fields.integer("ttl_s", required=False, minimum=MIN_TTL_S, maximum=MAX_TTL_S) or DEFAULT_TTL_S
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    status, allowance = services.allowance_service().open(caller, feature, tokens, ttl_s, key)
    return json_response(status, {"allowance": allowance_view(allowance)})


@app.post("/v1/allowances/<allowance_id>/settle")
def settle_allowance(allowance_id: str) -> Response:
    event = app.current_event.raw_event
    caller = sdk_principal(event, winding_down=True)  # a report is never refused
    fields = requests.json_object(event)
    used = fields.integer("used", minimum=0, maximum=limits.MAX_TOKENS)
    final, renew = fields.flag("final"), fields.flag("renew")
    fields.done()
    if renew:  # a renewal holds more: the key must be one that may spend now
        caller = sdk_principal(event)
    allowance = services.allowance_service().settle(caller, allowance_id, used, final, renew)
    return json_response(200, {"allowance": allowance_view(allowance)})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
