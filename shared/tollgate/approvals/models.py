"""Actions and their reviews (``/v1/actions``): the request bodies, bounded beside their fields, and the
answers. The action's fields reuse the policy's shapes (an action is what a rule matches)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from tollgate.approvals.models_policy import ActionName, Attributes, Environment, ProjectId, check_attributes
from tollgate.core import limits
from tollgate.core.schema import AnswerModel, RequestModel, Timestamp, example
from tollgate.keys.models import Feature
from tollgate.tenancy.models import Region

Quantity = Annotated[int, Field(ge=1, le=limits.MAX_CONSUME_QUANTITY, description="Uses of the feature, 1…10^15.")]
Reason = Annotated[str, Field(min_length=1, max_length=limits.REASON_MAX, pattern=limits.TEXT_PATTERN)]
Comment = Annotated[str, Field(max_length=limits.REASON_MAX, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
StatusName = Literal["pending", "approved", "denied", "expired", "cancelled", "redeemed"]


class ActionBody(RequestModel):
    """What the requester asks for. With a ``feature``, the action holds ``quantity`` uses' worth of tokens
    while it is pending or approved; ``POST /v1/consume`` with its ``action_id`` spends them once."""

    model_config = example(
        {
            "action": "deploy",
            "feature": "deploy",
            "quantity": 1,
            "environment": "production",
            "reason": "Release 2.4 to production",
        }
    )

    action: ActionName
    feature: Feature | None = None
    quantity: Quantity | None = Field(default=None, description="Uses of `feature` (1 when absent).")
    project_id: ProjectId | None = None
    environment: Environment | None = None
    region: Region | None = None
    reason: Reason | None = None
    attributes: Attributes = Field(default_factory=dict)
    break_glass: bool = Field(
        default=False, description="Proceed at once, flagged, if the matching rule allows break-glass for this key."
    )

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, attributes: dict[str, Any]) -> dict[str, Any]:
        check_attributes(attributes)
        return attributes


class ReviewBody(RequestModel):
    model_config = example({"decision": "approve", "comment": "Checked the release notes."})

    decision: Literal["approve", "deny"]
    comment: Comment = ""


class ApproversView(AnswerModel):
    roles: list[str]
    api_key_ids: list[str]


class ReviewView(AnswerModel):
    key_id: str
    role: str | None
    decision: Literal["approve", "deny"]
    comment: str
    at: Timestamp | None
    escalation: bool = Field(description="Reviewed as one of `escalate_to` (after escalation).")


class ActionView(AnswerModel):
    id: str
    action: str
    status: StatusName
    rule_id: str | None = Field(description="The rule that decided; null when the policy's default did.")
    policy_version: int
    requester: str = Field(description="The key that asked: `license_key:lk_…` or `api_key:ak_…`.")
    feature: str | None
    quantity: int
    tokens: int = Field(description="What the action costs in full: quantity × the feature's cost when asked.")
    held: int = Field(description="Tokens held now (pending or approved), else 0.")
    charged: int = Field(description="What the redemption charged.")
    project_id: str | None
    environment: str | None
    region: str | None
    reason: str | None
    attributes: dict[str, Any]
    quorum: int | None
    approvals: int
    approvers: ApproversView | None
    escalate_to: ApproversView | None
    escalated: bool
    reviews: list[ReviewView]
    break_glass: bool
    created_at: Timestamp | None
    expires_at: Timestamp | None = Field(description="Pending: when it expires unless decided.")
    escalates_at: Timestamp | None
    grant_expires_at: Timestamp | None = Field(description="Approved: redeem before this, or the hold is released.")
    resolved_at: Timestamp | None
    entry_id: str | None = Field(description="The ledger entry of the redemption.")


class ActionAnswer(AnswerModel):
    action: ActionView


class ActionsAnswer(AnswerModel):
    actions: list[ActionView] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
