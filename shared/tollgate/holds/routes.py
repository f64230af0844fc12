"""The SDK's holds (the usage function): leases for a run, allowances drawn down locally and settled. Parsed
by hand (``tollgate.edge.requests``, tested against ``tollgate.edge.contract.sdk``): no pydantic on the
hot path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools.event_handler import Response

from tollgate.core import limits
from tollgate.core.roles import Permission
from tollgate.edge import requests
from tollgate.edge.app import json_response
from tollgate.edge.auth import Credential
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.edge.views import allowance_view, lease_view
from tollgate.holds.service_allowances import DEFAULT_TTL_S, MAX_TTL_S, MIN_TTL_S

if TYPE_CHECKING:
    from tollgate.holds.service_allowances import AllowanceService
    from tollgate.holds.service_leases import LeaseService


class HoldServices(Protocol):
    def lease_service(self) -> LeaseService: ...
    def allowance_service(self) -> AllowanceService: ...


router: CapabilityRouter[HoldServices] = CapabilityRouter(Credential.SDK)


@router.post("/v1/leases", permission=Permission.CONSUME)
def open_lease() -> Response:
    event = router.current_event.raw_event
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=limits.FEATURE_MAX)
    duration_s = fields.integer("duration_s", minimum=1, maximum=limits.MAX_LEASE_S)
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    status, lease = router.services.lease_service().open(principal(), feature, duration_s, key)
    return json_response(status, {"lease": lease_view(lease)})


@router.post("/v1/leases/<lease_id>/heartbeat", permission=Permission.CONSUME)
def heartbeat_lease(lease_id: str) -> Response:
    fields = requests.json_object(router.current_event.raw_event, allow_empty=True)
    extend_s = fields.integer("extend_s", required=False, minimum=1, maximum=limits.MAX_LEASE_S)
    fields.done()
    lease = router.services.lease_service().heartbeat(principal(), lease_id, extend_s)
    return json_response(200, {"lease": lease_view(lease)})


# Winding down is never refused (SPEC.md, "Spending: one pipeline"): a check-in and a report take the key of a
# suspended tenant, a revoked or expired key, and charge only what was used.
@router.delete("/v1/leases/<lease_id>", permission=Permission.CONSUME, credential=Credential.WIND_DOWN)
def close_lease(lease_id: str) -> Response:
    lease = router.services.lease_service().close(principal(), lease_id)
    return json_response(200, {"lease": lease_view(lease)})


@router.post("/v1/allowances", permission=Permission.CONSUME)
def open_allowance() -> Response:
    event = router.current_event.raw_event
    fields = requests.json_object(event)
    feature = fields.text("feature", max_length=limits.FEATURE_MAX)
    tokens = fields.integer("tokens", minimum=1, maximum=limits.MAX_TOKENS)
    ttl_s = fields.integer("ttl_s", required=False, minimum=MIN_TTL_S, maximum=MAX_TTL_S) or DEFAULT_TTL_S
    fields.done()
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    status, allowance = router.services.allowance_service().open(principal(), feature, tokens, ttl_s, key)
    return json_response(status, {"allowance": allowance_view(allowance)})


@router.post("/v1/allowances/<allowance_id>/settle", permission=Permission.CONSUME, credential=Credential.WIND_DOWN)
def settle_allowance(allowance_id: str) -> Response:
    fields = requests.json_object(router.current_event.raw_event)
    used = fields.integer("used", minimum=0, maximum=limits.MAX_TOKENS)
    final, renew = fields.flag("final"), fields.flag("renew")
    fields.done()
    caller = principal(spending=renew)  # a renewal holds the block anew: a spend, by a key that may spend now
    allowance = router.services.allowance_service().settle(caller, allowance_id, used, final, renew)
    return json_response(200, {"allowance": allowance_view(allowance)})
