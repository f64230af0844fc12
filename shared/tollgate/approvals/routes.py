"""The routes of actions and their reviews, served by the Approvals function (``app.include_router``).

Asking and reading take a license key (the vendor SDK) or an API key; reviews take an API key. Each
route authenticates in one call, reads its request model (validated by Powertools), calls one service
method and answers its answer model. ``POST /v1/actions`` answers 200 (approved) or 202 (pending)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from tollgate import services
from tollgate.approvals.models import ActionAnswer, ActionBody, ActionsAnswer, ReviewBody
from tollgate.approvals.rules_actions import ActionStatus, ReviewDecision
from tollgate.approvals.service import Ask, reviewer_of
from tollgate.core import limits
from tollgate.core.models import Principal
from tollgate.edge.auth import any_principal  # (tests replace it)
from tollgate.edge.contract.answers import API_KEY, LICENSE_KEY
from tollgate.edge.refusals import answers
from tollgate.edge.views_actions import action_view

router = Router()
EITHER_KEY: list[dict[str, list[str]]] = [{LICENSE_KEY: []}, {API_KEY: []}]
API_KEY_ONLY: list[dict[str, list[str]]] = [{API_KEY: []}]
TAGS = ["approvals"]

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=limits.IDEMPOTENCY_KEY_MAX,
        pattern=limits.IDEMPOTENCY_KEY_PATTERN,
        description="The same key replays the first answer for 24 hours.",
    ),
]
PageLimit = Annotated[
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

_PENDING: dict[str, Any] = {
    "description": "Pending: sent to the approvers; its tokens are held until it is decided.",
    "content": {"application/json": {"model": ActionAnswer}},
}


REQUEST_ANSWERS: dict[int, Any] = {**answers(200, ActionAnswer, 400, 401, 402, 403, 409), 202: _PENDING}


def caller(winding_down: bool = False) -> Principal:
    event = router.current_event.raw_event
    return any_principal(event, winding_down=True) if winding_down else any_principal(event)


def _answer(status: int, action: Any) -> Response[Any]:
    body = ActionAnswer.model_validate({"action": action_view(action)})
    return Response(status_code=status, content_type="application/json", body=body.model_dump_json())


@router.post(
    "/v1/actions",
    security=EITHER_KEY,
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
    status, action = services.action_service().request(caller(), ask, idempotency_key)
    return _answer(status, action)


@router.get("/v1/actions", security=EITHER_KEY, responses=answers(200, ActionsAnswer, 401, 403), tags=TAGS)
def list_actions(
    status: StatusFilter = None, reviewable: Reviewable = None, limit: PageLimit = None, cursor: Cursor = None
) -> ActionsAnswer:
    size = limits.PAGE_LIMIT_DEFAULT if limit is None else int(limit)
    found, next_cursor = services.action_service().page(
        caller(), None if status is None else ActionStatus(status), reviewable == "true", cursor, size
    )
    return ActionsAnswer.model_validate({"actions": [action_view(a) for a in found], "next_cursor": next_cursor})


@router.get(
    "/v1/actions/<action_id>", security=EITHER_KEY, responses=answers(200, ActionAnswer, 401, 403, 404), tags=TAGS
)
def get_action(action_id: str) -> ActionAnswer:
    action = services.action_service().get(caller(), action_id)
    return ActionAnswer.model_validate({"action": action_view(action)})


@router.delete(
    "/v1/actions/<action_id>",
    security=EITHER_KEY,
    responses=answers(200, ActionAnswer, 401, 403, 404, 409),
    tags=TAGS,
    summary="Cancel a pending or approved action: its hold is released.",
)
def cancel_action(action_id: str) -> ActionAnswer:
    action = services.action_service().cancel(caller(winding_down=True), action_id)  # never refused
    return ActionAnswer.model_validate({"action": action_view(action)})


@router.post(
    "/v1/actions/<action_id>/reviews",
    security=API_KEY_ONLY,
    responses=answers(200, ActionAnswer, 400, 401, 403, 404, 409),
    tags=TAGS,
    summary="Approve or deny, as one of the approvers the action's rule names.",
)
def review_action(action_id: str, body: ReviewBody) -> ActionAnswer:
    who = caller()
    reviewer_of(who)  # only API keys review: a license key is refused before anything is read
    action = services.action_service().review(who, action_id, ReviewDecision(body.decision), body.comment)
    return ActionAnswer.model_validate({"action": action_view(action)})
