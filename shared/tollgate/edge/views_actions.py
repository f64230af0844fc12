"""How an action looks in API answers (``ActionView``). Times are ISO-8601 UTC strings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tollgate.edge.views import iso

if TYPE_CHECKING:
    from tollgate.approvals.rules_actions import Action


def action_view(action: Action) -> dict[str, Any]:
    terms = action.terms
    return {
        "id": action.id,
        "action": action.name,
        "status": action.status.value,
        "rule_id": action.rule_id,
        "policy_version": action.policy_version,
        "requester": action.requester,
        "feature": action.feature,
        "quantity": action.quantity,
        "tokens": action.tokens,
        "held": action.held,
        "charged": action.charged,
        "project_id": action.project_id,
        "environment": action.environment,
        "region": action.region,
        "reason": action.reason,
        "attributes": dict(action.attributes),
        "quorum": action.quorum,
        "approvals": action.approvals,
        "approvers": None if terms is None else terms.approvers.as_dict(),
        "escalate_to": None if terms is None or terms.escalate_to is None else terms.escalate_to.as_dict(),
        "escalated": action.escalated,
        "reviews": [review.as_dict() | {"at": iso(review.at)} for review in action.reviews],
        "break_glass": action.break_glass,
        "created_at": iso(action.created_at),
        "expires_at": iso(action.expires_at),
        "escalates_at": iso(action.escalates_at),
        "grant_expires_at": iso(action.grant_expires_at),
        "resolved_at": iso(action.resolved_at),
        "entry_id": action.entry_id,
    }
