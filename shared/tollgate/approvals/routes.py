"""Just-in-time approvals (the approvals function): the tenant's action policy, its simulator and the
decision log (API keys), and actions with their reviews.

Asking and reading actions take a license key (the vendor SDK) or an API key; who may read, cancel or
review one is the action's business (its requester, the approvers its rule names), so those routes are
``RESOURCE`` and the service decides. ``POST /v1/actions`` answers 200 (approved) or 202 (pending)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from tollgate.approvals.models import ActionAnswer, ActionBody, ActionsAnswer, ReviewBody
from tollgate.approvals.models_decisions import DecisionsAnswer
from tollgate.approvals.models_policy import PolicyAnswer, PolicyBody, SimulationAnswer, SimulationBody
from tollgate.approvals.rules_actions import ActionStatus, ReviewDecision
from tollgate.approvals.service import Ask, reviewer_of
from tollgate.approvals.service_policy import simulation_request
from tollgate.core import limits
from tollgate.core.errors import PreconditionRequired
from tollgate.core.logs import get_logger
from tollgate.core.roles import Permission
from tollgate.edge.auth import Credential
from tollgate.edge.contract.answers import API_KEY
from tollgate.edge.params import IdempotencyKey
from tollgate.edge.refusals import answers
from tollgate.edge.routing import RESOURCE, CapabilityRouter, principal
from tollgate.edge.views_actions import action_view
from tollgate.edge.views_policy import decision_view, etag, policy_view, record_view

if TYPE_CHECKING:
    from tollgate.approvals.rules_decisions import DecisionLogService
    from tollgate.approvals.service import ActionService
    from tollgate.approvals.service_policy import PolicyService


class ApprovalServices(Protocol):
    def policy_service(self) -> PolicyService: ...
    def decision_log(self) -> DecisionLogService: ...
    def action_service(self) -> ActionService: ...


router: CapabilityRouter[ApprovalServices] = CapabilityRouter()
actions: CapabilityRouter[ApprovalServices] = CapabilityRouter(Credential.EITHER)
logger = get_logger()
TAGS = ["approvals"]

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=24,
        pattern=limits.IF_MATCH_PATTERN,
        description='The version the new policy replaces, as GET\'s ETag gives it ("0" before the first PUT).',
    ),
]
RecordsPerPage = Annotated[
    str | None,
    Query(pattern=limits.PAGE_LIMIT_PATTERN, description=f"Records per page, 1 to {limits.PAGE_LIMIT_MAX}."),
]
ActionsPerPage = Annotated[
    str | None,
    Query(pattern=limits.PAGE_LIMIT_PATTERN, description=f"Actions per page, 1 to {limits.PAGE_LIMIT_MAX}."),
]
Cursor = Annotated[str | None, Query(max_length=limits.CURSOR_MAX, description="`next_cursor` of the last page.")]
StatusFilter = Annotated[
    str | None,
    Query(pattern="^(pending|approved|denied|expired|cancelled|redeemed)$", description="Only actions in this status."),
]
Reviewable = Annotated[
    str | None,
    Query(pattern="^(true|false)$", description="`true`: only what the calling API key may review now (its queue)."),
]

_NDJSON: Any = {
    "description": "Every record, one JSON object a line, oldest first.",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
}
_PENDING: dict[str, Any] = {
    "description": "Pending: sent to the approvers; its tokens are held until it is decided.",
    "content": {"application/json": {"model": ActionAnswer}},
}
REQUEST_ANSWERS: dict[int, Any] = {**answers(200, ActionAnswer, 400, 401, 402, 403, 404, 409), 202: _PENDING}


def _size(limit: str | None) -> int:
    return limits.PAGE_LIMIT_DEFAULT if limit is None else int(limit)


# --- the policy and the decision log ------------------------------------------------------------------


def _policy_response(answer: PolicyAnswer, version: int) -> Response[PolicyAnswer]:
    return Response(status_code=200, content_type="application/json", body=answer, headers={"ETag": etag(version)})


@router.get("/v1/policy", permission=Permission.READ_POLICY, responses=answers(200, PolicyAnswer, 401, 403), tags=TAGS)
def get_policy() -> Response[PolicyAnswer]:
    policy = router.services.policy_service().get(principal())
    return _policy_response(PolicyAnswer.model_validate({"policy": policy_view(policy)}), policy.version)


@router.put(
    "/v1/policy",
    permission=Permission.MANAGE_POLICY,
    responses=answers(200, PolicyAnswer, 400, 401, 403, 412, 428),
    tags=TAGS,
    summary="Replace the policy (If-Match: the version it replaces).",
)
def put_policy(body: PolicyBody, if_match: IfMatch = None) -> Response[PolicyAnswer]:
    if if_match is None:
        raise PreconditionRequired("send If-Match with the version this policy replaces (GET /v1/policy's ETag)")
    version = int(if_match.removeprefix("W/").strip('"'))
    policy = router.services.policy_service().put(principal(), body.document(), version)
    logger.info("policy replaced", extra={"policy_version": policy.version})
    return _policy_response(PolicyAnswer.model_validate({"policy": policy_view(policy)}), policy.version)


@router.post(
    "/v1/policy/simulate",
    permission=Permission.READ_POLICY,
    responses=answers(200, SimulationAnswer, 400, 401, 403),
    tags=TAGS,
    summary="What the policy would decide on a request, and why; nothing is written.",
)
def simulate_policy(body: SimulationBody) -> SimulationAnswer:
    caller = principal()
    fields = body.model_dump()
    if fields.get("role") is not None:
        fields["role"] = body.role.value if body.role else None
    decision = router.services.policy_service().simulate(caller, simulation_request(caller, fields))
    return SimulationAnswer.model_validate({"decision": decision_view(decision)})


@router.get(
    "/v1/decisions",
    permission=Permission.READ_DECISIONS,
    responses=answers(200, DecisionsAnswer, 401, 403),
    tags=TAGS,
    summary="The decision log, oldest first (the chain's order).",
)
def list_decisions(limit: RecordsPerPage = None, cursor: Cursor = None) -> DecisionsAnswer:
    page = router.services.decision_log().page(principal(), cursor, _size(limit))
    return DecisionsAnswer.model_validate(
        {"decisions": [record_view(r) for r in page.records], "next_cursor": page.cursor}
    )


@router.get(
    "/v1/decisions/export",
    permission=Permission.READ_DECISIONS,
    responses={**answers(200, None, 401, 403), 200: _NDJSON},
    tags=TAGS,
    summary="The whole decision log as JSON Lines.",
)
def export_decisions() -> Response[str]:
    records = router.services.decision_log().all(principal())
    lines = (json.dumps(record_view(r), separators=(",", ":"), ensure_ascii=False) for r in records)
    return Response(status_code=200, content_type="application/x-ndjson", body="".join(line + "\n" for line in lines))


# --- actions and their reviews ------------------------------------------------------------------------


def _answer(status: int, action: Any) -> Response[Any]:
    body = ActionAnswer.model_validate({"action": action_view(action)})
    return Response(status_code=status, content_type="application/json", body=body.model_dump_json())


@actions.post(
    "/v1/actions",
    permission=Permission.CONSUME,
    responses=REQUEST_ANSWERS,
    tags=TAGS,
    summary="Ask the tenant's policy before acting.",
)
def request_action(body: ActionBody, idempotency_key: IdempotencyKey) -> Response[Any]:
    ask = Ask(
        action=body.action,
        feature=body.feature,
        quantity=body.quantity,
        project_id=body.project_id,
        environment=body.environment,
        region=body.region,
        reason=body.reason,
        attributes=dict(body.attributes),
        break_glass=body.break_glass,
    )
    status, action = actions.services.action_service().request(principal(), ask, idempotency_key)
    return _answer(status, action)


@actions.get("/v1/actions", permission=RESOURCE, responses=answers(200, ActionsAnswer, 401, 403), tags=TAGS)
def list_actions(
    status: StatusFilter = None, reviewable: Reviewable = None, limit: ActionsPerPage = None, cursor: Cursor = None
) -> ActionsAnswer:
    found, next_cursor = actions.services.action_service().page(
        principal(), None if status is None else ActionStatus(status), reviewable == "true", cursor, _size(limit)
    )
    return ActionsAnswer.model_validate({"actions": [action_view(a) for a in found], "next_cursor": next_cursor})


@actions.get(
    "/v1/actions/<action_id>", permission=RESOURCE, responses=answers(200, ActionAnswer, 401, 403, 404), tags=TAGS
)
def get_action(action_id: str) -> ActionAnswer:
    action = actions.services.action_service().get(principal(), action_id)
    return ActionAnswer.model_validate({"action": action_view(action)})


@actions.delete(
    "/v1/actions/<action_id>",
    permission=RESOURCE,
    credential=Credential.WIND_DOWN,  # cancelling is never refused: a suspended tenant's or revoked key's too
    responses=answers(200, ActionAnswer, 401, 403, 404, 409),
    tags=TAGS,
    summary="Cancel a pending or approved action: its hold is released.",
)
def cancel_action(action_id: str) -> ActionAnswer:
    action = actions.services.action_service().cancel(principal(), action_id)
    return ActionAnswer.model_validate({"action": action_view(action)})


@actions.post(
    "/v1/actions/<action_id>/reviews",
    permission=RESOURCE,
    security=[{API_KEY: []}],
    responses=answers(200, ActionAnswer, 400, 401, 403, 404, 409),
    tags=TAGS,
    summary="Approve or deny, as one of the approvers the action's rule names.",
)
def review_action(action_id: str, body: ReviewBody) -> ActionAnswer:
    who = principal()
    reviewer_of(who)  # only API keys review: a license key is refused before anything is read
    action = actions.services.action_service().review(who, action_id, ReviewDecision(body.decision), body.comment)
    return ActionAnswer.model_validate({"action": action_view(action)})
