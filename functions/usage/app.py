"""The SDK's spending routes: consume tokens for a feature, and (with the leases issue) hold them for a run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.http import requests
from tollgate.http.app import build_resolver, json_response
from tollgate.http.auth import sdk_principal
from tollgate.logs import get_logger

logger = get_logger()
app = build_resolver(logger)


@app.post("/v1/consume")
def consume() -> Response:
    event = app.current_event.raw_event
    caller = sdk_principal(event)
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=64)
    quantity = fields.integer("quantity", required=False, minimum=1, maximum=1_000_000) or 1
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    status, body = services.pool_service().consume(caller, feature, quantity, key)
    return json_response(status, body)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
