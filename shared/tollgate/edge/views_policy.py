"""How a policy, a decision and a decision record look in API answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tollgate.approvals.rules import Approval, Decision, Policy, policy_document

if TYPE_CHECKING:
    from tollgate.approvals.rules_decisions import DecisionRecord


def policy_view(policy: Policy) -> dict[str, Any]:
    return {"version": policy.version, **policy_document(policy)}


def etag(version: int) -> str:
    return f'"{version}"'


def _approval_view(approval: Approval | None) -> dict[str, Any] | None:
    if approval is None:
        return None
    view: dict[str, Any] = {
        "approvers": {"roles": list(approval.approvers.roles), "api_key_ids": list(approval.approvers.api_key_ids)},
        "quorum": approval.quorum,
        "timeout_s": approval.timeout_s,
        "grant_ttl_s": approval.grant_ttl_s,
    }
    if approval.escalate_after_s is not None:
        view["escalate_after_s"] = approval.escalate_after_s
    if approval.escalate_to is not None:
        view["escalate_to"] = {
            "roles": list(approval.escalate_to.roles),
            "api_key_ids": list(approval.escalate_to.api_key_ids),
        }
    return view


def decision_view(decision: Decision) -> dict[str, Any]:
    return {
        "effect": decision.effect.value,
        "rule_id": decision.rule_id,
        "policy_version": decision.policy_version,
        "matched_fields": list(decision.matched_fields),
        "condition": decision.condition,
        "condition_error": decision.condition_error,
        "break_glass_allowed": decision.break_glass_allowed,
        "approval": _approval_view(decision.approval),
        "rules": [
            {
                "rule_id": trace.rule_id,
                "matched": trace.matched,
                "fields": dict(trace.fields),
                "condition": trace.condition,
                "condition_error": trace.condition_error,
            }
            for trace in decision.trace
        ],
    }


def record_view(record: DecisionRecord) -> dict[str, Any]:
    """Exactly the stored fields (``at`` in seconds since the epoch), so anyone can recompute the hashes."""
    return record.fields()
