"""``POST /v1/consume``, the SDK's spending route (the usage function). Parsed by hand (``tollgate.edge.requests``,
tested against ``tollgate.edge.contract.sdk``): the hot path loads no pydantic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from tollgate.core import limits
from tollgate.core.roles import Permission
from tollgate.edge import requests
from tollgate.edge.app import json_response
from tollgate.edge.auth import Credential
from tollgate.edge.routing import CapabilityRouter, principal

if TYPE_CHECKING:
    from tollgate.approvals.service import ActionService
    from tollgate.pool.service import PoolService


class SpendingServices(Protocol):
    def pool_service(self) -> PoolService: ...
    def action_service(self) -> ActionService: ...


router: CapabilityRouter[SpendingServices] = CapabilityRouter(Credential.SDK)
metrics = Metrics()  # Powertools' metrics are one set per process: the function's handler flushes them


@router.post("/v1/consume", permission=Permission.CONSUME, credential=Credential.SDK_REMEMBERED)
def consume() -> Response:
    event = router.current_event.raw_event
    minimal = requests.prefers_minimal(event)  # the SDK's hot path: no balance_after, one DynamoDB write
    caller = principal()  # with Prefer: return=minimal, a license key read recently is taken from memory
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=limits.FEATURE_MAX)
    quantity = fields.integer("quantity", required=False, minimum=1, maximum=limits.MAX_CONSUME_QUANTITY) or 1
    action_id = fields.text("action_id", required=False, max_length=limits.ID_MAX)
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    services = router.services
    if action_id is not None:  # redeem an approved action: charged from its hold, not evaluated again
        caller = principal(fresh=True)  # the redemption's write does not prove a remembered key itself: read it
        status, body = services.action_service().redeem(caller, action_id, feature, quantity, key, minimal)
    else:
        status, body = services.pool_service().consume(caller, feature, quantity, key, minimal=minimal)
    metrics.add_metric(name="TokensConsumed", unit=MetricUnit.Count, value=int(body.get("charged", 0)))
    return json_response(status, body)
