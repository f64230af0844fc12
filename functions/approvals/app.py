"""Just-in-time approvals: the tenant's action policy, its simulator and the decision log (and, with the
actions work, actions and their reviews). Portal-side: Powertools validates against the pydantic models,
which also document the routes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.approvals.models_decisions import DecisionsAnswer
from tollgate.approvals.models_policy import PolicyAnswer, PolicyBody, SimulationAnswer, SimulationBody
from tollgate.approvals.routes import router as action_router
from tollgate.approvals.service_policy import simulation_request
from tollgate.core import limits
from tollgate.core.errors import PreconditionRequired
from tollgate.core.logs import get_logger
from tollgate.core.models import Principal
from tollgate.core.roles import Permission, authorize
from tollgate.edge.app import build_resolver
from tollgate.edge.auth import portal_principal
from tollgate.edge.contract.answers import API_KEY
from tollgate.edge.refusals import answers
from tollgate.edge.views_policy import decision_view, etag, policy_view, record_view

logger = get_logger()
app = build_resolver(logger, validation=True)
SECURITY: list[dict[str, list[str]]] = [{API_KEY: []}]

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=24,
        pattern=limits.IF_MATCH_PATTERN,
        description='The version the new policy replaces, as GET\'s ETag gives it ("0" before the first PUT).',
    ),
]
PageLimit = Annotated[
    str | None,
    Query(pattern=limits.PAGE_LIMIT_PATTERN, description=f"Records per page, 1 to {limits.PAGE_LIMIT_MAX}."),
]
Cursor = Annotated[str | None, Query(max_length=limits.CURSOR_MAX, description="`next_cursor` of the last page.")]


_NDJSON: Any = {
    "description": "Every record, one JSON object a line, oldest first.",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
}


def principal(permission: Permission) -> Principal:
    """The caller, if its credential may do ``permission``."""
    caller = portal_principal(app.current_event.raw_event)
    logger.append_keys(tenant_id=caller.tenant_id, key_id=caller.key_id)
    authorize(caller, permission)
    return caller


def _policy_response(answer: PolicyAnswer, version: int) -> Response[PolicyAnswer]:
    return Response(status_code=200, content_type="application/json", body=answer, headers={"ETag": etag(version)})


@app.get("/v1/policy", security=SECURITY, responses=answers(200, PolicyAnswer, 401, 403), tags=["approvals"])
def get_policy() -> Response[PolicyAnswer]:
    caller = principal(Permission.READ_POLICY)
    policy = services.policy_service().get(caller)
    return _policy_response(PolicyAnswer.model_validate({"policy": policy_view(policy)}), policy.version)


@app.put(
    "/v1/policy",
    security=SECURITY,
    responses=answers(200, PolicyAnswer, 400, 401, 403, 412, 428),
    tags=["approvals"],
    summary="Replace the policy (If-Match: the version it replaces).",
)
def put_policy(body: PolicyBody, if_match: IfMatch = None) -> Response[PolicyAnswer]:
    caller = principal(Permission.MANAGE_POLICY)
    if if_match is None:
        raise PreconditionRequired("send If-Match with the version this policy replaces (GET /v1/policy's ETag)")
    version = int(if_match.removeprefix("W/").strip('"'))
    policy = services.policy_service().put(caller, body.document(), version)
    logger.info("policy replaced", extra={"policy_version": policy.version})
    return _policy_response(PolicyAnswer.model_validate({"policy": policy_view(policy)}), policy.version)


@app.post(
    "/v1/policy/simulate",
    security=SECURITY,
    responses=answers(200, SimulationAnswer, 400, 401, 403),
    tags=["approvals"],
    summary="What the policy would decide on a request, and why; nothing is written.",
)
def simulate_policy(body: SimulationBody) -> SimulationAnswer:
    caller = principal(Permission.READ_POLICY)
    fields = body.model_dump()
    if fields.get("role") is not None:
        fields["role"] = body.role.value if body.role else None
    decision = services.policy_service().simulate(caller, simulation_request(caller, fields))
    return SimulationAnswer.model_validate({"decision": decision_view(decision)})


@app.get(
    "/v1/decisions",
    security=SECURITY,
    responses=answers(200, DecisionsAnswer, 401, 403),
    tags=["approvals"],
    summary="The decision log, oldest first (the chain's order).",
)
def list_decisions(limit: PageLimit = None, cursor: Cursor = None) -> DecisionsAnswer:
    caller = principal(Permission.READ_DECISIONS)
    size = limits.PAGE_LIMIT_DEFAULT if limit is None else int(limit)
    page = services.decision_log().page(caller, cursor, size)
    return DecisionsAnswer.model_validate(
        {"decisions": [record_view(r) for r in page.records], "next_cursor": page.cursor}
    )


@app.get(
    "/v1/decisions/export",
    security=SECURITY,
    responses={**answers(200, None, 401, 403), 200: _NDJSON},
    tags=["approvals"],
    summary="The whole decision log as JSON Lines.",
)
def export_decisions() -> Response[str]:
    caller = principal(Permission.READ_DECISIONS)
    records = services.decision_log().all(caller)
    lines = (json.dumps(record_view(r), separators=(",", ":"), ensure_ascii=False) for r in records)
    return Response(status_code=200, content_type="application/x-ndjson", body="".join(line + "\n" for line in lines))


app.include_router(action_router)  # /v1/actions and its reviews


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
